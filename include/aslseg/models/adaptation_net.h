// The adaptation net AN of ASLseg (DESIGN.md, "Models"): a 2D U-Net (unet.h) that takes the
// CT slice (2k+1 windowed context slices) plus SAM's tumour mask PL2 (plus, optionally, the
// segmentation net's tumour mask PL1) as channels and predicts the tumour (2 classes:
// background, tumour). Its spec, like SegmenterSpec for SS, holds everything needed to feed it
// the way it was trained and is stored in its checkpoint's metadata.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "aslseg/models/unet.h"
#include "aslseg/preprocess/intensity.h"

namespace aslseg::models {

inline constexpr int64_t kAdaptationClasses = 2;  // background, tumour

// Channels of the default spec: 3 image slices (context 1) + PL2.
inline constexpr int64_t kDefaultAdaptationChannels = 4;

struct AdaptationSpec {
  // unet.in_channels == input_channels(); unet.num_classes == kAdaptationClasses. The default
  // matches the default context and use_pl1, so a default-constructed spec is valid.
  UNetOptions unet{kDefaultAdaptationChannels, kAdaptationClasses};
  preprocess::WindowParams window;  // HU window of the image channels
  int64_t context = 1;              // k: image slices z-k..z+k
  int64_t image_size = 64;          // slices resized in-plane to image_size x image_size
  bool use_pl1 = false;             // PL1's tumour as one more channel

  // 2k+1 image channels + PL2 (+ PL1).
  int64_t input_channels() const { return 2 * context + 1 + 1 + (use_pl1 ? 1 : 0); }
};

// A spec with unet.in_channels and num_classes set from the other fields.
AdaptationSpec make_adaptation_spec(UNetOptions unet, preprocess::WindowParams window,
                                    int64_t context, int64_t image_size, bool use_pl1);

// Throws std::invalid_argument naming the field: invalid unet options, context < 0,
// in_channels != input_channels(), num_classes != 2, image_size not a positive multiple of
// unet.size_multiple(), bad window.
void validate(const AdaptationSpec& s);

// {"unet": {...}, "window": {...}, "context": 1, "image_size": 64, "use_pl1": false}.
void to_json(nlohmann::json& j, const AdaptationSpec& s);
// Missing keys keep defaults; a missing unet.in_channels / num_classes follow the other
// fields. Unknown keys and wrong types are std::invalid_argument. Validates.
void from_json(const nlohmann::json& j, AdaptationSpec& s);

}  // namespace aslseg::models
