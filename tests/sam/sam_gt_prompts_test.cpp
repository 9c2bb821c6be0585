// Prompts from ground-truth masks (sam/gt_prompts.h) on hand-made masks: one prompt per
// 8-connected component, boxes that contain their component and move outward by no more than
// the jitter allows, points on the side their label says, padding when no negative fits, and
// determinism for a seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <vector>

#include "aslseg/sam/gt_prompts.h"

namespace aslseg::sam {
namespace {

constexpr int64_t kW = 24;
constexpr int64_t kH = 18;
constexpr int kSeeds = 300;

// Two components: a 4x5 block (x 3..6, y 2..6) and a diagonal chain (x = y = 10..13) that is
// one component only under 8-connectivity; and a lone pixel at (20, 15).
std::vector<uint8_t> two_blobs() {
  std::vector<uint8_t> m(kW * kH, 0);
  for (int64_t y = 2; y <= 6; ++y)
    for (int64_t x = 3; x <= 6; ++x) m[x + kW * y] = 1;
  for (int64_t d = 10; d <= 13; ++d) m[d + kW * d] = 1;
  m[20 + kW * 15] = 1;
  return m;
}

TEST(SamGtPrompts, OnePromptPerEightConnectedComponentWithExactBounds) {
  const auto m = two_blobs();
  GtPromptParams p;
  p.box_jitter_px = 0;
  synth::Rng rng(1);
  const auto prompts = prompts_from_mask(m.data(), kW, kH, p, rng);
  ASSERT_EQ(prompts.size(), 3u);  // a 4-connected labelling would split the chain into 4
  EXPECT_EQ(prompts[0].bounds, (std::array<int64_t, 4>{3, 2, 6, 6}));
  EXPECT_EQ(prompts[0].pixels, 20);
  EXPECT_EQ(prompts[1].bounds, (std::array<int64_t, 4>{10, 10, 13, 13}));
  EXPECT_EQ(prompts[1].pixels, 4);
  EXPECT_EQ(prompts[2].bounds, (std::array<int64_t, 4>{20, 15, 20, 15}));
  // No jitter: the box is the exact bounds.
  EXPECT_EQ(prompts[0].box, (std::array<float, 4>{3, 2, 6, 6}));
}

TEST(SamGtPrompts, SmallComponentsAreSkipped) {
  const auto m = two_blobs();
  GtPromptParams p;
  p.min_component_pixels = 2;
  synth::Rng rng(1);
  const auto prompts = prompts_from_mask(m.data(), kW, kH, p, rng);
  ASSERT_EQ(prompts.size(), 2u);
  EXPECT_EQ(prompts[1].pixels, 4);
}

TEST(SamGtPrompts, BoxesContainTheComponentAndStayWithinTheJitter) {
  const auto m = two_blobs();
  GtPromptParams p;
  p.box_jitter_px = 3;
  p.box_jitter_fraction = 1.0;  // the pixel cap decides for the block (extent 4-5)
  std::set<int64_t> margins_seen;
  for (int seed = 0; seed < kSeeds; ++seed) {
    synth::Rng rng(seed);
    const auto prompts = prompts_from_mask(m.data(), kW, kH, p, rng);
    ASSERT_EQ(prompts.size(), 3u);
    for (const auto& cp : prompts) {
      const auto& b = cp.bounds;
      const int64_t mx = std::min<int64_t>(3, b[2] - b[0] + 1);
      const int64_t my = std::min<int64_t>(3, b[3] - b[1] + 1);
      // Contains the component ...
      EXPECT_LE(cp.box[0], b[0]);
      EXPECT_LE(cp.box[1], b[1]);
      EXPECT_GE(cp.box[2], b[2]);
      EXPECT_GE(cp.box[3], b[3]);
      // ... moves by at most the allowed margin, and stays on the slice.
      EXPECT_GE(cp.box[0], std::max<int64_t>(0, b[0] - mx));
      EXPECT_GE(cp.box[1], std::max<int64_t>(0, b[1] - my));
      EXPECT_LE(cp.box[2], std::min<int64_t>(kW - 1, b[2] + mx));
      EXPECT_LE(cp.box[3], std::min<int64_t>(kH - 1, b[3] + my));
      if (cp.component == 1) margins_seen.insert(b[0] - static_cast<int64_t>(cp.box[0]));
    }
  }
  // Every margin 0..3 occurs: the jitter is real and reaches its bound.
  EXPECT_EQ(margins_seen, (std::set<int64_t>{0, 1, 2, 3}));
}

TEST(SamGtPrompts, FractionLimitsTheJitterOfSmallComponents) {
  const auto m = two_blobs();
  GtPromptParams p;
  p.box_jitter_px = 10;
  p.box_jitter_fraction = 0.5;  // chain extent 4 -> at most 2 px; lone pixel -> 0 px
  for (int seed = 0; seed < kSeeds; ++seed) {
    synth::Rng rng(seed);
    const auto prompts = prompts_from_mask(m.data(), kW, kH, p, rng);
    const auto& chain = prompts[1];
    EXPECT_GE(chain.box[0], 8);
    EXPECT_LE(chain.box[2], 15);
    EXPECT_EQ(prompts[2].box, (std::array<float, 4>{20, 15, 20, 15}));
  }
}

TEST(SamGtPrompts, PointsLieOnTheSideTheirLabelSays) {
  const auto m = two_blobs();
  GtPromptParams p;
  p.positive_points = 3;
  p.negative_points = 2;
  p.negative_margin_px = 2;
  const auto masks_for = [&](const std::vector<ComponentPrompt>& prompts) {
    return component_masks(m.data(), kW, kH, prompts);
  };
  for (int seed = 0; seed < 50; ++seed) {
    synth::Rng rng(seed);
    const auto prompts = prompts_from_mask(m.data(), kW, kH, p, rng);
    const auto comp = masks_for(prompts);
    for (size_t k = 0; k < prompts.size(); ++k) {
      const auto& cp = prompts[k];
      ASSERT_EQ(cp.points.size(), 5u);
      ASSERT_EQ(cp.labels, (std::vector<int64_t>{1, 1, 1, 0, 0}));
      for (size_t i = 0; i < cp.points.size(); ++i) {
        const auto x = static_cast<int64_t>(cp.points[i][0]);
        const auto y = static_cast<int64_t>(cp.points[i][1]);
        ASSERT_TRUE(x >= 0 && x < kW && y >= 0 && y < kH);
        if (cp.labels[i] == kPointPositive) {
          // On this component (not merely on some foreground).
          EXPECT_EQ(comp[k * kW * kH + x + kW * y], 1) << "seed " << seed;
        } else {
          EXPECT_EQ(m[x + kW * y], 0) << "negative on foreground, seed " << seed;
          EXPECT_GE(x, cp.bounds[0] - 2);
          EXPECT_LE(x, cp.bounds[2] + 2);
          EXPECT_GE(y, cp.bounds[1] - 2);
          EXPECT_LE(y, cp.bounds[3] + 2);
        }
      }
    }
  }
}

TEST(SamGtPrompts, NegativesThatCannotBePlacedArePadding) {
  std::vector<uint8_t> full(kW * kH, 1);
  GtPromptParams p;
  p.positive_points = 1;
  p.negative_points = 2;
  synth::Rng rng(4);
  const auto prompts = prompts_from_mask(full.data(), kW, kH, p, rng);
  ASSERT_EQ(prompts.size(), 1u);
  EXPECT_EQ(prompts[0].labels,
            (std::vector<int64_t>{kPointPositive, kPointPadding, kPointPadding}));
  // The box of a slice-filling component is the whole slice, whatever the jitter.
  EXPECT_EQ(prompts[0].box, (std::array<float, 4>{0, 0, kW - 1, kH - 1}));
}

TEST(SamGtPrompts, DeterministicForASeedAndDifferentAcrossSeeds) {
  const auto m = two_blobs();
  GtPromptParams p;
  p.box_jitter_px = 3;
  p.box_jitter_fraction = 1.0;
  p.positive_points = 2;
  p.negative_points = 1;
  auto run = [&](uint64_t seed) {
    synth::Rng rng(seed);
    std::vector<float> flat;
    for (const auto& cp : prompts_from_mask(m.data(), kW, kH, p, rng)) {
      flat.insert(flat.end(), cp.box.begin(), cp.box.end());
      for (const auto& pt : cp.points) flat.insert(flat.end(), pt.begin(), pt.end());
    }
    return flat;
  };
  EXPECT_EQ(run(7), run(7));
  int differing = 0;
  for (uint64_t s = 8; s < 12; ++s) differing += run(s) != run(7) ? 1 : 0;
  EXPECT_GE(differing, 3);
}

TEST(SamGtPrompts, ComponentMasksAndStackedPrompts) {
  const auto m = two_blobs();
  GtPromptParams p;
  p.positive_points = 1;
  synth::Rng rng(2);
  const auto prompts = prompts_from_mask(m.data(), kW, kH, p, rng);
  const auto comp = component_masks(m.data(), kW, kH, prompts);
  ASSERT_EQ(comp.size(), prompts.size() * kW * kH);
  for (size_t k = 0; k < prompts.size(); ++k) {
    int64_t sum = 0;
    for (int64_t i = 0; i < kW * kH; ++i) sum += comp[k * kW * kH + i];
    EXPECT_EQ(sum, prompts[k].pixels);
  }
  // The union of the component masks is the mask.
  for (int64_t i = 0; i < kW * kH; ++i) {
    int sum = 0;
    for (size_t k = 0; k < prompts.size(); ++k) sum += comp[k * kW * kH + i];
    EXPECT_EQ(sum, m[i]);
  }
  const SamPrompts sp = to_sam_prompts(prompts, true);
  ASSERT_EQ(sp.boxes.sizes(), (c10::IntArrayRef{3, 4}));
  ASSERT_EQ(sp.point_coords.sizes(), (c10::IntArrayRef{3, 1, 2}));
  EXPECT_EQ(sp.boxes[1][2].item<float>(), prompts[1].box[2]);
  EXPECT_EQ(sp.point_coords[2][0][0].item<float>(), 20.0f);
  EXPECT_EQ(sp.point_labels[2][0].item<int64_t>(), kPointPositive);
  EXPECT_FALSE(to_sam_prompts(prompts, false).boxes.defined());
}

TEST(SamGtPrompts, InvalidParametersAreRefused) {
  GtPromptParams p;
  p.use_box = false;  // and no positive point: nothing to prompt with
  EXPECT_THROW(validate(p), std::invalid_argument);
  p = GtPromptParams{};
  p.box_jitter_fraction = 1.5;
  EXPECT_THROW(validate(p), std::invalid_argument);
  p = GtPromptParams{};
  p.negative_points = -1;
  EXPECT_THROW(validate(p), std::invalid_argument);
}

}  // namespace
}  // namespace aslseg::sam
