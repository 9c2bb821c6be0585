#include "aslseg/loop/sam_stage.h"

#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "aslseg/config/json_fields.h"
#include "aslseg/sam/labelled_slice.h"

namespace aslseg::loop {

namespace {

using nlohmann::json;

const std::vector<std::string> kStageKeys{"prompts", "window", "roi"};
const std::vector<std::string> kWindowKeys{"level", "width"};
constexpr const char* kWhere = "sam_stage";
// Where a padding point sits; SAM ignores its position (label -1 selects the "not a point"
// embedding), but check_prompts wants it on the slice.
constexpr float kPaddingCoordinate = 0.0f;

int64_t point_label(sam::PointLabel label) {
  return label == sam::PointLabel::kPositive ? sam::kPointPositive : sam::kPointNegative;
}

void check_grid(const Image& hu, const LabelMap& source) {
  const std::string diff = hu.geometry.difference(source.geometry);
  if (!diff.empty())
    throw std::invalid_argument("sam stage: the prompt source is not on the image's grid (" + diff +
                                ")");
  if (source.voxels.size() != static_cast<size_t>(hu.geometry.num_voxels()) ||
      hu.voxels.size() != source.voxels.size())
    throw std::invalid_argument("sam stage: image or prompt source holds the wrong voxel count");
}

// Writes kTumour into slice z of `out` wherever `mask` ([H, W], bool) is set.
void paint_mask(const torch::Tensor& mask, LabelMap& out, int64_t z) {
  const torch::Tensor any = mask.to(torch::kUInt8).contiguous();
  const uint8_t* m = any.data_ptr<uint8_t>();
  uint8_t* dst = out.slice(z);
  const int64_t n = out.geometry.slice_voxels();
  for (int64_t i = 0; i < n; ++i)
    if (m[i]) dst[i] = kTumour;
}

// Writes kTumour into slice z of `out` wherever any of the predicted masks is set.
void paint_union(const sam::SamPrediction& prediction, LabelMap& out, int64_t z) {
  // masks: bool [B, 1, H, W] (multimask off) -> the union over sets and masks, [H, W].
  paint_mask(prediction.masks.flatten(0, 1).any(0), out, z);
}

}  // namespace

void to_json(json& j, const SamStageParams& p) {
  j = json{{"prompts", p.prompts},
           {"window", {{"level", p.window.level}, {"width", p.window.width}}},
           {"roi", p.roi}};
}

void from_json(const json& j, SamStageParams& p) {
  config::reject_unknown_keys(j, kStageKeys, kWhere);
  SamStageParams out = p;
  if (j.contains("prompts")) {
    try {
      j.at("prompts").get_to(out.prompts);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string(kWhere) + "." + e.what());
    }
  }
  if (j.contains("window")) {
    const json& w = j.at("window");
    const std::string where = std::string(kWhere) + ".window";
    config::reject_unknown_keys(w, kWindowKeys, where);
    config::read_if_present(w, "level", out.window.level, where);
    config::read_if_present(w, "width", out.window.width, where);
    try {
      preprocess::validate(out.window);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(where + ": " + e.what());
    }
  }
  if (j.contains("roi")) {
    try {
      j.at("roi").get_to(out.roi);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string(kWhere) + "." + e.what());
    }
  }
  p = out;
}

sam::SamPrompts stack_prompt_sets(const std::vector<sam::PromptSet>& sets) {
  sam::SamPrompts out;
  if (sets.empty()) return out;
  const auto b = static_cast<int64_t>(sets.size());
  const bool with_box = sets.front().box.has_value();
  size_t n = 0;
  for (const sam::PromptSet& s : sets) {
    if (s.box.has_value() != with_box)
      throw std::invalid_argument(
          "stack_prompt_sets: some prompt sets have a box and others not; one decoder call "
          "needs one prompt structure");
    n = std::max(n, s.points.size());
  }
  if (with_box) {
    out.boxes = torch::empty({b, 4}, torch::kFloat);
    auto a = out.boxes.accessor<float, 2>();
    for (int64_t i = 0; i < b; ++i) {
      const sam::PromptBox& box = *sets[static_cast<size_t>(i)].box;
      a[i][0] = static_cast<float>(box.x0);
      a[i][1] = static_cast<float>(box.y0);
      a[i][2] = static_cast<float>(box.x1);
      a[i][3] = static_cast<float>(box.y1);
    }
  }
  if (n > 0) {
    const auto points = static_cast<int64_t>(n);
    out.point_coords = torch::full({b, points, 2}, kPaddingCoordinate, torch::kFloat);
    out.point_labels = torch::full({b, points}, sam::kPointPadding, torch::kLong);
    auto c = out.point_coords.accessor<float, 3>();
    auto l = out.point_labels.accessor<int64_t, 2>();
    for (int64_t i = 0; i < b; ++i) {
      const auto& pts = sets[static_cast<size_t>(i)].points;
      for (size_t k = 0; k < pts.size(); ++k) {
        const auto kk = static_cast<int64_t>(k);
        c[i][kk][0] = static_cast<float>(pts[k].x);
        c[i][kk][1] = static_cast<float>(pts[k].y);
        l[i][kk] = point_label(pts[k].label);
      }
    }
  }
  return out;
}

std::vector<LabelMap> sam_tumour_many(sam::SamPredictor& predictor, const Image& hu,
                                      const std::vector<const LabelMap*>& sources,
                                      const SamStageParams& params, SamStageStats* stats) {
  preprocess::validate(params.window);
  sam::validate(params.prompts);
  for (const LabelMap* s : sources) {
    if (s == nullptr) throw std::invalid_argument("sam stage: null prompt source");
    check_grid(hu, *s);
  }
  // Slice z -> (source index, its prompt sets on z): every slice is encoded once, however
  // many sources prompt it.
  std::vector<std::vector<sam::SlicePrompts>> prompts;
  prompts.reserve(sources.size());
  std::map<int64_t, std::vector<std::pair<size_t, const std::vector<sam::PromptSet>*>>> by_slice;
  for (size_t i = 0; i < sources.size(); ++i)
    prompts.push_back(sam::volume_prompts(*sources[i], params.prompts));
  for (size_t i = 0; i < sources.size(); ++i)
    for (const sam::SlicePrompts& sp : prompts[i]) by_slice[sp.slice].emplace_back(i, &sp.sets);

  std::vector<LabelMap> out(sources.size(), LabelMap(hu.geometry, kBackground));
  SamStageStats local;
  for (const auto& [z, entries] : by_slice) {
    ++local.slices_prompted;
    if (params.roi.enabled) {
      // Each set on its own crop: the slice is windowed once, encoded per set.
      const torch::Tensor windowed = sam::windowed_slice(hu, z, params.window);
      for (const auto& [i, sets] : entries) {
        const torch::Tensor mask =
            sam::predict_in_rois(predictor, windowed, stack_prompt_sets(*sets), params.roi);
        paint_mask(mask, out[i], z);
        local.prompt_sets += static_cast<int64_t>(sets->size());
      }
      continue;
    }
    predictor.set_slice(hu, z, params.window);
    for (const auto& [i, sets] : entries) {
      const sam::SamPrediction pred = predictor.predict(stack_prompt_sets(*sets), false);
      paint_union(pred, out[i], z);
      local.prompt_sets += static_cast<int64_t>(sets->size());
    }
  }
  if (stats != nullptr) {
    stats->slices_prompted += local.slices_prompted;
    stats->prompt_sets += local.prompt_sets;
  }
  return out;
}

LabelMap sam_tumour(sam::SamPredictor& predictor, const Image& hu, const LabelMap& source,
                    const SamStageParams& params, SamStageStats* stats) {
  return std::move(sam_tumour_many(predictor, hu, {&source}, params, stats).front());
}

}  // namespace aslseg::loop
