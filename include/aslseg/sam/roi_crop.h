// SAM on a region of interest: each prompt set is segmented on a square crop of the slice
// around its box, which SAM's resize brings to its full input size, so a lesion of a few
// pixels covers many image tokens instead of one (a 10-px lesion of a 96² slice is under one
// 16-px token at 256²; in a 30-px crop it spans eight). The idea of MedSAM's box-cropped
// inputs and of "zoom-in" SAM variants; the crop side is a multiple of the box so that SAM
// sees the lesion with its surroundings at a fixed relative scale. Training (finetune.h) and
// inference (loop/sam_stage.h) crop the same way, so SAM is trained on what it later sees.
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "aslseg/sam/sam_predictor.h"
#include "aslseg/sam/sam_prompts.h"

namespace aslseg::sam {

inline constexpr double kDefaultRoiContext = 3.0;  // crop side / the box's longer side
inline constexpr int64_t kDefaultRoiMinSide = 24;  // px: a speck still gets its surroundings

struct RoiParams {
  bool enabled = false;  // off: SAM sees the whole slice (the official usage)
  double context = kDefaultRoiContext;
  int64_t min_side = kDefaultRoiMinSide;
};

// Throws std::invalid_argument naming the field (context < 1, min_side < 2).
void validate(const RoiParams& p);
void to_json(nlohmann::json& j, const RoiParams& p);
// Missing keys keep their values; unknown keys, wrong types and invalid values:
// std::invalid_argument naming the key.
void from_json(const nlohmann::json& j, RoiParams& p);

// A square window of the slice, x0/y0 its top-left pixel; it may reach past the slice, where
// the crop is 0 (the bottom of the window, like padding).
struct Roi {
  int64_t x0 = 0, y0 = 0, side = 0;
};

// The square centred on `box` (x0, y0, x1, y1, inclusive pixel bounds) with side
// max(min_side, ceil(context * longer side)), so it always holds the box.
Roi roi_around(const std::array<float, 4>& box, const RoiParams& p);

// The crop [side, side] of a windowed slice [height, width] (float), 0 outside the slice.
torch::Tensor crop(const torch::Tensor& windowed, const Roi& roi);

// `prompts` (one or more sets, slice coordinates) in the crop's coordinates; points that fall
// outside the crop become padding (label -1), which SAM ignores.
SamPrompts to_roi(const SamPrompts& prompts, const Roi& roi);

// The union over sets of SAM's masks for `prompts` (one set per row; every set must carry a
// box, whose ROI it is segmented in), on the windowed slice [height, width]: a bool
// [height, width] mask. Each set costs one image-encoder run on its crop.
torch::Tensor predict_in_rois(SamPredictor& predictor, const torch::Tensor& windowed,
                              const SamPrompts& prompts, const RoiParams& p);

}  // namespace aslseg::sam
