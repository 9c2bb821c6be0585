// Everything needed to rebuild a trained segmentation net and feed it the way it was trained:
// the U-Net's options plus the preprocessing (HU window, context slices, in-plane size). Stored
// in every checkpoint's metadata, so `aslseg infer` needs nothing but the checkpoint.
#pragma once

#include <nlohmann/json.hpp>

#include "aslseg/models/unet.h"
#include "aslseg/preprocess/intensity.h"

namespace aslseg::models {

struct SegmenterSpec {
  UNetOptions unet;                 // unet.in_channels == 2 * context + 1
  preprocess::WindowParams window;  // HU window mapped to [0, 1]
  int64_t context = 1;              // k: slices z-k..z+k as channels
  int64_t image_size = 128;         // slices resized in-plane to image_size x image_size
  // > 0: the net was trained on patch_size x patch_size patches of those slices, and
  // `infer --sliding-window` runs it on overlapping patches of that size; 0: whole slices.
  int64_t patch_size = 0;
};

// Throws std::invalid_argument: unet options invalid, context < 0, unet.in_channels !=
// 2 * context + 1, image_size not a positive multiple of unet.size_multiple(), patch_size
// neither 0 nor such a multiple <= image_size, bad window.
void validate(const SegmenterSpec& s);

// {"unet": {...}, "window": {"level": 60, "width": 400}, "context": 1, "image_size": 128,
//  "patch_size": 0}.
void to_json(nlohmann::json& j, const SegmenterSpec& s);
// Missing keys keep defaults (checkpoints from before patch_size read as whole slices); a missing
// unet.in_channels follows the context (2k+1). Validates.
void from_json(const nlohmann::json& j, SegmenterSpec& s);

}  // namespace aslseg::models
