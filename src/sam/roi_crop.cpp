#include "aslseg/sam/roi_crop.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "aslseg/config/json_fields.h"

namespace aslseg::sam {

namespace {

using nlohmann::json;
const std::vector<std::string> kRoiKeys{"enabled", "context", "min_side"};
constexpr const char* kWhere = "roi";

// Where a ROI and an h x w slice overlap, in slice coordinates [x0, x1) x [y0, y1) (empty when
// x0 >= x1 or y0 >= y1); the crop's coordinates are these minus the ROI's corner.
struct Overlap {
  int64_t x0, x1, y0, y1;
  bool empty() const { return x0 >= x1 || y0 >= y1; }
  torch::Tensor in_slice(const torch::Tensor& t) const {
    return t.slice(0, y0, y1).slice(1, x0, x1);
  }
  torch::Tensor in_crop(const torch::Tensor& t, const Roi& r) const {
    return t.slice(0, y0 - r.y0, y1 - r.y0).slice(1, x0 - r.x0, x1 - r.x0);
  }
};

Overlap overlap(const Roi& r, int64_t h, int64_t w) {
  return {std::max<int64_t>(0, r.x0), std::min(w, r.x0 + r.side), std::max<int64_t>(0, r.y0),
          std::min(h, r.y0 + r.side)};
}

}  // namespace

void validate(const RoiParams& p) {
  if (!(p.context >= 1.0))
    throw std::invalid_argument("roi.context must be >= 1 (the crop holds the box), got " +
                                std::to_string(p.context));
  if (p.min_side < 2)
    throw std::invalid_argument("roi.min_side must be >= 2, got " + std::to_string(p.min_side));
}

void to_json(json& j, const RoiParams& p) {
  j = json{{"enabled", p.enabled}, {"context", p.context}, {"min_side", p.min_side}};
}

void from_json(const json& j, RoiParams& p) {
  config::reject_unknown_keys(j, kRoiKeys, kWhere);
  RoiParams out = p;
  config::read_if_present(j, "enabled", out.enabled, kWhere);
  config::read_if_present(j, "context", out.context, kWhere);
  config::read_if_present(j, "min_side", out.min_side, kWhere);
  validate(out);
  p = out;
}

Roi roi_around(const std::array<float, 4>& box, const RoiParams& p) {
  const double w = static_cast<double>(box[2]) - box[0] + 1.0;
  const double h = static_cast<double>(box[3]) - box[1] + 1.0;
  Roi r;
  r.side =
      std::max<int64_t>(p.min_side, static_cast<int64_t>(std::ceil(p.context * std::max(w, h))));
  // Centred on the box's centre; the box fits because side >= its longer side.
  const double cx = 0.5 * (static_cast<double>(box[0]) + box[2]);
  const double cy = 0.5 * (static_cast<double>(box[1]) + box[3]);
  r.x0 = static_cast<int64_t>(std::floor(cx - 0.5 * static_cast<double>(r.side - 1) + 0.5));
  r.y0 = static_cast<int64_t>(std::floor(cy - 0.5 * static_cast<double>(r.side - 1) + 0.5));
  return r;
}

torch::Tensor crop(const torch::Tensor& windowed, const Roi& roi) {
  if (windowed.dim() != 2) throw std::invalid_argument("crop: expected a [height, width] slice");
  const int64_t h = windowed.size(0);
  const int64_t w = windowed.size(1);
  torch::Tensor out = torch::zeros({roi.side, roi.side}, windowed.options());
  const Overlap o = overlap(roi, h, w);
  if (!o.empty()) o.in_crop(out, roi).copy_(o.in_slice(windowed));
  return out;
}

SamPrompts to_roi(const SamPrompts& prompts, const Roi& roi) {
  SamPrompts out = prompts;
  const auto shift = torch::tensor({static_cast<float>(roi.x0), static_cast<float>(roi.y0)});
  if (prompts.boxes.defined()) out.boxes = prompts.boxes - shift.repeat({2}).unsqueeze(0);
  if (prompts.point_coords.defined()) {
    out.point_coords = prompts.point_coords - shift.view({1, 1, 2});
    const auto side = static_cast<float>(roi.side - 1);
    const torch::Tensor outside =
        (out.point_coords < 0.0f).any(2) | (out.point_coords > side).any(2);
    out.point_labels = prompts.point_labels.masked_fill(outside, kPointPadding);
    out.point_coords = out.point_coords.masked_fill(outside.unsqueeze(2), 0.0f);
  }
  return out;
}

torch::Tensor predict_in_rois(SamPredictor& predictor, const torch::Tensor& windowed,
                              const SamPrompts& prompts, const RoiParams& p) {
  validate(p);
  if (!prompts.boxes.defined())
    throw std::invalid_argument("SAM on a region of interest needs a box per prompt set");
  const int64_t h = windowed.size(0);
  const int64_t w = windowed.size(1);
  torch::Tensor out = torch::zeros({h, w}, torch::kBool);
  const torch::Tensor boxes = prompts.boxes.to(torch::kCPU, torch::kFloat).contiguous();
  for (int64_t b = 0; b < prompts.batch_size(); ++b) {
    const float* a = boxes.data_ptr<float>() + 4 * b;
    const Roi roi = roi_around(std::array<float, 4>{a[0], a[1], a[2], a[3]}, p);
    SamPrompts one;
    one.boxes = prompts.boxes.narrow(0, b, 1);
    if (prompts.point_coords.defined()) {
      one.point_coords = prompts.point_coords.narrow(0, b, 1);
      one.point_labels = prompts.point_labels.narrow(0, b, 1);
    }
    predictor.set_windowed(crop(windowed, roi));
    const SamPrediction pred = predictor.predict(to_roi(one, roi), /*multimask=*/false);
    const torch::Tensor mask = pred.masks[0][0];  // [side, side]
    const Overlap o = overlap(roi, h, w);
    if (!o.empty()) o.in_slice(out).logical_or_(o.in_crop(mask, roi));
  }
  return out;
}

}  // namespace aslseg::sam
