// Stage 2 (loop/sam_stage.h) with a random tiny SAM on a phantom: slices without a tumour in the
// prompt source stay empty and are never encoded; a prompted slice equals the union of
// SamPredictor masks computed by hand, one box at a time; the output is on the image's grid; a
// source on another grid is refused; several sources at once equal one at a time; prompt sets
// are stacked into one batch with -1 padding; the JSON of the parameters (and of PromptParams)
// round-trips and refuses bad keys.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "aslseg/loop/sam_stage.h"
#include "aslseg/models/sam.h"
#include "aslseg/models/sam_config.h"
#include "aslseg/synth/phantom.h"

namespace aslseg::loop {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kRepoRoot = fs::path(ASLSEG_SOURCE_DIR);
constexpr uint64_t kPhantomSeed = 5;
constexpr uint64_t kSamSeed = 0;
constexpr preprocess::WindowParams kTestWindow{40.0f, 150.0f};

sam::SamPredictor random_tiny_sam() {
  torch::manual_seed(kSamSeed);
  models::Sam model(models::load_sam_config(kRepoRoot / "configs/sam/tiny.json"));
  return sam::SamPredictor(model, torch::kCPU);
}

// 48x48 slices at 6 mm with two or three large hypodense lesions, some slices without.
synth::Phantom phantom() {
  synth::PhantomParams p;
  p.size = {48, 48, 12};
  p.spacing = {6.0, 6.0, 8.0};
  p.tumours_min = 2;
  p.tumours_max = 3;
  p.no_tumour_probability = 0.0;
  p.tumour_radius_min_mm = 20.0;
  p.tumour_radius_max_mm = 35.0;
  p.isodense_probability = 0.0;
  p.hyperdense_probability = 0.0;
  return synth::make_case(p, kPhantomSeed, 0);
}

SamStageParams box_params() {
  SamStageParams s;
  s.window = kTestWindow;
  s.prompts.mode = sam::PromptMode::kBox;
  return s;
}

int64_t count_label(const LabelMap& m, int64_t z, uint8_t label) {
  const uint8_t* s = m.slice(z);
  return std::count(s, s + m.geometry.slice_voxels(), label);
}

TEST(SamStage, OnlyPromptedSlicesAreEncodedAndTheRestStaysEmpty) {
  const synth::Phantom ph = phantom();
  sam::SamPredictor predictor = random_tiny_sam();
  const SamStageParams params = box_params();
  SamStageStats stats;
  const LabelMap pl2 = sam_tumour(predictor, ph.ct, ph.labels, params, &stats);

  EXPECT_TRUE(pl2.geometry.difference(ph.ct.geometry).empty());
  EXPECT_EQ(pl2.geometry.origin, ph.ct.geometry.origin);
  EXPECT_EQ(pl2.geometry.direction, ph.ct.geometry.direction);
  const auto prompts = sam::volume_prompts(ph.labels, params.prompts);
  std::set<int64_t> prompted;
  int64_t sets = 0;
  for (const auto& sp : prompts) {
    prompted.insert(sp.slice);
    sets += static_cast<int64_t>(sp.sets.size());
  }
  // The phantom must have both kinds of slice for this test to mean anything.
  ASSERT_GE(prompted.size(), 2u);
  ASSERT_LT(prompted.size(), static_cast<size_t>(ph.ct.geometry.size[2]));
  EXPECT_EQ(stats.slices_prompted, static_cast<int64_t>(prompted.size()));
  EXPECT_EQ(stats.prompt_sets, sets);
  int64_t painted = 0;
  for (int64_t z = 0; z < ph.ct.geometry.size[2]; ++z) {
    EXPECT_EQ(count_label(pl2, z, kLiver), 0) << "PL2 holds tumour only";
    const int64_t tumour = count_label(pl2, z, kTumour);
    if (!prompted.count(z)) EXPECT_EQ(tumour, 0) << "slice " << z << " had no prompt";
    painted += tumour;
  }
  EXPECT_GT(painted, 0) << "SAM painted nothing: the comparison below would be vacuous";
  // Stats add up over calls.
  (void)sam_tumour(predictor, ph.ct, ph.labels, params, &stats);
  EXPECT_EQ(stats.slices_prompted, 2 * static_cast<int64_t>(prompted.size()));
}

TEST(SamStage, SliceEqualsUnionOfSingleBoxPredictions) {
  const synth::Phantom ph = phantom();
  sam::SamPredictor predictor = random_tiny_sam();
  const SamStageParams params = box_params();
  const LabelMap pl2 = sam_tumour(predictor, ph.ct, ph.labels, params);
  // The slice with the most prompt sets: the union matters there.
  const auto prompts = sam::volume_prompts(ph.labels, params.prompts);
  ASSERT_FALSE(prompts.empty());
  const sam::SlicePrompts* best = &prompts.front();
  for (const auto& sp : prompts)
    if (sp.sets.size() > best->sets.size()) best = &sp;
  const int64_t z = best->slice;
  const int64_t w = ph.ct.geometry.size[0], h = ph.ct.geometry.size[1];

  ASSERT_GE(best->sets.size(), 2u) << "the phantom needs a slice with two lesions";

  predictor.set_slice(ph.ct, z, params.window);
  torch::Tensor by_hand = torch::zeros({h, w}, torch::kBool);
  torch::Tensor first;
  for (const sam::PromptSet& set : best->sets) {
    ASSERT_TRUE(set.box.has_value());
    const auto& b = *set.box;
    const sam::SamPrediction one =
        predictor.predict(sam::SamPrompts::box(static_cast<float>(b.x0), static_cast<float>(b.y0),
                                               static_cast<float>(b.x1), static_cast<float>(b.y1)),
                          false);
    by_hand = by_hand | one.masks[0][0];
    if (!first.defined()) first = one.masks[0][0].clone();
  }
  // Later sets add pixels: a stage that kept only the first set's mask would fail below.
  ASSERT_GT(by_hand.sum().item<int64_t>(), first.sum().item<int64_t>());
  const torch::Tensor got =
      torch::from_blob(const_cast<uint8_t*>(pl2.slice(z)), {h, w}, torch::kUInt8) == kTumour;
  EXPECT_TRUE(torch::equal(got, by_hand))
      << (got != by_hand).sum().item<int64_t>() << " pixels differ on slice " << z << " ("
      << best->sets.size() << " sets)";
}

// With roi.enabled the stage segments each set on a crop around its box (sam/roi_crop.h), as
// SAM was fine-tuned: the slice equals predict_in_rois on the windowed slice, and differs from
// the whole-slice result (else the option would do nothing).
TEST(SamStage, RegionOfInterestModeCropsEachBox) {
  const synth::Phantom ph = phantom();
  sam::SamPredictor predictor = random_tiny_sam();
  SamStageParams params = box_params();
  const LabelMap whole = sam_tumour(predictor, ph.ct, ph.labels, params);
  params.roi.enabled = true;
  const LabelMap cropped = sam_tumour(predictor, ph.ct, ph.labels, params);
  const auto prompts = sam::volume_prompts(ph.labels, params.prompts);
  ASSERT_FALSE(prompts.empty());
  const int64_t w = ph.ct.geometry.size[0], h = ph.ct.geometry.size[1];
  int64_t differ = 0;
  for (const sam::SlicePrompts& sp : prompts) {
    torch::Tensor windowed = torch::empty({h, w}, torch::kFloat);
    preprocess::apply_window(ph.ct.slice(sp.slice), nullptr, windowed.data_ptr<float>(),
                             static_cast<size_t>(w * h), params.window);
    const torch::Tensor by_hand =
        sam::predict_in_rois(predictor, windowed, stack_prompt_sets(sp.sets), params.roi);
    const auto as_mask = [&](const LabelMap& m) {
      return torch::from_blob(const_cast<uint8_t*>(m.slice(sp.slice)), {h, w}, torch::kUInt8) ==
             kTumour;
    };
    EXPECT_TRUE(torch::equal(as_mask(cropped), by_hand)) << "slice " << sp.slice;
    differ += (as_mask(cropped) != as_mask(whole)).sum().item<int64_t>();
  }
  EXPECT_GT(differ, 0);
}

TEST(SamStage, ManySourcesEqualOneAtATime) {
  const synth::Phantom ph = phantom();
  sam::SamPredictor predictor = random_tiny_sam();
  SamStageParams params = box_params();
  params.prompts.mode = sam::PromptMode::kMultipoint;  // padded points across sets
  params.prompts.num_negative = 2;
  // A second source: the tumour shifted by whole slices, so it prompts other slices too.
  LabelMap other(ph.labels.geometry, kBackground);
  const int64_t plane = ph.labels.geometry.slice_voxels();
  for (int64_t z = 1; z < ph.labels.geometry.size[2]; ++z)
    std::copy_n(ph.labels.slice(z - 1), plane, other.slice(z));
  SamStageStats together;
  const auto both = sam_tumour_many(predictor, ph.ct, {&ph.labels, &other}, params, &together);
  SamStageStats apart;
  const LabelMap a = sam_tumour(predictor, ph.ct, ph.labels, params, &apart);
  const LabelMap b = sam_tumour(predictor, ph.ct, other, params, &apart);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0].voxels, a.voxels);
  EXPECT_EQ(both[1].voxels, b.voxels);
  EXPECT_EQ(together.prompt_sets, apart.prompt_sets);
  EXPECT_LT(together.slices_prompted, apart.slices_prompted) << "shared slices encoded twice";
}

TEST(SamStage, GridMismatchIsRefused) {
  const synth::Phantom ph = phantom();
  sam::SamPredictor predictor = random_tiny_sam();
  Geometry smaller = ph.labels.geometry;
  smaller.size[2] -= 1;
  EXPECT_THROW(sam_tumour(predictor, ph.ct, LabelMap(smaller), box_params()),
               std::invalid_argument);
  Geometry moved = ph.labels.geometry;
  moved.origin[0] += 10.0;
  LabelMap shifted = ph.labels;
  shifted.geometry = moved;
  EXPECT_THROW(sam_tumour(predictor, ph.ct, shifted, box_params()), std::invalid_argument);
}

TEST(SamStage, PromptSetsStackIntoOnePaddedBatch) {
  sam::PromptSet a, b;
  a.points = {{3, 4, sam::PointLabel::kPositive}, {9, 1, sam::PointLabel::kNegative}};
  b.points = {{7, 8, sam::PointLabel::kPositive}};
  const sam::SamPrompts p = stack_prompt_sets({a, b});
  EXPECT_FALSE(p.boxes.defined());
  ASSERT_EQ(p.point_coords.sizes(), (c10::IntArrayRef{2, 2, 2}));
  EXPECT_TRUE(
      torch::equal(p.point_labels, torch::tensor({1, 0, 1, -1}, torch::kLong).view({2, 2})));
  EXPECT_EQ(p.point_coords[0][1][0].item<float>(), 9.0f);
  EXPECT_EQ(p.point_coords[1][0][1].item<float>(), 8.0f);

  a.box = sam::PromptBox{1, 2, 10, 12};
  EXPECT_THROW(stack_prompt_sets({a, b}), std::invalid_argument);  // box on one set only
  b.box = sam::PromptBox{0, 0, 5, 6};
  const sam::SamPrompts boxed = stack_prompt_sets({a, b});
  EXPECT_TRUE(torch::equal(
      boxed.boxes, torch::tensor({1.0f, 2.0f, 10.0f, 12.0f, 0.0f, 0.0f, 5.0f, 6.0f}).view({2, 4})));
  EXPECT_EQ(stack_prompt_sets({}).batch_size(), 0);
}

TEST(SamStage, ParamsJsonRoundTripAndRefusals) {
  SamStageParams p;
  p.window = {30.0f, 250.0f};
  p.prompts.mode = sam::PromptMode::kBoxPoint;
  p.prompts.num_negative = 2;
  p.prompts.seed = 9;
  const json j = p;
  EXPECT_EQ(j.at("prompts").at("mode"), "box+point");
  const SamStageParams back = j.get<SamStageParams>();
  EXPECT_EQ(json(back), j);

  auto refused = [&](const json& patch, const std::string& needle) {
    json bad = j;
    bad.merge_patch(patch);
    try {
      (void)bad.get<SamStageParams>();
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      return;
    }
    ADD_FAILURE() << "accepted " << bad.dump();
  };
  refused({{"windows", json::object()}}, "windows");
  refused({{"window", {{"width", -5}}}}, "window");
  refused({{"prompts", {{"mode", "boxes"}}}}, "boxes");
  refused({{"prompts", {{"margin", 3}}}}, "margin");
  refused({{"prompts", {{"box_margin", 1.5}}}}, "box_margin");
  refused({{"prompts", {{"label", 300}}}}, "label");
  refused({{"prompts", {{"seed", -1}}}}, "seed");
  refused({{"prompts", {{"ring_inner", 20}}}}, "ring_inner");  // > ring_outer
}

TEST(SamStage, PromptParamsJsonUsesModeNames) {
  for (const auto mode : {sam::PromptMode::kBox, sam::PromptMode::kPoint,
                          sam::PromptMode::kMultipoint, sam::PromptMode::kBoxPoint}) {
    sam::PromptParams p;
    p.mode = mode;
    p.min_component_pixels = 4;
    const json j = p;
    EXPECT_EQ(j.at("mode"), sam::prompt_mode_name(mode));
    const sam::PromptParams back = j.get<sam::PromptParams>();
    EXPECT_EQ(back.mode, mode);
    EXPECT_EQ(json(back), j);
  }
  // Missing keys keep what was there.
  sam::PromptParams kept;
  kept.num_points = 5;
  json({{"mode", "multipoint"}}).get_to(kept);
  EXPECT_EQ(kept.num_points, 5);
  EXPECT_THROW(json({{"mode", 1}}).get<sam::PromptParams>(), std::invalid_argument);
}

}  // namespace
}  // namespace aslseg::loop
