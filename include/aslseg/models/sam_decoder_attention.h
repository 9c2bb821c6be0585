// Multi-head attention whose q/k/v projections may shrink the width by a downsample rate;
// matches Attention in segment_anything/modeling/transformer.py. Parameters: q_proj, k_proj,
// v_proj, out_proj.
#pragma once

#include <torch/torch.h>

namespace aslseg::models {

class SamDecoderAttentionImpl : public torch::nn::Module {
 public:
  SamDecoderAttentionImpl(int64_t embedding_dim, int64_t num_heads, int64_t downsample_rate = 1);
  // q [B, Nq, dim], k and v [B, Nk, dim] -> [B, Nq, dim].
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);

 private:
  torch::Tensor separate_heads(const torch::Tensor& x) const;
  static torch::Tensor recombine_heads(const torch::Tensor& x);

  int64_t num_heads_;
  torch::nn::Linear q_proj_{nullptr};
  torch::nn::Linear k_proj_{nullptr};
  torch::nn::Linear v_proj_{nullptr};
  torch::nn::Linear out_proj_{nullptr};
};
TORCH_MODULE(SamDecoderAttention);

}  // namespace aslseg::models
