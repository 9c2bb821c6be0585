#include "aslseg/models/sam_encoder_attention.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace aslseg::models {

namespace {
constexpr int64_t kQkv = 3;  // q, k and v come out of one projection
constexpr double kInverseSqrtExponent = -0.5;
}  // namespace

torch::Tensor sam_get_rel_pos(int64_t q_size, int64_t k_size, const torch::Tensor& rel_pos) {
  const int64_t max_rel_dist = 2 * std::max(q_size, k_size) - 1;
  torch::Tensor resized = rel_pos;
  if (rel_pos.size(0) != max_rel_dist) {
    namespace F = torch::nn::functional;
    resized = F::interpolate(rel_pos.reshape({1, rel_pos.size(0), -1}).permute({0, 2, 1}),
                             F::InterpolateFuncOptions()
                                 .size(std::vector<int64_t>{max_rel_dist})
                                 .mode(torch::kLinear)
                                 .align_corners(false));
    resized = resized.reshape({-1, max_rel_dist}).permute({1, 0});
  }
  // Scale the coordinates of the shorter side when q and k sizes differ (as the reference,
  // in float32 before truncating to indices).
  const double q_scale = std::max(static_cast<double>(k_size) / static_cast<double>(q_size), 1.0);
  const double k_scale = std::max(static_cast<double>(q_size) / static_cast<double>(k_size), 1.0);
  const auto device = rel_pos.device();
  const torch::Tensor q_coords =
      torch::arange(q_size, torch::TensorOptions().dtype(torch::kLong).device(device))
          .unsqueeze(1) *
      q_scale;
  const torch::Tensor k_coords =
      torch::arange(k_size, torch::TensorOptions().dtype(torch::kLong).device(device))
          .unsqueeze(0) *
      k_scale;
  const torch::Tensor relative_coords =
      (q_coords - k_coords) + static_cast<double>(k_size - 1) * k_scale;
  return resized.index({relative_coords.to(torch::kLong)});
}

torch::Tensor sam_add_decomposed_rel_pos(const torch::Tensor& attn, const torch::Tensor& q,
                                         const torch::Tensor& rel_pos_h,
                                         const torch::Tensor& rel_pos_w,
                                         std::array<int64_t, 2> q_size,
                                         std::array<int64_t, 2> k_size) {
  const auto [q_h, q_w] = q_size;
  const auto [k_h, k_w] = k_size;
  const torch::Tensor rh = sam_get_rel_pos(q_h, k_h, rel_pos_h);
  const torch::Tensor rw = sam_get_rel_pos(q_w, k_w, rel_pos_w);
  const int64_t b = q.size(0), dim = q.size(2);
  const torch::Tensor r_q = q.reshape({b, q_h, q_w, dim});
  const torch::Tensor rel_h = torch::einsum("bhwc,hkc->bhwk", {r_q, rh});
  const torch::Tensor rel_w = torch::einsum("bhwc,wkc->bhwk", {r_q, rw});
  return (attn.view({b, q_h, q_w, k_h, k_w}) + rel_h.unsqueeze(4) + rel_w.unsqueeze(3))
      .view({b, q_h * q_w, k_h * k_w});
}

SamEncoderAttentionImpl::SamEncoderAttentionImpl(int64_t dim, int64_t num_heads, bool qkv_bias,
                                                 bool use_rel_pos,
                                                 std::array<int64_t, 2> input_size)
    : num_heads_(num_heads), use_rel_pos_(use_rel_pos) {
  if (num_heads < 1 || dim % num_heads != 0)
    throw std::invalid_argument("sam attention: num_heads must divide dim");
  const int64_t head_dim = dim / num_heads;
  scale_ = std::pow(static_cast<double>(head_dim), kInverseSqrtExponent);
  qkv_ = register_module(
      "qkv", torch::nn::Linear(torch::nn::LinearOptions(dim, kQkv * dim).bias(qkv_bias)));
  proj_ = register_module("proj", torch::nn::Linear(dim, dim));
  if (use_rel_pos_) {
    rel_pos_h_ = register_parameter("rel_pos_h", torch::zeros({2 * input_size[0] - 1, head_dim}));
    rel_pos_w_ = register_parameter("rel_pos_w", torch::zeros({2 * input_size[1] - 1, head_dim}));
  }
}

torch::Tensor SamEncoderAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t b = x.size(0), h = x.size(1), w = x.size(2);
  // qkv: [3, B, heads, H*W, head_dim]
  const torch::Tensor qkv =
      qkv_->forward(x).reshape({b, h * w, kQkv, num_heads_, -1}).permute({2, 0, 3, 1, 4});
  // q, k, v: [B*heads, H*W, head_dim]
  const auto qkv_split = qkv.reshape({kQkv, b * num_heads_, h * w, -1}).unbind(0);
  const torch::Tensor& q = qkv_split[0];
  const torch::Tensor& k = qkv_split[1];
  const torch::Tensor& v = qkv_split[2];

  torch::Tensor attn = torch::matmul(q * scale_, k.transpose(-2, -1));
  if (use_rel_pos_)
    attn = sam_add_decomposed_rel_pos(attn, q, rel_pos_h_, rel_pos_w_, {h, w}, {h, w});
  attn = attn.softmax(-1);
  const torch::Tensor out = torch::matmul(attn, v)
                                .view({b, num_heads_, h, w, -1})
                                .permute({0, 2, 3, 1, 4})
                                .reshape({b, h, w, -1});
  return proj_->forward(out);
}

}  // namespace aslseg::models
