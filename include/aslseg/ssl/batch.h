// A batch of 2.5D slices as the SSL stage consumes it.
#pragma once

#include <torch/torch.h>

namespace aslseg::ssl {

struct Batch {
  torch::Tensor image;  // [B, 2k+1, H, W] float32, windowed to [0, 1]
  torch::Tensor label;  // [B, H, W] int64 (0 bg, 1 liver, 2 tumour); undefined for unlabelled
  torch::Tensor valid;  // [B, H, W] float32: 1 inside the scanner's field of view, 0 padding

  bool empty() const { return !image.defined() || image.size(0) == 0; }
  Batch to(const torch::Device& device) const;
};

}  // namespace aslseg::ssl
