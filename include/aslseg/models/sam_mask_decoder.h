// SAM's mask decoder: output tokens (IoU + 1 + num_multimask_outputs masks) and prompt tokens
// run through the two-way transformer; the image side is upscaled 4x and dotted with per-token
// hypernetwork MLPs; an MLP head predicts each mask's IoU. Matches MaskDecoder in
// segment_anything/modeling/mask_decoder.py. Parameters: transformer, iou_token, mask_tokens,
// output_upscaling.{0,1,3}, output_hypernetworks_mlps.N, iou_prediction_head.
#pragma once

#include <torch/torch.h>

#include <utility>

#include "aslseg/models/sam_config.h"
#include "aslseg/models/sam_mlp.h"
#include "aslseg/models/sam_two_way_transformer.h"

namespace aslseg::models {

class SamMaskDecoderImpl : public torch::nn::Module {
 public:
  explicit SamMaskDecoderImpl(const SamConfig& config);

  // image_embeddings [1 or B, C, h, w] (repeated per prompt set), image_pe [1, C, h, w],
  // sparse [B, N, C], dense [B, C, h, w] -> (masks [B, M, 4h, 4w], iou [B, M]) with M the
  // multimask outputs (masks 1..) or the single mask (mask 0).
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& image_embeddings,
                                                  const torch::Tensor& image_pe,
                                                  const torch::Tensor& sparse_prompt_embeddings,
                                                  const torch::Tensor& dense_prompt_embeddings,
                                                  bool multimask_output);

  // All num_mask_tokens masks and IoU predictions, before the multimask slicing.
  std::pair<torch::Tensor, torch::Tensor> predict_masks(
      const torch::Tensor& image_embeddings, const torch::Tensor& image_pe,
      const torch::Tensor& sparse_prompt_embeddings, const torch::Tensor& dense_prompt_embeddings);

  int64_t num_mask_tokens() const { return num_mask_tokens_; }

 private:
  int64_t num_mask_tokens_;
  SamTwoWayTransformer transformer_{nullptr};
  torch::nn::Embedding iou_token_{nullptr};
  torch::nn::Embedding mask_tokens_{nullptr};
  torch::nn::Sequential output_upscaling_{nullptr};
  torch::nn::ModuleList output_hypernetworks_mlps_{nullptr};
  SamMLP iou_prediction_head_{nullptr};
};
TORCH_MODULE(SamMaskDecoder);

}  // namespace aslseg::models
