#include "aslseg/sam/sam_prompts.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace aslseg::sam {

namespace {

constexpr int64_t kBoxValues = 4;
constexpr int64_t kPointDims = 2;

std::string slice_text(int64_t height, int64_t width) {
  return std::to_string(width) + "x" + std::to_string(height) + " slice";
}

// Coordinates are pixel centres 0 .. size-1; the far pixel edge (size) is still accepted, so
// boxes written with exclusive upper bounds pass too.
bool inside(double v, int64_t size) { return std::isfinite(v) && v >= 0.0 && v <= size; }

std::string format_box(const torch::Tensor& box) {
  std::ostringstream s;
  s << "(" << box[0].item<double>() << ", " << box[1].item<double>() << ", "
    << box[2].item<double>() << ", " << box[3].item<double>() << ")";
  return s.str();
}

}  // namespace

int64_t SamPrompts::batch_size() const {
  if (boxes.defined()) return boxes.size(0);
  if (point_coords.defined()) return point_coords.size(0);
  if (mask_inputs.defined()) return mask_inputs.size(0);
  return 0;
}

SamPrompts SamPrompts::box(float x0, float y0, float x1, float y1) {
  return single(std::array<float, 4>{x0, y0, x1, y1});
}

SamPrompts SamPrompts::single(const std::optional<std::array<float, 4>>& box,
                              const std::vector<std::array<float, 2>>& points,
                              const std::vector<int64_t>& labels) {
  if (points.size() != labels.size())
    throw std::invalid_argument("SamPrompts::single: " + std::to_string(points.size()) +
                                " points but " + std::to_string(labels.size()) + " labels");
  SamPrompts p;
  if (box) p.boxes = torch::tensor({(*box)[0], (*box)[1], (*box)[2], (*box)[3]}).view({1, 4});
  if (!points.empty()) {
    const auto n = static_cast<int64_t>(points.size());
    p.point_coords = torch::empty({1, n, kPointDims}, torch::kFloat);
    p.point_labels = torch::empty({1, n}, torch::kLong);
    auto c = p.point_coords.accessor<float, 3>();
    auto l = p.point_labels.accessor<int64_t, 2>();
    for (int64_t i = 0; i < n; ++i) {
      c[0][i][0] = points[static_cast<size_t>(i)][0];
      c[0][i][1] = points[static_cast<size_t>(i)][1];
      l[0][i] = labels[static_cast<size_t>(i)];
    }
  }
  return p;
}

std::string check_prompts(const SamPrompts& p, int64_t height, int64_t width) {
  const int64_t b = p.batch_size();
  if (b < 1) return "no prompt: give a box, points or a mask input";
  if (p.boxes.defined()) {
    if (p.boxes.dim() != 2 || p.boxes.size(1) != kBoxValues)
      return "boxes must be [B, 4] (x0, y0, x1, y1), got " + c10::str(p.boxes.sizes());
    const torch::Tensor boxes = p.boxes.to(torch::kCPU, torch::kDouble);
    for (int64_t i = 0; i < boxes.size(0); ++i) {
      const torch::Tensor box = boxes[i];
      const double x0 = box[0].item<double>(), y0 = box[1].item<double>();
      const double x1 = box[2].item<double>(), y1 = box[3].item<double>();
      if (!inside(x0, width) || !inside(x1, width) || !inside(y0, height) || !inside(y1, height))
        return "box " + std::to_string(i) + " " + format_box(box) + " lies outside the " +
               slice_text(height, width) + " (x in [0, " + std::to_string(width) + "], y in [0, " +
               std::to_string(height) + "])";
      if (x0 > x1 || y0 > y1)
        return "box " + std::to_string(i) + " " + format_box(box) + " needs x0 <= x1 and y0 <= y1";
    }
  }
  if (p.point_coords.defined() != p.point_labels.defined())
    return "point_coords and point_labels must be given together";
  if (p.point_coords.defined()) {
    if (p.point_coords.dim() != 3 || p.point_coords.size(2) != kPointDims)
      return "point_coords must be [B, N, 2] (x, y), got " + c10::str(p.point_coords.sizes());
    if (p.point_labels.dim() != 2 || p.point_labels.size(0) != p.point_coords.size(0) ||
        p.point_labels.size(1) != p.point_coords.size(1))
      return "point_labels must be [B, N] like point_coords " + c10::str(p.point_coords.sizes()) +
             ", got " + c10::str(p.point_labels.sizes());
    if (p.point_coords.size(0) != b)
      return "point_coords hold " + std::to_string(p.point_coords.size(0)) +
             " prompt sets, the boxes " + std::to_string(b);
    const torch::Tensor coords = p.point_coords.to(torch::kCPU, torch::kDouble);
    const torch::Tensor labels = p.point_labels.to(torch::kCPU, torch::kLong);
    for (int64_t i = 0; i < coords.size(0); ++i) {
      for (int64_t j = 0; j < coords.size(1); ++j) {
        const int64_t label = labels[i][j].item<int64_t>();
        if (label != kPointPositive && label != kPointNegative && label != kPointPadding)
          return "point label " + std::to_string(label) + " (set " + std::to_string(i) +
                 ") must be 1 (positive), 0 (negative) or -1 (padding)";
        if (label == kPointPadding) continue;
        const double x = coords[i][j][0].item<double>(), y = coords[i][j][1].item<double>();
        if (!inside(x, width) || !inside(y, height)) {
          std::ostringstream s;
          s << "point (" << x << ", " << y << ") of set " << i << " lies outside the "
            << slice_text(height, width);
          return s.str();
        }
      }
    }
  }
  if (p.mask_inputs.defined() && (p.mask_inputs.dim() != 4 || p.mask_inputs.size(0) != b))
    return "mask_inputs must be [B, 1, h, w] with B = " + std::to_string(b) + ", got " +
           c10::str(p.mask_inputs.sizes());
  return "";
}

}  // namespace aslseg::sam
