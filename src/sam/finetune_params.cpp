// SamFinetuneParams: validation and JSON (unknown keys refused, so a typo in a config or a
// --set never trains silently with a default).
#include <cmath>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>

#include "aslseg/sam/finetune.h"

namespace aslseg::sam {

namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& key, const std::string& problem) {
  throw std::invalid_argument("sam finetune: '" + key + "' " + problem);
}

void read_int(const json& v, const std::string& key, int64_t& out) {
  if (!v.is_number_integer()) bad(key, "must be an integer, got " + v.dump());
  out = v.get<int64_t>();
}
void read_double(const json& v, const std::string& key, double& out) {
  if (!v.is_number()) bad(key, "must be a number, got " + v.dump());
  out = v.get<double>();
}
void read_bool(const json& v, const std::string& key, bool& out) {
  if (!v.is_boolean()) bad(key, "must be true or false, got " + v.dump());
  out = v.get<bool>();
}

void read_window(const json& v, preprocess::WindowParams& w) {
  if (!v.is_object()) bad("window", "must be an object {\"level\": .., \"width\": ..}");
  for (auto it = v.begin(); it != v.end(); ++it) {
    double value = 0.0;
    if (it.key() == "level") {
      read_double(*it, "window.level", value);
      w.level = static_cast<float>(value);
    } else if (it.key() == "width") {
      read_double(*it, "window.width", value);
      w.width = static_cast<float>(value);
    } else {
      bad("window." + it.key(), "is not a known key (level, width)");
    }
  }
}

}  // namespace

void validate(const SamFinetuneParams& p) {
  if (p.steps < 1) bad("steps", "must be >= 1");
  if (!(p.lr > 0.0) || !std::isfinite(p.lr)) bad("lr", "must be > 0");
  if (!(p.weight_decay >= 0.0)) bad("weight_decay", "must be >= 0");
  if (p.batch_slices < 1) bad("batch_slices", "must be >= 1");
  if (p.prompts_per_slice < 1) bad("prompts_per_slice", "must be >= 1");
  if (!(p.dice_weight >= 0.0)) bad("dice_weight", "must be >= 0");
  if (!(p.bce_weight >= 0.0)) bad("bce_weight", "must be >= 0");
  if (!(p.focal_weight >= 0.0)) bad("focal_weight", "must be >= 0");
  if (!(p.iou_weight >= 0.0)) bad("iou_weight", "must be >= 0");
  if (!(p.dice_weight + p.bce_weight + p.focal_weight > 0.0))
    bad("dice_weight", "dice_weight + bce_weight + focal_weight must be > 0");
  if (p.checkpoint_every < 0) bad("checkpoint_every", "must be >= 0 (0: only at the end)");
  if (p.log_every < 1) bad("log_every", "must be >= 1");
  if (p.min_tumour_pixels < 1) bad("min_tumour_pixels", "must be >= 1");
  if (p.max_slices_per_case < 0) bad("max_slices_per_case", "must be >= 0");
  if (!std::isfinite(p.window.level) || !(p.window.width > 0.0f) || !std::isfinite(p.window.width))
    bad("window", "needs a finite level and a width > 0");
  validate(prompt_params(p));
}

void to_json(nlohmann::json& j, const SamFinetuneParams& p) {
  j = {{"steps", p.steps},
       {"lr", p.lr},
       {"weight_decay", p.weight_decay},
       {"batch_slices", p.batch_slices},
       {"prompts_per_slice", p.prompts_per_slice},
       {"freeze_image_encoder", p.freeze_image_encoder},
       {"dice_weight", p.dice_weight},
       {"bce_weight", p.bce_weight},
       {"focal_weight", p.focal_weight},
       {"iou_weight", p.iou_weight},
       {"box_jitter_px", p.box_jitter_px},
       {"box_jitter_fraction", p.box_jitter_fraction},
       {"use_box", p.use_box},
       {"positive_points", p.positive_points},
       {"negative_points", p.negative_points},
       {"negative_margin_px", p.negative_margin_px},
       {"multimask", p.multimask},
       {"seed", p.seed},
       {"checkpoint_every", p.checkpoint_every},
       {"log_every", p.log_every},
       {"device", p.device},
       {"window", {{"level", p.window.level}, {"width", p.window.width}}},
       {"min_tumour_pixels", p.min_tumour_pixels},
       {"max_slices_per_case", p.max_slices_per_case}};
}

void from_json(const nlohmann::json& j, SamFinetuneParams& p) {
  if (!j.is_object()) throw std::invalid_argument("sam finetune: parameters must be a JSON object");
  SamFinetuneParams out = p;
  using Reader = std::function<void(const json&, const std::string&)>;
  const std::map<std::string, Reader> readers{
      {"steps", [&](const json& v, const std::string& k) { read_int(v, k, out.steps); }},
      {"lr", [&](const json& v, const std::string& k) { read_double(v, k, out.lr); }},
      {"weight_decay",
       [&](const json& v, const std::string& k) { read_double(v, k, out.weight_decay); }},
      {"batch_slices",
       [&](const json& v, const std::string& k) { read_int(v, k, out.batch_slices); }},
      {"prompts_per_slice",
       [&](const json& v, const std::string& k) { read_int(v, k, out.prompts_per_slice); }},
      {"freeze_image_encoder",
       [&](const json& v, const std::string& k) { read_bool(v, k, out.freeze_image_encoder); }},
      {"dice_weight",
       [&](const json& v, const std::string& k) { read_double(v, k, out.dice_weight); }},
      {"bce_weight",
       [&](const json& v, const std::string& k) { read_double(v, k, out.bce_weight); }},
      {"focal_weight",
       [&](const json& v, const std::string& k) { read_double(v, k, out.focal_weight); }},
      {"iou_weight",
       [&](const json& v, const std::string& k) { read_double(v, k, out.iou_weight); }},
      {"box_jitter_px",
       [&](const json& v, const std::string& k) { read_int(v, k, out.box_jitter_px); }},
      {"box_jitter_fraction",
       [&](const json& v, const std::string& k) { read_double(v, k, out.box_jitter_fraction); }},
      {"use_box", [&](const json& v, const std::string& k) { read_bool(v, k, out.use_box); }},
      {"positive_points",
       [&](const json& v, const std::string& k) { read_int(v, k, out.positive_points); }},
      {"negative_points",
       [&](const json& v, const std::string& k) { read_int(v, k, out.negative_points); }},
      {"negative_margin_px",
       [&](const json& v, const std::string& k) { read_int(v, k, out.negative_margin_px); }},
      {"multimask", [&](const json& v, const std::string& k) { read_bool(v, k, out.multimask); }},
      {"seed",
       [&](const json& v, const std::string& k) {
         if (!v.is_number_integer() || v.get<int64_t>() < 0)
           bad(k, "must be a non-negative integer, got " + v.dump());
         out.seed = v.get<uint64_t>();
       }},
      {"checkpoint_every",
       [&](const json& v, const std::string& k) { read_int(v, k, out.checkpoint_every); }},
      {"log_every", [&](const json& v, const std::string& k) { read_int(v, k, out.log_every); }},
      {"device",
       [&](const json& v, const std::string& k) {
         if (!v.is_string()) bad(k, "must be a string (auto | cpu | cuda | cuda:N)");
         out.device = v.get<std::string>();
       }},
      {"window", [&](const json& v, const std::string&) { read_window(v, out.window); }},
      {"min_tumour_pixels",
       [&](const json& v, const std::string& k) { read_int(v, k, out.min_tumour_pixels); }},
      {"max_slices_per_case",
       [&](const json& v, const std::string& k) { read_int(v, k, out.max_slices_per_case); }},
  };
  for (auto it = j.begin(); it != j.end(); ++it) {
    const auto reader = readers.find(it.key());
    if (reader == readers.end()) bad(it.key(), "is not a known key");
    reader->second(*it, it.key());
  }
  validate(out);
  p = out;
}

GtPromptParams prompt_params(const SamFinetuneParams& p) {
  GtPromptParams g;
  g.box_jitter_px = p.box_jitter_px;
  g.box_jitter_fraction = p.box_jitter_fraction;
  g.use_box = p.use_box;
  g.positive_points = p.positive_points;
  g.negative_points = p.negative_points;
  g.negative_margin_px = p.negative_margin_px;
  return g;
}

SliceSelection slice_selection(const SamFinetuneParams& p) {
  SliceSelection s;
  s.window = p.window;
  s.label = kTumour;
  s.min_pixels = p.min_tumour_pixels;
  s.max_slices_per_case = p.max_slices_per_case;
  return s;
}

}  // namespace aslseg::sam
