// Multi-head self-attention of a ViT block over a [B, H, W, C] token grid, with MViTv2's
// decomposed relative position bias; matches Attention, get_rel_pos and add_decomposed_rel_pos
// in segment_anything/modeling/image_encoder.py (from ViTDet). Parameters: qkv, proj,
// rel_pos_h, rel_pos_w.
#pragma once

#include <torch/torch.h>

#include <array>

namespace aslseg::models {

// Relative position embeddings [q_size, k_size, C] for every (query, key) pair along one axis;
// rel_pos [L, C] is linearly resized to 2 * max(q_size, k_size) - 1 rows when L differs.
torch::Tensor sam_get_rel_pos(int64_t q_size, int64_t k_size, const torch::Tensor& rel_pos);

// attn [B, q_h*q_w, k_h*k_w] plus the decomposed bias computed from q [B, q_h*q_w, C].
torch::Tensor sam_add_decomposed_rel_pos(const torch::Tensor& attn, const torch::Tensor& q,
                                         const torch::Tensor& rel_pos_h,
                                         const torch::Tensor& rel_pos_w,
                                         std::array<int64_t, 2> q_size,
                                         std::array<int64_t, 2> k_size);

class SamEncoderAttentionImpl : public torch::nn::Module {
 public:
  // input_size: the token grid (H, W) the relative position tables are sized for (the window,
  // or the whole grid for a global block); used only with use_rel_pos.
  SamEncoderAttentionImpl(int64_t dim, int64_t num_heads, bool qkv_bias, bool use_rel_pos,
                          std::array<int64_t, 2> input_size);

  // x: [B, H, W, dim] -> [B, H, W, dim].
  torch::Tensor forward(const torch::Tensor& x);

 private:
  int64_t num_heads_;
  double scale_;
  bool use_rel_pos_;
  torch::nn::Linear qkv_{nullptr};
  torch::nn::Linear proj_{nullptr};
  torch::Tensor rel_pos_h_;
  torch::Tensor rel_pos_w_;
};
TORCH_MODULE(SamEncoderAttention);

}  // namespace aslseg::models
