#include "aslseg/models/sam_prompt_encoder.h"

#include <stdexcept>
#include <string>

#include "aslseg/models/sam_layer_norm_2d.h"

namespace aslseg::models {

namespace {

constexpr double kPixelCentre = 0.5;     // prompts are shifted to pixel centres
constexpr int64_t kDownscaleKernel = 2;  // mask_downscaling: two 2x2 stride-2 convolutions
constexpr int64_t kMaskHiddenDivisor = 4;
constexpr int64_t kLabelPadding = -1;
constexpr int64_t kLabelNegative = 0;
constexpr int64_t kLabelPositive = 1;
constexpr int64_t kBoxCorner0 = 2;  // indices into point_embeddings
constexpr int64_t kBoxCorner1 = 3;

torch::Tensor embedding_weight(const std::shared_ptr<torch::nn::Module>& m) {
  return m->as<torch::nn::Embedding>()->weight;
}

}  // namespace

SamPromptEncoderImpl::SamPromptEncoderImpl(int64_t embed_dim,
                                           std::array<int64_t, 2> image_embedding_size,
                                           std::array<int64_t, 2> input_image_size,
                                           int64_t mask_in_chans)
    : embed_dim_(embed_dim),
      image_embedding_size_(image_embedding_size),
      input_image_size_(input_image_size) {
  pe_layer_ = register_module("pe_layer", SamPositionEmbeddingRandom(embed_dim / 2));
  point_embeddings_ = register_module("point_embeddings", torch::nn::ModuleList());
  for (int64_t i = 0; i < kNumPointEmbeddings; ++i)
    point_embeddings_->push_back(torch::nn::Embedding(1, embed_dim));
  not_a_point_embed_ = register_module("not_a_point_embed", torch::nn::Embedding(1, embed_dim));
  const int64_t hidden = mask_in_chans / kMaskHiddenDivisor;
  mask_downscaling_ = register_module(
      "mask_downscaling",
      torch::nn::Sequential(
          torch::nn::Conv2d(
              torch::nn::Conv2dOptions(1, hidden, kDownscaleKernel).stride(kDownscaleKernel)),
          SamLayerNorm2d(hidden), torch::nn::GELU(),
          torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, mask_in_chans, kDownscaleKernel)
                                .stride(kDownscaleKernel)),
          SamLayerNorm2d(mask_in_chans), torch::nn::GELU(),
          torch::nn::Conv2d(torch::nn::Conv2dOptions(mask_in_chans, embed_dim, 1))));
  no_mask_embed_ = register_module("no_mask_embed", torch::nn::Embedding(1, embed_dim));
}

torch::Tensor SamPromptEncoderImpl::get_dense_pe() {
  return pe_layer_->forward(image_embedding_size_).unsqueeze(0);
}

torch::Tensor SamPromptEncoderImpl::embed_points(const torch::Tensor& points_in,
                                                 const torch::Tensor& labels_in, bool pad) {
  torch::Tensor points = points_in + kPixelCentre;
  torch::Tensor labels = labels_in;
  if (pad) {
    const auto opts = torch::TensorOptions().device(points.device());
    const torch::Tensor padding_point = torch::zeros({points.size(0), 1, 2}, opts);
    const torch::Tensor padding_label = -torch::ones({labels.size(0), 1}, opts);
    points = torch::cat({points, padding_point.to(points.scalar_type())}, 1);
    labels = torch::cat({labels.to(torch::kFloat), padding_label}, 1);
  }
  torch::Tensor pe = pe_layer_->forward_with_coords(points, input_image_size_);
  const torch::Tensor l = labels.unsqueeze(-1);
  // Padding points: the embedding is replaced by not_a_point_embed (0 + weight).
  pe = torch::where(l == kLabelPadding, torch::zeros_like(pe), pe);
  pe = torch::where(l == kLabelPadding, pe + not_a_point_embed_->weight, pe);
  pe = torch::where(l == kLabelNegative, pe + embedding_weight(point_embeddings_[0]), pe);
  pe = torch::where(l == kLabelPositive, pe + embedding_weight(point_embeddings_[1]), pe);
  return pe;
}

torch::Tensor SamPromptEncoderImpl::embed_boxes(const torch::Tensor& boxes) {
  const torch::Tensor coords = (boxes + kPixelCentre).reshape({-1, 2, 2});
  const torch::Tensor corners = pe_layer_->forward_with_coords(coords, input_image_size_);
  using torch::indexing::Slice;
  const torch::Tensor c0 =
      corners.index({Slice(), Slice(0, 1)}) + embedding_weight(point_embeddings_[kBoxCorner0]);
  const torch::Tensor c1 =
      corners.index({Slice(), Slice(1, 2)}) + embedding_weight(point_embeddings_[kBoxCorner1]);
  return torch::cat({c0, c1}, 1);
}

std::pair<torch::Tensor, torch::Tensor> SamPromptEncoderImpl::forward(
    const torch::Tensor& point_coords, const torch::Tensor& point_labels,
    const torch::Tensor& boxes, const torch::Tensor& masks) {
  if (point_coords.defined() != point_labels.defined())
    throw std::invalid_argument("sam prompt: point_coords and point_labels go together");
  int64_t bs = 1;
  if (point_coords.defined())
    bs = point_coords.size(0);
  else if (boxes.defined())
    bs = boxes.size(0);
  else if (masks.defined())
    bs = masks.size(0);
  const auto device = not_a_point_embed_->weight.device();
  torch::Tensor sparse = torch::empty({bs, 0, embed_dim_}, torch::TensorOptions().device(device));
  if (point_coords.defined()) {
    if (point_coords.dim() != 3 || point_coords.size(2) != 2 || point_labels.dim() != 2 ||
        point_labels.size(0) != point_coords.size(0) ||
        point_labels.size(1) != point_coords.size(1))
      throw std::invalid_argument(
          "sam prompt: expected point_coords [B, N, 2] and labels [B, N], "
          "got " +
          c10::str(point_coords.sizes()) + " and " + c10::str(point_labels.sizes()));
    sparse = torch::cat({sparse, embed_points(point_coords, point_labels, !boxes.defined())}, 1);
  }
  if (boxes.defined()) {
    if (boxes.size(-1) != 4 || boxes.numel() / 4 != bs)
      throw std::invalid_argument("sam prompt: expected boxes [B, 4], got " +
                                  c10::str(boxes.sizes()));
    sparse = torch::cat({sparse, embed_boxes(boxes)}, 1);
  }
  torch::Tensor dense;
  if (masks.defined()) {
    const auto expected = mask_input_size();
    if (masks.dim() != 4 || masks.size(1) != 1 || masks.size(2) != expected[0] ||
        masks.size(3) != expected[1])
      throw std::invalid_argument("sam prompt: expected mask_inputs [B, 1, " +
                                  std::to_string(expected[0]) + ", " + std::to_string(expected[1]) +
                                  "], got " + c10::str(masks.sizes()));
    dense = mask_downscaling_->forward(masks);
  } else {
    dense = no_mask_embed_->weight.reshape({1, -1, 1, 1})
                .expand({bs, -1, image_embedding_size_[0], image_embedding_size_[1]});
  }
  return {sparse, dense};
}

}  // namespace aslseg::models
