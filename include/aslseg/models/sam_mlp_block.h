// Two-layer MLP of a transformer block (lin1 -> activation -> lin2); matches
// segment_anything/modeling/common.py MLPBlock. The image encoder uses GELU (exact), the
// mask decoder's TwoWayTransformer ReLU.
#pragma once

#include <torch/torch.h>

namespace aslseg::models {

enum class SamActivation { kGelu, kRelu };

class SamMLPBlockImpl : public torch::nn::Module {
 public:
  SamMLPBlockImpl(int64_t embedding_dim, int64_t mlp_dim, SamActivation act);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  SamActivation act_;
  torch::nn::Linear lin1_{nullptr};
  torch::nn::Linear lin2_{nullptr};
};
TORCH_MODULE(SamMLPBlock);

// The activation as nn.GELU() / nn.ReLU() compute it.
torch::Tensor sam_activate(const torch::Tensor& x, SamActivation act);

}  // namespace aslseg::models
