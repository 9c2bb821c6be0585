#include "aslseg/models/sam_position_embedding_random.h"

#include <cmath>

namespace aslseg::models {

namespace {
constexpr int64_t kCoordDims = 2;     // (x, y)
constexpr double kPixelCentre = 0.5;  // grid cells are encoded at their centres
// 2 * np.pi as one double, as the reference multiplies by it.
constexpr double kTwoPi = 2.0 * 3.14159265358979323846;
}  // namespace

SamPositionEmbeddingRandomImpl::SamPositionEmbeddingRandomImpl(int64_t num_pos_feats,
                                                               double scale) {
  if (!(scale > 0.0)) scale = 1.0;
  gaussian_matrix_ = register_buffer("positional_encoding_gaussian_matrix",
                                     scale * torch::randn({kCoordDims, num_pos_feats}));
}

torch::Tensor SamPositionEmbeddingRandomImpl::pe_encoding(const torch::Tensor& coords) {
  torch::Tensor c = 2 * coords - 1;
  c = torch::matmul(c, gaussian_matrix_);
  c = kTwoPi * c;
  return torch::cat({torch::sin(c), torch::cos(c)}, -1);
}

torch::Tensor SamPositionEmbeddingRandomImpl::forward(std::array<int64_t, 2> size) {
  const auto [h, w] = size;
  const torch::Tensor grid = torch::ones(
      {h, w}, torch::TensorOptions().dtype(torch::kFloat32).device(gaussian_matrix_.device()));
  torch::Tensor y_embed = grid.cumsum(0) - kPixelCentre;
  torch::Tensor x_embed = grid.cumsum(1) - kPixelCentre;
  y_embed = y_embed / h;
  x_embed = x_embed / w;
  return pe_encoding(torch::stack({x_embed, y_embed}, -1)).permute({2, 0, 1});
}

torch::Tensor SamPositionEmbeddingRandomImpl::forward_with_coords(
    const torch::Tensor& coords_input, std::array<int64_t, 2> image_size) {
  torch::Tensor coords = coords_input.clone();
  using torch::indexing::Slice;
  coords.index_put_({Slice(), Slice(), 0}, coords.index({Slice(), Slice(), 0}) / image_size[1]);
  coords.index_put_({Slice(), Slice(), 1}, coords.index({Slice(), Slice(), 1}) / image_size[0]);
  return pe_encoding(coords.to(torch::kFloat));
}

}  // namespace aslseg::models
