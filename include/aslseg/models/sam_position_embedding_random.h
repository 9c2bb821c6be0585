// Random Fourier features of 2D positions (Tancik et al. 2020) for points and for the dense
// image-embedding grid; matches PositionEmbeddingRandom in
// segment_anything/modeling/prompt_encoder.py. Buffer: positional_encoding_gaussian_matrix.
#pragma once

#include <torch/torch.h>

#include <array>

namespace aslseg::models {

class SamPositionEmbeddingRandomImpl : public torch::nn::Module {
 public:
  explicit SamPositionEmbeddingRandomImpl(int64_t num_pos_feats, double scale = 1.0);

  // Encoding of the centres of an (h, w) grid: [2 * num_pos_feats, h, w].
  torch::Tensor forward(std::array<int64_t, 2> size);
  // coords [B, N, 2] as (x, y) pixels in an image of image_size (h, w) -> [B, N, 2 * feats].
  torch::Tensor forward_with_coords(const torch::Tensor& coords, std::array<int64_t, 2> image_size);

 private:
  // coords in [0, 1] -> [..., 2 * feats] (sin, cos).
  torch::Tensor pe_encoding(const torch::Tensor& coords);

  torch::Tensor gaussian_matrix_;
};
TORCH_MODULE(SamPositionEmbeddingRandom);

}  // namespace aslseg::models
