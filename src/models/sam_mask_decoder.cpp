#include "aslseg/models/sam_mask_decoder.h"

#include <vector>

#include "aslseg/models/sam_layer_norm_2d.h"

namespace aslseg::models {

namespace {
constexpr int64_t kUpscaleKernel = 2;        // two 2x2 stride-2 transposed convolutions
constexpr int64_t kFirstUpscaleDivisor = 4;  // transformer_dim -> dim / 4 -> dim / 8
constexpr int64_t kSecondUpscaleDivisor = 8;
constexpr int64_t kHypernetworkLayers = 3;
}  // namespace

SamMaskDecoderImpl::SamMaskDecoderImpl(const SamConfig& c)
    : num_mask_tokens_(c.num_multimask_outputs + 1) {
  const int64_t dim = c.out_chans;
  transformer_ = register_module(
      "transformer",
      SamTwoWayTransformer(c.decoder_depth, dim, c.decoder_num_heads, c.decoder_mlp_dim));
  iou_token_ = register_module("iou_token", torch::nn::Embedding(1, dim));
  mask_tokens_ = register_module("mask_tokens", torch::nn::Embedding(num_mask_tokens_, dim));
  const int64_t quarter = dim / kFirstUpscaleDivisor;
  const int64_t eighth = dim / kSecondUpscaleDivisor;
  output_upscaling_ = register_module(
      "output_upscaling",
      torch::nn::Sequential(
          torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(dim, quarter, kUpscaleKernel)
                                         .stride(kUpscaleKernel)),
          SamLayerNorm2d(quarter), torch::nn::GELU(),
          torch::nn::ConvTranspose2d(
              torch::nn::ConvTranspose2dOptions(quarter, eighth, kUpscaleKernel)
                  .stride(kUpscaleKernel)),
          torch::nn::GELU()));
  output_hypernetworks_mlps_ =
      register_module("output_hypernetworks_mlps", torch::nn::ModuleList());
  for (int64_t i = 0; i < num_mask_tokens_; ++i)
    output_hypernetworks_mlps_->push_back(SamMLP(dim, dim, eighth, kHypernetworkLayers));
  iou_prediction_head_ =
      register_module("iou_prediction_head",
                      SamMLP(dim, c.iou_head_hidden_dim, num_mask_tokens_, c.iou_head_depth));
}

std::pair<torch::Tensor, torch::Tensor> SamMaskDecoderImpl::forward(
    const torch::Tensor& image_embeddings, const torch::Tensor& image_pe,
    const torch::Tensor& sparse_prompt_embeddings, const torch::Tensor& dense_prompt_embeddings,
    bool multimask_output) {
  auto [masks, iou_pred] =
      predict_masks(image_embeddings, image_pe, sparse_prompt_embeddings, dense_prompt_embeddings);
  using torch::indexing::None;
  using torch::indexing::Slice;
  const Slice mask_slice = multimask_output ? Slice(1, None) : Slice(0, 1);
  return {masks.index({Slice(), mask_slice}), iou_pred.index({Slice(), mask_slice})};
}

std::pair<torch::Tensor, torch::Tensor> SamMaskDecoderImpl::predict_masks(
    const torch::Tensor& image_embeddings, const torch::Tensor& image_pe,
    const torch::Tensor& sparse_prompt_embeddings, const torch::Tensor& dense_prompt_embeddings) {
  torch::Tensor output_tokens = torch::cat({iou_token_->weight, mask_tokens_->weight}, 0);
  output_tokens = output_tokens.unsqueeze(0).expand({sparse_prompt_embeddings.size(0), -1, -1});
  const torch::Tensor tokens = torch::cat({output_tokens, sparse_prompt_embeddings}, 1);

  torch::Tensor src = torch::repeat_interleave(image_embeddings, tokens.size(0), 0);
  src = src + dense_prompt_embeddings;
  const torch::Tensor pos_src = torch::repeat_interleave(image_pe, tokens.size(0), 0);
  const int64_t b = src.size(0), c = src.size(1), h = src.size(2), w = src.size(3);

  auto [hs, keys] = transformer_->forward(src, pos_src, tokens);
  using torch::indexing::Slice;
  const torch::Tensor iou_token_out = hs.index({Slice(), 0, Slice()});
  const torch::Tensor mask_tokens_out =
      hs.index({Slice(), Slice(1, 1 + num_mask_tokens_), Slice()});

  const torch::Tensor upscaled =
      output_upscaling_->forward(keys.transpose(1, 2).view({b, c, h, w}));
  std::vector<torch::Tensor> hyper_in_list;
  hyper_in_list.reserve(num_mask_tokens_);
  for (int64_t i = 0; i < num_mask_tokens_; ++i)
    hyper_in_list.push_back(output_hypernetworks_mlps_[i]->as<SamMLP>()->forward(
        mask_tokens_out.index({Slice(), i, Slice()})));
  const torch::Tensor hyper_in = torch::stack(hyper_in_list, 1);
  const int64_t ub = upscaled.size(0), uc = upscaled.size(1), uh = upscaled.size(2),
                uw = upscaled.size(3);
  const torch::Tensor masks =
      torch::matmul(hyper_in, upscaled.view({ub, uc, uh * uw})).view({ub, -1, uh, uw});
  const torch::Tensor iou_pred = iou_prediction_head_->forward(iou_token_out);
  return {masks, iou_pred};
}

}  // namespace aslseg::models
