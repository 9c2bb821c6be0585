// Prompts for SamPredictor: B prompt sets for one slice, in SLICE pixel coordinates (x = column
// = voxel index along the volume's x axis, y = row = index along y; see resize_longest_side.h).
// Each set may hold a box, points, or both; all sets of one call have the same number of
// points (pad with label -1, which SAM ignores).
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aslseg::sam {

// SAM's point labels.
constexpr int64_t kPointNegative = 0;
constexpr int64_t kPointPositive = 1;
constexpr int64_t kPointPadding = -1;

struct SamPrompts {
  torch::Tensor boxes;         // [B, 4] float (x0, y0, x1, y1) or undefined
  torch::Tensor point_coords;  // [B, N, 2] float (x, y) or undefined
  torch::Tensor point_labels;  // [B, N] int64 (1 positive, 0 negative, -1 padding)
  torch::Tensor mask_inputs;   // [B, 1, 4*emb, 4*emb] low-res logits of an earlier pass, or
                               // undefined; passed through untransformed, as in the reference

  // B, the number of prompt sets (0 when nothing is set).
  int64_t batch_size() const;

  // One box.
  static SamPrompts box(float x0, float y0, float x1, float y1);
  // One prompt set: an optional box and points with their labels (sizes must agree).
  static SamPrompts single(const std::optional<std::array<float, 4>>& box,
                           const std::vector<std::array<float, 2>>& points = {},
                           const std::vector<int64_t>& labels = {});
};

// Empty string when `p` is usable on a slice of (height, width); otherwise what is wrong, e.g.
// "box 0 (3, 4, 120, 9) lies outside the 96x80 slice" or "point_labels must be [B, N]".
// A box must intersect the slice and have x0 <= x1, y0 <= y1; points must lie on the slice.
std::string check_prompts(const SamPrompts& p, int64_t height, int64_t width);

}  // namespace aslseg::sam
