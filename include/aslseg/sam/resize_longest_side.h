// SAM's input geometry for CT slices: the image resized so that its long side is the model's
// image_size, and prompt coordinates mapped into that resized frame. Ports ResizeLongestSide
// (segment_anything/utils/transforms.py, get_preprocess_shape / apply_coords / apply_boxes) and
// builds the encoder's 3-channel image from HU the way SamPredictor.set_image does from RGB.
//
// Orientation: a Volume is x fastest, so one axial slice is a [height = y][width = x] array;
// a point is (x, y) in voxel indices of that slice, a box (x0, y0, x1, y1). SAM's prompt
// encoder adds 0.5 to every coordinate, so an integer coordinate is the pixel's centre.
//
// Resampling: bilinear with antialiasing (torch interpolate, antialias=True,
// align_corners=False, available in LibTorch 1.13), i.e. ResizeLongestSide.apply_image_torch.
// The official numpy path (apply_image) resizes a uint8 image with PIL's bilinear filter,
// which is also antialiased; we keep floats instead of rounding to uint8 (differences of at
// most half a grey level, see docs/sam_finetune.md).
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>

#include "aslseg/models/sam_config.h"
#include "aslseg/preprocess/intensity.h"

namespace aslseg::sam {

// MedSAM's guard against a constant image in its min-max normalisation.
constexpr double kMinMaxEpsilon = 1e-8;
// SAM's encoder expects 0-255 images for its mean/std normalisation.
constexpr double kUint8Range = 255.0;

// (new_height, new_width) of an (height, width) image whose long side becomes long_side:
// scale = long_side / max(h, w); each side int(side * scale + 0.5), as get_preprocess_shape.
std::array<int64_t, 2> preprocess_shape(int64_t height, int64_t width, int64_t long_side);

// Points [..., 2] (x, y) in an (height, width) slice -> the resized frame: x * new_w / w,
// y * new_h / h (float32). apply_coords of the reference.
torch::Tensor apply_coords(const torch::Tensor& coords, std::array<int64_t, 2> original_size,
                           int64_t long_side);
// Boxes [B, 4] (x0, y0, x1, y1) -> the resized frame, as apply_boxes (corners via apply_coords).
torch::Tensor apply_boxes(const torch::Tensor& boxes, std::array<int64_t, 2> original_size,
                          int64_t long_side);

// A windowed slice [H, W] (values in [0, 1]) -> the encoder's image [3, h, w] at
// preprocess_shape(H, W, image_size), before SamImpl::preprocess (which normalises and pads):
//   mean_std: the three identical channels scaled to 0-255 (SAM's RGB range), then resized;
//   min_max:  resized, then (x - min) / max(max - min, 1e-8) (MedSAM), three channels.
// float32 on the input's device.
torch::Tensor sam_image_from_windowed(const torch::Tensor& windowed, const models::SamConfig& c);

// HU slice (width x height floats, x fastest) -> HU window -> sam_image_from_windowed.
torch::Tensor sam_image_from_hu(const float* hu, int64_t width, int64_t height,
                                const preprocess::WindowParams& window, const models::SamConfig& c);

}  // namespace aslseg::sam
