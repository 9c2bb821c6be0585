#include "aslseg/models/sam_two_way_attention_block.h"

namespace aslseg::models {

namespace {
// nn.LayerNorm's default eps: the decoder does not override it.
torch::nn::LayerNorm make_norm(int64_t dim) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}));
}
}  // namespace

SamTwoWayAttentionBlockImpl::SamTwoWayAttentionBlockImpl(int64_t embedding_dim, int64_t num_heads,
                                                         int64_t mlp_dim,
                                                         int64_t attention_downsample_rate,
                                                         bool skip_first_layer_pe)
    : skip_first_layer_pe_(skip_first_layer_pe) {
  self_attn_ = register_module("self_attn", SamDecoderAttention(embedding_dim, num_heads));
  norm1_ = register_module("norm1", make_norm(embedding_dim));
  cross_attn_token_to_image_ =
      register_module("cross_attn_token_to_image",
                      SamDecoderAttention(embedding_dim, num_heads, attention_downsample_rate));
  norm2_ = register_module("norm2", make_norm(embedding_dim));
  mlp_ = register_module("mlp", SamMLPBlock(embedding_dim, mlp_dim, SamActivation::kRelu));
  norm3_ = register_module("norm3", make_norm(embedding_dim));
  norm4_ = register_module("norm4", make_norm(embedding_dim));
  cross_attn_image_to_token_ =
      register_module("cross_attn_image_to_token",
                      SamDecoderAttention(embedding_dim, num_heads, attention_downsample_rate));
}

std::pair<torch::Tensor, torch::Tensor> SamTwoWayAttentionBlockImpl::forward(
    const torch::Tensor& queries_in, const torch::Tensor& keys_in, const torch::Tensor& query_pe,
    const torch::Tensor& key_pe) {
  torch::Tensor queries = queries_in;
  torch::Tensor keys = keys_in;
  // Self-attention of the tokens (the first layer replaces them instead of adding).
  if (skip_first_layer_pe_) {
    queries = self_attn_->forward(queries, queries, queries);
  } else {
    const torch::Tensor q = queries + query_pe;
    queries = queries + self_attn_->forward(q, q, queries);
  }
  queries = norm1_->forward(queries);

  // Tokens attend to the image.
  {
    const torch::Tensor q = queries + query_pe;
    const torch::Tensor k = keys + key_pe;
    queries = queries + cross_attn_token_to_image_->forward(q, k, keys);
    queries = norm2_->forward(queries);
  }

  queries = queries + mlp_->forward(queries);
  queries = norm3_->forward(queries);

  // The image attends to the tokens.
  {
    const torch::Tensor q = queries + query_pe;
    const torch::Tensor k = keys + key_pe;
    keys = keys + cross_attn_image_to_token_->forward(k, q, queries);
    keys = norm4_->forward(keys);
  }
  return {queries, keys};
}

}  // namespace aslseg::models
