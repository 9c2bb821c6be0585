#include "aslseg/models/sam_two_way_transformer.h"

#include "aslseg/models/sam_two_way_attention_block.h"

namespace aslseg::models {

SamTwoWayTransformerImpl::SamTwoWayTransformerImpl(int64_t depth, int64_t embedding_dim,
                                                   int64_t num_heads, int64_t mlp_dim,
                                                   int64_t attention_downsample_rate) {
  layers_ = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < depth; ++i)
    layers_->push_back(SamTwoWayAttentionBlock(embedding_dim, num_heads, mlp_dim,
                                               attention_downsample_rate,
                                               /*skip_first_layer_pe=*/i == 0));
  final_attn_token_to_image_ =
      register_module("final_attn_token_to_image",
                      SamDecoderAttention(embedding_dim, num_heads, attention_downsample_rate));
  norm_final_attn_ = register_module(
      "norm_final_attn", torch::nn::LayerNorm(torch::nn::LayerNormOptions({embedding_dim})));
}

std::pair<torch::Tensor, torch::Tensor> SamTwoWayTransformerImpl::forward(
    const torch::Tensor& image_embedding, const torch::Tensor& image_pe,
    const torch::Tensor& point_embedding) {
  // B x C x h x w -> B x h*w x C
  const torch::Tensor image_tokens = image_embedding.flatten(2).permute({0, 2, 1});
  const torch::Tensor pe_tokens = image_pe.flatten(2).permute({0, 2, 1});
  torch::Tensor queries = point_embedding;
  torch::Tensor keys = image_tokens;
  for (const auto& layer : *layers_)
    std::tie(queries, keys) =
        layer->as<SamTwoWayAttentionBlock>()->forward(queries, keys, point_embedding, pe_tokens);
  const torch::Tensor q = queries + point_embedding;
  const torch::Tensor k = keys + pe_tokens;
  queries = queries + final_attn_token_to_image_->forward(q, k, keys);
  queries = norm_final_attn_->forward(queries);
  return {queries, keys};
}

}  // namespace aslseg::models
