// A test that fails when learning breaks: a fixed-seed supervised run through the real CLI
// (`aslseg synth`, `aslseg train`, the test split scored as `aslseg evaluate` does) must find
// the tumour on held-out phantoms. The recipe is the demo's in small: native resolution, patch
// training with tumour-centred draws, instance norm, a liver-soft-tissue window.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/test_util.h"

namespace aslseg {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::read_text;
using testing::run_cli;

// Measured on this configuration (2026-12-06, 2-core CPU, 8 s): mean tumour Dice 0.218 over
// the test cases with tumour with one thread as ctest runs it (0.000 on the case whose only
// lesion is isodense, 0.26 and 0.39 on the others; 0.253 with two threads), liver 0.882. The
// thresholds keep a margin for other CPUs' rounding; a net that stops learning the tumour
// scores about 0 (300 steps of width 8: 0.04).
constexpr double kMinTumourDice = 0.15;
constexpr double kMinLiverDice = 0.8;

json learning_config() {
  return {{"seed", 7},
          {"device", "cpu"},
          {"model", {{"base_width", 16}, {"depth", 3}, {"norm", "instance"}, {"dropout", 0.0}}},
          {"preprocess",
           {{"context", 1}, {"image_size", 48}, {"window", {{"level", 60}, {"width", 250}}}}},
          {"data", {{"workers", 1}, {"patch_size", 32}, {"tumour_slice_fraction", 0.5}}},
          {"ssl", {{"paradigm", "supervised"}}},
          {"optim",
           {{"lr", 0.003},
            {"steps", 500},
            {"batch_labelled", 4},
            {"checkpoint_every", 500},
            {"validate_every", 500},
            {"log_every", 50}}},
          {"split", {{"labelled_fraction", 0.5}, {"test_fraction", 0.34}, {"seed", 1}}},
          {"loop", {{"rounds", 0}}}};
}

TEST(LearningCli, SupervisedRunFindsTheTumourOnHeldOutPhantoms) {
  testing::TempDir dir;
  const fs::path data = dir.path() / "data";
  const fs::path config = dir.path() / "learn.json";
  const fs::path run = dir.path() / "run";
  const fs::path log = dir.path() / "log.txt";
  std::ofstream(config) << learning_config().dump(2);
  ASSERT_EQ(run_cli("synth --out " + data.string() +
                        " --cases 10 --size 48,48,16 --spacing 6,6,8 --tumours 1,3"
                        " --tumour-radius 15,35 --seed 5",
                    log),
            0)
      << read_text(log);
  ASSERT_EQ(run_cli("train --config " + config.string() + " --data " + data.string() + " --out " +
                        run.string(),
                    log),
            0)
      << read_text(log);

  const json metrics = json::parse(read_text(run / "ss" / "test_metrics.json"));
  std::vector<double> tumour;
  double liver = 0.0;
  for (const json& c : metrics.at("cases")) {
    const json& t = c.at("classes").at("tumour");
    if (t.at("gt_voxels").get<int64_t>() > 0) tumour.push_back(t.at("dice").get<double>());
    liver += c.at("classes").at("liver").at("dice").get<double>();
  }
  ASSERT_EQ(tumour.size(), 3u) << "the fixed phantom set's test split";
  double mean = 0.0;
  for (double d : tumour) mean += d;
  mean /= static_cast<double>(tumour.size());
  liver /= static_cast<double>(metrics.at("cases").size());
  EXPECT_GE(mean, kMinTumourDice) << read_text(log);
  EXPECT_GE(liver, kMinLiverDice);
}

}  // namespace
}  // namespace aslseg
