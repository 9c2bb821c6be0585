#include "aslseg/models/sam_decoder_attention.h"

#include <cmath>
#include <stdexcept>

namespace aslseg::models {

SamDecoderAttentionImpl::SamDecoderAttentionImpl(int64_t embedding_dim, int64_t num_heads,
                                                 int64_t downsample_rate)
    : num_heads_(num_heads) {
  const int64_t internal_dim = embedding_dim / downsample_rate;
  if (num_heads < 1 || internal_dim % num_heads != 0)
    throw std::invalid_argument("sam decoder attention: num_heads must divide embedding_dim / " +
                                std::to_string(downsample_rate));
  q_proj_ = register_module("q_proj", torch::nn::Linear(embedding_dim, internal_dim));
  k_proj_ = register_module("k_proj", torch::nn::Linear(embedding_dim, internal_dim));
  v_proj_ = register_module("v_proj", torch::nn::Linear(embedding_dim, internal_dim));
  out_proj_ = register_module("out_proj", torch::nn::Linear(internal_dim, embedding_dim));
}

torch::Tensor SamDecoderAttentionImpl::separate_heads(const torch::Tensor& x) const {
  const int64_t b = x.size(0), n = x.size(1), c = x.size(2);
  return x.reshape({b, n, num_heads_, c / num_heads_}).transpose(1, 2);  // B x heads x N x c
}

torch::Tensor SamDecoderAttentionImpl::recombine_heads(const torch::Tensor& x) {
  const int64_t b = x.size(0), heads = x.size(1), n = x.size(2), c = x.size(3);
  return x.transpose(1, 2).reshape({b, n, heads * c});
}

torch::Tensor SamDecoderAttentionImpl::forward(const torch::Tensor& q_in, const torch::Tensor& k_in,
                                               const torch::Tensor& v_in) {
  const torch::Tensor q = separate_heads(q_proj_->forward(q_in));
  const torch::Tensor k = separate_heads(k_proj_->forward(k_in));
  const torch::Tensor v = separate_heads(v_proj_->forward(v_in));
  const int64_t c_per_head = q.size(3);
  torch::Tensor attn = torch::matmul(q, k.permute({0, 1, 3, 2}));
  attn = attn / std::sqrt(static_cast<double>(c_per_head));
  attn = torch::softmax(attn, -1);
  return out_proj_->forward(recombine_heads(torch::matmul(attn, v)));
}

}  // namespace aslseg::models
