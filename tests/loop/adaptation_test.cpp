// Stage 3 (loop/adaptation.h) on tiny phantoms with a random tiny SAM standing in for the
// fine-tuned one: training lowers the loss and gives an AN whose tumour Dice on held-out cases
// beats both its own PL2 input and the untrained net; the checkpoint carries the spec and
// reloads into predictors that agree; runs are deterministic for a seed; bad grids and
// checkpoints are refused; the training parameters and CorruptionParams round-trip as JSON.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "aslseg/checkpoint/checkpoint.h"
#include "aslseg/io/error.h"
#include "aslseg/io/volume_io.h"
#include "aslseg/loop/adaptation.h"
#include "aslseg/metrics/binary_metrics.h"
#include "aslseg/models/sam.h"
#include "aslseg/models/sam_config.h"
#include "aslseg/synth/phantom.h"
#include "common/test_util.h"
#include "common/visible_lesions.h"

namespace aslseg::loop {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kRepoRoot = fs::path(ASLSEG_SOURCE_DIR);
constexpr uint64_t kPhantomSeed = 21;
constexpr uint64_t kSamSeed = 0;
constexpr uint64_t kEvalCorruptionSeed = 777;  // held-out PL1: not a training corruption
constexpr int kTrainCases = 6;
constexpr int kHeldOutCases = 3;
constexpr int64_t kSide = 48;
constexpr preprocess::WindowParams kTestWindow{40.0f, 150.0f};
constexpr metrics::LabelRange kTumourOnly{kTumour, kTumour};
// The training run of TrainingLowersLossAndBeatsItsPl2Input and what it must achieve. Measured
// (6 training phantoms, 132 slices, 150 steps, ~8 s on 2 busy cores): loss 1.60 -> 0.82;
// held-out tumour Dice: PL1 (corrupted GT) 0.39, PL2 (random SAM prompted by PL1) 0.024, PL3
// 0.44, untrained net 0.014. With lr 1e-2 PL3 was 0.28 (150 steps) and 0.55 (250 steps): the
// held-out Dice of so short a run swings, so the bar is a clear gain, far below what it got.
constexpr int64_t kTrainSteps = 150;
constexpr int64_t kExpectedSamples = 132;  // liver slices of the 6 cases x 2 corruptions
constexpr double kMaxLossRatio = 0.7;
constexpr double kMinDiceGain = 0.15;

// 48x48 slices at 6 mm, large hypodense lesions (visible to a small net after a short run).
synth::PhantomParams phantom_params() {
  return testing::visible_lesion_params({kSide, kSide, 12}, {6.0, 6.0, 8.0}, 1, 3);
}

// Training cases written to a temporary folder (train_adaptation_net reads files); held-out
// cases kept in memory.
struct Data {
  testing::TempDir dir;
  std::vector<dataset::LabelledCase> train;
  std::vector<synth::Phantom> held_out;

  explicit Data(int train_cases = kTrainCases, int held_out_cases = kHeldOutCases);
};

Data::Data(int train_cases, int held_out_cases) {
  Data& d = *this;
  for (int i = 0; i < train_cases + held_out_cases; ++i) {
    synth::Phantom ph = synth::make_case(phantom_params(), kPhantomSeed, static_cast<uint64_t>(i));
    if (i >= train_cases) {
      d.held_out.push_back(std::move(ph));
      continue;
    }
    const std::string id = "case" + std::to_string(i);
    const fs::path image = d.dir / (id + "_ct.nii.gz"), label = d.dir / (id + "_seg.nii.gz");
    io::write_image(ph.ct, image);
    io::write_labels(ph.labels, label);
    d.train.push_back({id, image, label});
  }
}

sam::SamPredictor random_tiny_sam() {
  torch::manual_seed(kSamSeed);
  models::Sam model(models::load_sam_config(kRepoRoot / "configs/sam/tiny.json"));
  return sam::SamPredictor(model, torch::kCPU);
}

SamStageParams sam_stage_params() {
  SamStageParams s;
  s.window = kTestWindow;
  s.prompts.min_component_pixels = 4;
  return s;
}

AdaptationTrainParams fast_params(int64_t steps) {
  models::UNetOptions unet;
  unet.base_width = 8;
  unet.depth = 3;
  AdaptationTrainParams p;
  p.spec = models::make_adaptation_spec(unet, kTestWindow, 1, kSide, false);
  p.steps = steps;
  p.batch_size = 8;
  p.lr = 3e-3;
  p.log_every = 25;
  p.seed = 3;
  p.device = "cpu";
  return p;
}

// Mean tumour Dice over the held-out cases of PL1 (corrupted ground truth), PL2 (SAM prompted
// by PL1) and PL3 (AN from the checkpoint).
struct HeldOutDice {
  double pl1 = 0.0, pl2 = 0.0, pl3 = 0.0;
};
HeldOutDice held_out_dice(const Data& d, sam::SamPredictor& sam, const fs::path& ckpt) {
  const AdaptationPredictor an(ckpt, "cpu");
  HeldOutDice out;
  for (size_t i = 0; i < d.held_out.size(); ++i) {
    const synth::Phantom& ph = d.held_out[i];
    const LabelMap pl1 = corrupt_volume(ph.labels, CorruptionParams{}, kEvalCorruptionSeed,
                                        "held" + std::to_string(i));
    const LabelMap pl2 = sam_tumour(sam, ph.ct, pl1, sam_stage_params());
    const LabelMap pl3 = an.predict(ph.ct, pl2, pl1);
    out.pl1 += metrics::dice(pl1, ph.labels, kTumourOnly);
    out.pl2 += metrics::dice(pl2, ph.labels, kTumourOnly);
    out.pl3 += metrics::dice(pl3, ph.labels, kTumourOnly);
  }
  const auto n = static_cast<double>(d.held_out.size());
  return {out.pl1 / n, out.pl2 / n, out.pl3 / n};
}

TEST(AdaptationNet, TrainingLowersLossAndBeatsItsPl2Input) {
  const Data d;
  sam::SamPredictor sam = random_tiny_sam();
  testing::TempDir run, untrained_run;
  const AdaptationTrainParams params = fast_params(kTrainSteps);
  const AdaptationTrainResult r =
      train_adaptation_net(d.train, sam, sam_stage_params(), params, run.path());
  // "Untrained": one step at a negligible learning rate (weights as initialised).
  AdaptationTrainParams none = fast_params(1);
  none.lr = 1e-12;
  const AdaptationTrainResult r0 =
      train_adaptation_net(d.train, sam, sam_stage_params(), none, untrained_run.path());
  const HeldOutDice trained = held_out_dice(d, sam, r.checkpoint);
  const HeldOutDice untrained = held_out_dice(d, sam, r0.checkpoint);
  EXPECT_EQ(r.samples, kExpectedSamples);
  EXPECT_LT(r.last_loss, kMaxLossRatio * r.first_loss);
  EXPECT_GT(trained.pl3, trained.pl2 + kMinDiceGain)
      << "PL1 " << trained.pl1 << ", PL2 " << trained.pl2 << ", PL3 " << trained.pl3;
  EXPECT_GT(trained.pl3, untrained.pl3 + kMinDiceGain) << "untrained PL3 " << untrained.pl3;

  const auto lines = testing::read_json_lines(run / kAdaptationLogName);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kTrainSteps / params.log_every));
  for (const char* key : {"step", "loss", "dice", "ce", "lr", "seconds"})
    EXPECT_TRUE(lines.back().contains(key)) << key;
  EXPECT_EQ(lines.back().at("step"), kTrainSteps);
  const json meta = checkpoint::read_meta(r.checkpoint);
  EXPECT_EQ(meta.at(kMetaAdaptationSpec), json(params.spec));
  EXPECT_EQ(meta.at(kMetaAdaptationTrain), json(params));

  // Reloading is exact, whatever torch's generator did before (which decides the random
  // initial weights the load must overwrite).
  const synth::Phantom& ph = d.held_out.front();
  const LabelMap pl2 = sam_tumour(sam, ph.ct, ph.labels, sam_stage_params());
  torch::manual_seed(1);
  const AdaptationPredictor a(r.checkpoint, "cpu");
  torch::manual_seed(2);
  const AdaptationPredictor b(r.checkpoint, "cpu");
  const LabelMap pa = a.predict(ph.ct, pl2, ph.labels);
  EXPECT_EQ(pa.voxels, b.predict(ph.ct, pl2, ph.labels).voxels);
  EXPECT_TRUE(pa.geometry.difference(ph.ct.geometry).empty());
  for (uint8_t v : pa.voxels) ASSERT_TRUE(v == kBackground || v == kTumour);
  // Equal because both loaded the weights, not because both predict nothing.
  EXPECT_GT(std::count(pa.voxels.begin(), pa.voxels.end(), kTumour), 0);
}

TEST(AdaptationNet, DeterministicForASeedAndRefusesBadInput) {
  const Data d(2, 1);
  sam::SamPredictor sam = random_tiny_sam();
  testing::TempDir a, b, c;
  AdaptationTrainParams p = fast_params(10);
  p.log_every = 5;
  const auto ra = train_adaptation_net(d.train, sam, sam_stage_params(), p, a.path());
  const auto rb = train_adaptation_net(d.train, sam, sam_stage_params(), p, b.path());
  p.seed += 1;
  const auto rc = train_adaptation_net(d.train, sam, sam_stage_params(), p, c.path());
  auto losses = [](const fs::path& dir) {
    std::vector<double> out;
    for (const json& l : testing::read_json_lines(dir / kAdaptationLogName))
      out.push_back(l.at("loss"));
    return out;
  };
  EXPECT_EQ(losses(a.path()), losses(b.path()));
  EXPECT_NE(losses(a.path()), losses(c.path()));
  EXPECT_EQ(ra.samples, rb.samples);
  EXPECT_DOUBLE_EQ(ra.synthetic_pl2_dice, rb.synthetic_pl2_dice);
  (void)rc;

  const synth::Phantom& ph = d.held_out.front();
  const AdaptationPredictor pa(ra.checkpoint, "cpu");
  const AdaptationPredictor pb(rb.checkpoint, "cpu");
  EXPECT_EQ(pa.predict(ph.ct, ph.labels, ph.labels).voxels,
            pb.predict(ph.ct, ph.labels, ph.labels).voxels);

  // PL2 on another grid.
  Geometry g = ph.labels.geometry;
  g.size[2] += 1;
  EXPECT_THROW(pa.predict(ph.ct, LabelMap(g), ph.labels), std::invalid_argument);
  // A checkpoint without an adaptation spec (a segmentation net's, say).
  const fs::path other = c / "other.pt";
  models::UNet net(p.spec.unet);
  checkpoint::save(other, {{{kAdaptationModule, net.ptr()}}, nullptr, {{"spec", json::object()}}});
  EXPECT_THROW(AdaptationPredictor(other, "cpu"), InputError);
  EXPECT_THROW(AdaptationPredictor(c / "missing.pt", "cpu"), InputError);
  EXPECT_THROW(AdaptationPredictor(ra.checkpoint, "tpu"), InputError);
}

TEST(AdaptationNet, TrainParamsJsonRoundTripAndRefusals) {
  AdaptationTrainParams p = fast_params(42);
  p.spec = models::make_adaptation_spec(p.spec.unet, kTestWindow, 2, kSide, true);
  p.corruption.p_blob = 0.4;
  p.corruptions_per_case = 3;
  const json j = p;
  const AdaptationTrainParams back = j.get<AdaptationTrainParams>();
  EXPECT_EQ(json(back), j);
  EXPECT_TRUE(back.spec.use_pl1);
  EXPECT_EQ(back.spec.unet.in_channels, 7);

  auto refused = [&](const json& patch, const std::string& needle) {
    json bad = j;
    bad.merge_patch(patch);
    try {
      (void)bad.get<AdaptationTrainParams>();
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      return;
    }
    ADD_FAILURE() << "accepted " << bad.dump();
  };
  refused({{"step", 10}}, "step");
  refused({{"steps", 0}}, "steps");
  refused({{"steps", "10"}}, "steps");
  refused({{"lr", -1.0}}, "lr");
  refused({{"corruptions_per_case", 0}}, "corruptions_per_case");
  refused({{"seed", -3}}, "seed");
  refused({{"spec", {{"unet", {{"in_channels", 4}}}}}}, "in_channels");  // PL1 needs 7
  refused({{"corruption", {{"p_erode", 0.9}, {"p_dilate", 0.5}}}}, "p_erode");
}

TEST(AdaptationNet, CorruptionParamsJsonRoundTripAndRefusals) {
  CorruptionParams p;
  p.p_shift = 0.7;
  p.dilate_max = 5;
  p.elastic_amplitude = 2.25;
  p.max_tries = 7;
  const json j = p;
  EXPECT_EQ(j.size(), 24u);  // every field, keyed by its name
  EXPECT_EQ(j.at("p_shift"), 0.7);
  const CorruptionParams back = j.get<CorruptionParams>();
  EXPECT_EQ(json(back), j);
  // Missing keys keep what was there.
  CorruptionParams kept;
  kept.split_min_pixels = 99;
  json({{"p_drop", 0.2}}).get_to(kept);
  EXPECT_EQ(kept.split_min_pixels, 99);
  EXPECT_DOUBLE_EQ(kept.p_drop, 0.2);

  auto refused = [&](const json& bad, const std::string& needle) {
    try {
      (void)bad.get<CorruptionParams>();
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      return;
    }
    ADD_FAILURE() << "accepted " << bad.dump();
  };
  refused({{"p_dorp", 0.1}}, "p_dorp");
  refused({{"p_drop", 1.5}}, "p_drop");
  refused({{"p_drop", "0.1"}}, "p_drop");
  refused({{"erode_max", 2.5}}, "erode_max");
  refused({{"elastic_grid", 1}}, "elastic_grid");
  refused(json::array(), "object");
}

}  // namespace
}  // namespace aslseg::loop
