// SamFinetuneParams: validation and JSON (unknown keys refused, so a typo in a config or a
// --set never trains silently with a default).
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "aslseg/config/json_fields.h"
#include "aslseg/sam/finetune.h"

namespace aslseg::sam {

namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& key, const std::string& problem) {
  throw std::invalid_argument("sam finetune: '" + key + "' " + problem);
}

const std::vector<std::string> kKeys{"steps",
                                     "lr",
                                     "weight_decay",
                                     "batch_slices",
                                     "prompts_per_slice",
                                     "freeze_image_encoder",
                                     "dice_weight",
                                     "bce_weight",
                                     "focal_weight",
                                     "iou_weight",
                                     "box_jitter_px",
                                     "box_jitter_fraction",
                                     "use_box",
                                     "positive_points",
                                     "negative_points",
                                     "negative_margin_px",
                                     "multimask",
                                     "seed",
                                     "checkpoint_every",
                                     "log_every",
                                     "device",
                                     "window",
                                     "min_tumour_pixels",
                                     "max_slices_per_case",
                                     "roi"};
const std::vector<std::string> kWindowKeys{"level", "width"};

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
  validate(p.roi);
  if (p.roi.enabled && !p.use_box) bad("roi", "needs box prompts (use_box): the box sets the crop");
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
       {"max_slices_per_case", p.max_slices_per_case},
       {"roi", p.roi}};
}

void from_json(const nlohmann::json& j, SamFinetuneParams& p) {
  const std::string where = "sam finetune";
  config::reject_unknown_keys(j, kKeys, where);
  SamFinetuneParams out = p;
  auto read = [&](const char* key, auto& field) { config::read_if_present(j, key, field, where); };
  read("steps", out.steps);
  read("lr", out.lr);
  read("weight_decay", out.weight_decay);
  read("batch_slices", out.batch_slices);
  read("prompts_per_slice", out.prompts_per_slice);
  read("freeze_image_encoder", out.freeze_image_encoder);
  read("dice_weight", out.dice_weight);
  read("bce_weight", out.bce_weight);
  read("focal_weight", out.focal_weight);
  read("iou_weight", out.iou_weight);
  read("box_jitter_px", out.box_jitter_px);
  read("box_jitter_fraction", out.box_jitter_fraction);
  read("use_box", out.use_box);
  read("positive_points", out.positive_points);
  read("negative_points", out.negative_points);
  read("negative_margin_px", out.negative_margin_px);
  read("multimask", out.multimask);
  read("seed", out.seed);
  read("checkpoint_every", out.checkpoint_every);
  read("log_every", out.log_every);
  read("device", out.device);
  read("min_tumour_pixels", out.min_tumour_pixels);
  read("max_slices_per_case", out.max_slices_per_case);
  if (j.contains("window")) {
    const json& w = j.at("window");
    const std::string here = where + ".window";
    config::reject_unknown_keys(w, kWindowKeys, here);
    config::read_if_present(w, "level", out.window.level, here);
    config::read_if_present(w, "width", out.window.width, here);
  }
  if (j.contains("roi")) {
    try {
      j.at("roi").get_to(out.roi);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(where + "." + e.what());
    }
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
