// A test that fails when learning breaks: a fixed-seed supervised run through the real CLI
// (`aslseg synth`, `aslseg train`, the test split scored as `aslseg evaluate` does) must find
// the tumour on held-out phantoms. The recipe is the demo's in small: native resolution, patch
// training with tumour-centred draws, instance norm, a liver-soft-tissue window.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aslseg/io/volume_io.h"
#include "aslseg/preprocess/connected_components.h"
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

// The fixed phantom set and the supervised run on it, made for each test: DIR/data, DIR/run,
// DIR/log.txt.
class LearningCli : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path config = dir_.path() / "learn.json";
    std::ofstream(config) << learning_config().dump(2);
    ASSERT_EQ(run_cli("synth --out " + data_.string() +
                          " --cases 10 --size 48,48,16 --spacing 6,6,8 --tumours 1,3"
                          " --tumour-radius 15,35 --seed 5",
                      log_),
              0)
        << read_text(log_);
    ASSERT_EQ(run_cli("train --config " + config.string() + " --data " + data_.string() +
                          " --out " + run_.string(),
                      log_),
              0)
        << read_text(log_);
  }

  testing::TempDir dir_;
  const fs::path data_ = dir_.path() / "data";
  const fs::path run_ = dir_.path() / "run";
  const fs::path log_ = dir_.path() / "log.txt";
};

TEST_F(LearningCli, SupervisedRunFindsTheTumourOnHeldOutPhantoms) {
  const json metrics = json::parse(read_text(run_ / "ss" / "test_metrics.json"));
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
  EXPECT_GE(mean, kMinTumourDice) << read_text(log_);
  EXPECT_GE(liver, kMinLiverDice);
}

// `aslseg component-filter` fitted on the run's labelled cases, then `infer` with and without
// it: the filter only turns whole tumour components of the unfiltered mask into liver.
TEST_F(LearningCli, ComponentFilterRemovesWholeTumourComponents) {
  const fs::path filter = dir_.path() / "filter.json";
  ASSERT_EQ(run_cli("component-filter --model " + run_.string() + " --data " + data_.string() +
                        " --split " + (run_ / "split.json").string() + " --out " + filter.string() +
                        " --min-examples 1",
                    log_),
            0)
      << read_text(log_);
  const json f = json::parse(read_text(filter));
  const json split = json::parse(read_text(run_ / "split.json"));
  EXPECT_EQ(f.at("fit").at("cases"), split.at("labelled").size());
  ASSERT_TRUE(f.at("enabled").get<bool>()) << f.dump(2);
  EXPECT_LE(f.at("fit").at("kept_false_voxels"), f.at("fit").at("false_voxels"));

  const fs::path plain = dir_.path() / "plain", filtered = dir_.path() / "filtered";
  const std::string input = " --input " + data_.string();
  ASSERT_EQ(run_cli("infer --model " + run_.string() + input + " --output " + plain.string(), log_),
            0)
      << read_text(log_);
  ASSERT_EQ(run_cli("infer --model " + run_.string() + input + " --output " + filtered.string() +
                        " --component-filter " + filter.string(),
                    log_),
            0)
      << read_text(log_);
  int64_t removed = 0, kept = 0;
  for (const auto& e : fs::directory_iterator(plain)) {
    SCOPED_TRACE(e.path().filename().string());
    const LabelMap a = io::read_labels(e.path());
    const LabelMap b = io::read_labels(filtered / e.path().filename());
    LabelMap tumour(a.geometry, 0);
    for (size_t i = 0; i < a.voxels.size(); ++i) tumour.voxels[i] = a.voxels[i] == kTumour;
    const preprocess::Components c = preprocess::label_components(tumour);
    std::vector<int64_t> changed(static_cast<size_t>(c.count()) + 1, 0);
    for (size_t i = 0; i < a.voxels.size(); ++i) {
      if (a.voxels[i] == b.voxels[i]) continue;
      ASSERT_EQ(a.voxels[i], kTumour);
      ASSERT_EQ(b.voxels[i], kLiver);
      ++changed[static_cast<size_t>(c.labels[i])];
    }
    for (int32_t k = 1; k <= c.count(); ++k) {
      const int64_t n = changed[static_cast<size_t>(k)];
      EXPECT_TRUE(n == 0 || n == c.sizes[static_cast<size_t>(k)]) << "component " << k;
      (n == 0 ? kept : removed) += 1;
    }
  }
  EXPECT_GT(removed, 0) << "a net of 500 steps predicts false specks; the filter drops some";
  EXPECT_GT(kept, 0);
}

}  // namespace
}  // namespace aslseg
