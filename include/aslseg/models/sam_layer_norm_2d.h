// Channel-wise LayerNorm of a [B, C, H, W] tensor; matches segment_anything/modeling/common.py
// LayerNorm2d (itself from detectron2 / ConvNeXt), eps 1e-6, same order of operations.
#pragma once

#include <torch/torch.h>

namespace aslseg::models {

class SamLayerNorm2dImpl : public torch::nn::Module {
 public:
  static constexpr double kDefaultEps = 1e-6;

  explicit SamLayerNorm2dImpl(int64_t num_channels, double eps = kDefaultEps);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  double eps_;
  torch::Tensor weight_;  // "weight", ones
  torch::Tensor bias_;    // "bias", zeros
};
TORCH_MODULE(SamLayerNorm2d);

}  // namespace aslseg::models
