#include "aslseg/models/sam_encoder_block.h"

#include "aslseg/models/sam_window.h"

namespace aslseg::models {

namespace {
torch::nn::LayerNorm make_norm(int64_t dim) {
  return torch::nn::LayerNorm(
      torch::nn::LayerNormOptions({dim}).eps(SamEncoderBlockImpl::kNormEps));
}
}  // namespace

SamEncoderBlockImpl::SamEncoderBlockImpl(const SamEncoderBlockOptions& o)
    : window_size_(o.window_size) {
  const std::array<int64_t, 2> attn_size =
      o.window_size == 0 ? o.input_size : std::array<int64_t, 2>{o.window_size, o.window_size};
  norm1_ = register_module("norm1", make_norm(o.dim));
  attn_ = register_module(
      "attn", SamEncoderAttention(o.dim, o.num_heads, o.qkv_bias, o.use_rel_pos, attn_size));
  norm2_ = register_module("norm2", make_norm(o.dim));
  // int(dim * mlp_ratio), truncated as the reference does.
  const auto mlp_dim = static_cast<int64_t>(static_cast<double>(o.dim) * o.mlp_ratio);
  mlp_ = register_module("mlp", SamMLPBlock(o.dim, mlp_dim, SamActivation::kGelu));
}

torch::Tensor SamEncoderBlockImpl::forward(const torch::Tensor& x) {
  const torch::Tensor shortcut = x;
  torch::Tensor h = norm1_->forward(x);
  if (window_size_ > 0) {
    const std::array<int64_t, 2> hw{h.size(1), h.size(2)};
    SamWindows parts = sam_window_partition(h, window_size_);
    h = attn_->forward(parts.windows);
    h = sam_window_unpartition(h, window_size_, parts.padded_hw, hw);
  } else {
    h = attn_->forward(h);
  }
  h = shortcut + h;
  return h + mlp_->forward(norm2_->forward(h));
}

}  // namespace aslseg::models
