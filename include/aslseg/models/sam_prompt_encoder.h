// Encodes SAM's prompts: points and box corners into sparse tokens (random Fourier position
// features plus learned type embeddings), a low-res mask into a dense embedding (or the learned
// no-mask embedding); matches PromptEncoder in segment_anything/modeling/prompt_encoder.py.
// Parameters: pe_layer, point_embeddings.{0..3}, not_a_point_embed, mask_downscaling.{0,1,3,4,6},
// no_mask_embed.
#pragma once

#include <torch/torch.h>

#include <array>
#include <utility>

#include "aslseg/models/sam_position_embedding_random.h"

namespace aslseg::models {

class SamPromptEncoderImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kNumPointEmbeddings = 4;  // negative, positive, box corner 1, 2

  // embed_dim: token width; image_embedding_size: the encoder's output grid (H, W);
  // input_image_size: the padded encoder input (H, W) point coordinates refer to.
  SamPromptEncoderImpl(int64_t embed_dim, std::array<int64_t, 2> image_embedding_size,
                       std::array<int64_t, 2> input_image_size, int64_t mask_in_chans);

  // Any argument may be undefined (the reference's None). point_coords [B, N, 2] (x, y) with
  // point_labels [B, N] (1 foreground, 0 background, -1 padding); boxes [B, 4] (x0, y0, x1, y1);
  // masks [B, 1, 4*H, 4*W]. Returns sparse [B, n_tokens, embed_dim] and dense
  // [B, embed_dim, H, W] embeddings.
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& point_coords,
                                                  const torch::Tensor& point_labels,
                                                  const torch::Tensor& boxes,
                                                  const torch::Tensor& masks);

  // Position encoding of the image-embedding grid: [1, embed_dim, H, W].
  torch::Tensor get_dense_pe();

  int64_t embed_dim() const { return embed_dim_; }
  std::array<int64_t, 2> image_embedding_size() const { return image_embedding_size_; }
  std::array<int64_t, 2> mask_input_size() const {
    return {kMaskScale * image_embedding_size_[0], kMaskScale * image_embedding_size_[1]};
  }

 private:
  static constexpr int64_t kMaskScale = 4;  // mask inputs are 4x the embedding grid

  torch::Tensor embed_points(const torch::Tensor& points, const torch::Tensor& labels, bool pad);
  torch::Tensor embed_boxes(const torch::Tensor& boxes);

  int64_t embed_dim_;
  std::array<int64_t, 2> image_embedding_size_;
  std::array<int64_t, 2> input_image_size_;
  SamPositionEmbeddingRandom pe_layer_{nullptr};
  torch::nn::ModuleList point_embeddings_{nullptr};
  torch::nn::Embedding not_a_point_embed_{nullptr};
  torch::nn::Sequential mask_downscaling_{nullptr};
  torch::nn::Embedding no_mask_embed_{nullptr};
};
TORCH_MODULE(SamPromptEncoder);

}  // namespace aslseg::models
