// Prompts taken from a ground-truth mask, with the noise SAM is trained with: for each 2D
// connected component (8-connectivity) its bounding box, widened on every side by a random
// margin, plus points sampled inside it (positive) and, optionally, outside the mask near it
// (negative). Used to fine-tune SAM (finetune.h), where at inference the prompts come from an
// imperfect segmentation. Deterministic for a given synth::Rng state.
//
// Coordinates are slice pixels: x = column, y = row (see resize_longest_side.h); boxes are
// inclusive pixel bounds (x0, y0) .. (x1, y1), as SAM's box prompts from masks.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "aslseg/sam/sam_prompts.h"
#include "aslseg/synth/rng.h"

namespace aslseg::sam {

struct GtPromptParams {
  // Each box side moves outward by a uniform integer in [0, m], m = min(box_jitter_px,
  // floor(box_jitter_fraction * the component's extent along that axis)); then clipped to the
  // slice. The box therefore always contains its component (SAM's noise is ~10% of the side,
  // at most 20 px at 1024; MedSAM widens by up to 20 px at 1024).
  int64_t box_jitter_px = 10;
  double box_jitter_fraction = 0.2;
  bool use_box = true;
  int64_t positive_points = 0;       // uniform over the component's pixels
  int64_t negative_points = 0;       // uniform over non-mask pixels within negative_margin_px
  int64_t negative_margin_px = 5;    //   of the component's box (Chebyshev distance)
  int64_t min_component_pixels = 1;  // smaller components give no prompt
};

// Throws std::invalid_argument naming the field (negative counts, a prompt with neither box
// nor points, a fraction outside [0, 1]).
void validate(const GtPromptParams& p);
void to_json(nlohmann::json& j, const GtPromptParams& p);

// One component's prompt.
struct ComponentPrompt {
  int32_t component = 0;                      // label in label_components_2d order (1-based)
  int64_t pixels = 0;                         // component size
  std::array<int64_t, 4> bounds{0, 0, 0, 0};  // exact inclusive bounds x0, y0, x1, y1
  std::array<float, 4> box{0, 0, 0, 0};       // the jittered box (meaningful when use_box)
  std::vector<std::array<float, 2>> points;   // positives first, then negatives
  std::vector<int64_t> labels;                // kPointPositive / kPointNegative / kPointPadding
};

// The components of `mask` (width x height, x fastest, nonzero = foreground) with at least
// min_component_pixels pixels, in label_components_2d order, each with its prompt. A
// negative point that cannot be placed (no background pixel near the box) is padding (label
// -1 at (0, 0)), so every prompt has exactly positive_points + negative_points points.
std::vector<ComponentPrompt> prompts_from_mask(const uint8_t* mask, int64_t width, int64_t height,
                                               const GtPromptParams& p, synth::Rng& rng);

// The masks of the components prompts_from_mask returned ([K, height, width] uint8 0/1): the
// target of each prompt.
std::vector<uint8_t> component_masks(const uint8_t* mask, int64_t width, int64_t height,
                                     const std::vector<ComponentPrompt>& prompts);

// Stacks prompts into B = prompts.size() prompt sets for SamPredictor::predict / the decoder.
SamPrompts to_sam_prompts(const std::vector<ComponentPrompt>& prompts, bool use_box);

}  // namespace aslseg::sam
