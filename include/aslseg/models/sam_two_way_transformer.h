// SAM's two-way transformer between prompt tokens and the image embedding, ending with a final
// token-to-image attention; matches TwoWayTransformer in segment_anything/modeling/transformer.py.
// Parameters: layers.N, final_attn_token_to_image, norm_final_attn.
#pragma once

#include <torch/torch.h>

#include <utility>

#include "aslseg/models/sam_decoder_attention.h"

namespace aslseg::models {

class SamTwoWayTransformerImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kAttentionDownsampleRate = 2;

  SamTwoWayTransformerImpl(int64_t depth, int64_t embedding_dim, int64_t num_heads, int64_t mlp_dim,
                           int64_t attention_downsample_rate = kAttentionDownsampleRate);

  // image_embedding and image_pe [B, C, h, w], point_embedding [B, N, C] ->
  // (queries [B, N, C], keys [B, h*w, C]).
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& image_embedding,
                                                  const torch::Tensor& image_pe,
                                                  const torch::Tensor& point_embedding);

 private:
  torch::nn::ModuleList layers_{nullptr};
  SamDecoderAttention final_attn_token_to_image_{nullptr};
  torch::nn::LayerNorm norm_final_attn_{nullptr};
};
TORCH_MODULE(SamTwoWayTransformer);

}  // namespace aslseg::models
