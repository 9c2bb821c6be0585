// In-plane resizing of [C][Y][X] planes to the network's input size and back, with exactly
// the sampling of torch.nn.functional.interpolate, so that a model trained in PyTorch sees
// the same pixels here.
//
// Bilinear = interpolate(mode='bilinear', align_corners=False, antialias=False), no
// scale_factor. Per axis, with in/out the input/output lengths and pixel centres at i + 0.5:
//   scale = in / out                      (float)
//   src   = scale * (dst + 0.5) - 0.5     (half-pixel centres), then src = max(src, 0)
//   i0    = floor(src), i1 = min(i0 + 1, in - 1), lambda = src - i0
//   value = (1 - lambda) * v[i0] + lambda * v[i1], applied along x and along y.
// Example: the row [1, 2] at width 4 becomes [1, 1.25, 1.75, 2]; a 4 -> 2 downsample gives
// the mean of each pixel pair (src = 0.5, 2.5). Like torch (antialias=False) a downsample by
// more than 2 skips pixels instead of averaging them. We evaluate a + lambda * (b - a), which
// equals torch's form up to float rounding (a few ulp) and keeps constant images exact.
//
// Nearest = interpolate(mode='nearest') (torch's legacy nearest, not 'nearest-exact'):
//   src = min(floor(dst * scale), in - 1), scale = in / out in float, as torch computes it.
// It only copies input values, so labels are never invented.
#pragma once

#include <cstdint>

#include "aslseg/preprocess/planes.h"

namespace aslseg::preprocess {

// Network input side: 512x512 CT slices are halved, which keeps small tumours (>= ~4 px)
// visible while quartering the cost of the segmentation net.
constexpr int64_t kDefaultModelSide = 256;

struct ResizeParams {
  int64_t height = kDefaultModelSide;
  int64_t width = kDefaultModelSide;
};

// Every channel resized to out_height x out_width. Throws std::invalid_argument for empty
// input or output sizes, or when in.data does not hold channels * height * width values.
FloatPlanes resize_bilinear(const FloatPlanes& in, int64_t out_height, int64_t out_width);
LabelPlanes resize_nearest(const LabelPlanes& in, int64_t out_height, int64_t out_width);
FloatPlanes resize_nearest(const FloatPlanes& in, int64_t out_height, int64_t out_width);

// To the model: images bilinear, labels nearest.
inline FloatPlanes image_to_model_size(const FloatPlanes& image, const ResizeParams& p = {}) {
  return resize_bilinear(image, p.height, p.width);
}
inline LabelPlanes labels_to_model_size(const LabelPlanes& labels, const ResizeParams& p = {}) {
  return resize_nearest(labels, p.height, p.width);
}
// Back to the original slice size: probabilities / logits bilinear (then argmax, which gives
// smoother borders than resizing the argmax), label planes nearest.
inline FloatPlanes to_original_size(const FloatPlanes& planes, int64_t height, int64_t width) {
  return resize_bilinear(planes, height, width);
}
inline LabelPlanes to_original_size(const LabelPlanes& labels, int64_t height, int64_t width) {
  return resize_nearest(labels, height, width);
}

}  // namespace aslseg::preprocess
