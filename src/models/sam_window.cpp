#include "aslseg/models/sam_window.h"

namespace aslseg::models {

SamWindows sam_window_partition(const torch::Tensor& x, int64_t window_size) {
  const int64_t b = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
  const int64_t pad_h = (window_size - h % window_size) % window_size;
  const int64_t pad_w = (window_size - w % window_size) % window_size;
  torch::Tensor padded = x;
  if (pad_h > 0 || pad_w > 0) padded = torch::constant_pad_nd(x, {0, 0, 0, pad_w, 0, pad_h}, 0.0);
  const int64_t hp = h + pad_h, wp = w + pad_w;
  torch::Tensor windows =
      padded.view({b, hp / window_size, window_size, wp / window_size, window_size, c})
          .permute({0, 1, 3, 2, 4, 5})
          .contiguous()
          .view({-1, window_size, window_size, c});
  return {windows, {hp, wp}};
}

torch::Tensor sam_window_unpartition(const torch::Tensor& windows, int64_t window_size,
                                     std::array<int64_t, 2> padded_hw, std::array<int64_t, 2> hw) {
  const auto [hp, wp] = padded_hw;
  const auto [h, w] = hw;
  const int64_t b = windows.size(0) / (hp * wp / window_size / window_size);
  torch::Tensor x =
      windows.view({b, hp / window_size, wp / window_size, window_size, window_size, -1})
          .permute({0, 1, 3, 2, 4, 5})
          .contiguous()
          .view({b, hp, wp, -1});
  if (hp > h || wp > w) {
    using torch::indexing::Slice;
    x = x.index({Slice(), Slice(0, h), Slice(0, w), Slice()}).contiguous();
  }
  return x;
}

}  // namespace aslseg::models
