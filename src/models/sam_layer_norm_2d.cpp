#include "aslseg/models/sam_layer_norm_2d.h"

namespace aslseg::models {

namespace {
constexpr int64_t kChannelDim = 1;
}  // namespace

SamLayerNorm2dImpl::SamLayerNorm2dImpl(int64_t num_channels, double eps) : eps_(eps) {
  weight_ = register_parameter("weight", torch::ones({num_channels}));
  bias_ = register_parameter("bias", torch::zeros({num_channels}));
}

torch::Tensor SamLayerNorm2dImpl::forward(const torch::Tensor& x) {
  const torch::Tensor u = x.mean(kChannelDim, /*keepdim=*/true);
  const torch::Tensor centred = x - u;
  const torch::Tensor s = centred.pow(2).mean(kChannelDim, /*keepdim=*/true);
  const torch::Tensor normed = centred / torch::sqrt(s + eps_);
  return weight_.view({-1, 1, 1}) * normed + bias_.view({-1, 1, 1});
}

}  // namespace aslseg::models
