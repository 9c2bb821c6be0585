// Non-overlapping window partition of a [B, H, W, C] token grid, zero-padding H and W up to a
// multiple of the window, and its inverse; match window_partition / window_unpartition in
// segment_anything/modeling/image_encoder.py (from ViTDet).
#pragma once

#include <torch/torch.h>

#include <array>

namespace aslseg::models {

struct SamWindows {
  torch::Tensor windows;             // [B * num_windows, window, window, C]
  std::array<int64_t, 2> padded_hw;  // (Hp, Wp) before partition
};

SamWindows sam_window_partition(const torch::Tensor& x, int64_t window_size);

// windows [B * num_windows, window, window, C] -> [B, H, W, C] with the padding removed.
torch::Tensor sam_window_unpartition(const torch::Tensor& windows, int64_t window_size,
                                     std::array<int64_t, 2> padded_hw, std::array<int64_t, 2> hw);

}  // namespace aslseg::models
