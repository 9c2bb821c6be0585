// One layer of SAM's two-way transformer: token self-attention, token-to-image cross-attention,
// a ReLU MLP on the tokens, image-to-token cross-attention, each followed by a LayerNorm;
// matches TwoWayAttentionBlock in segment_anything/modeling/transformer.py. Parameters:
// self_attn, norm1, cross_attn_token_to_image, norm2, mlp, norm3, norm4,
// cross_attn_image_to_token.
#pragma once

#include <torch/torch.h>

#include <utility>

#include "aslseg/models/sam_decoder_attention.h"
#include "aslseg/models/sam_mlp_block.h"

namespace aslseg::models {

class SamTwoWayAttentionBlockImpl : public torch::nn::Module {
 public:
  SamTwoWayAttentionBlockImpl(int64_t embedding_dim, int64_t num_heads, int64_t mlp_dim,
                              int64_t attention_downsample_rate, bool skip_first_layer_pe);

  // Returns the updated (queries, keys).
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& queries,
                                                  const torch::Tensor& keys,
                                                  const torch::Tensor& query_pe,
                                                  const torch::Tensor& key_pe);

 private:
  bool skip_first_layer_pe_;
  SamDecoderAttention self_attn_{nullptr};
  torch::nn::LayerNorm norm1_{nullptr};
  SamDecoderAttention cross_attn_token_to_image_{nullptr};
  torch::nn::LayerNorm norm2_{nullptr};
  SamMLPBlock mlp_{nullptr};
  torch::nn::LayerNorm norm3_{nullptr};
  torch::nn::LayerNorm norm4_{nullptr};
  SamDecoderAttention cross_attn_image_to_token_{nullptr};
};
TORCH_MODULE(SamTwoWayAttentionBlock);

}  // namespace aslseg::models
