// `aslseg sam`: Segment Anything on CT. `sam predict` runs SAM on one axial slice with a box
// and/or points (handy for checking a checkpoint); `sam finetune` fine-tunes SAM's prompt
// encoder and mask decoder on the tumour class of a dataset's labelled cases, with prompts
// from the ground truth (docs/sam_finetune.md).
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "aslseg/cli/app.h"
#include "aslseg/config/json_fields.h"
#include "aslseg/core/runtime.h"
#include "aslseg/dataset/dataset.h"
#include "aslseg/dataset/split.h"
#include "aslseg/infer/predictor.h"
#include "aslseg/io/atomic_file.h"
#include "aslseg/io/error.h"
#include "aslseg/io/volume_io.h"
#include "aslseg/models/sam_config.h"
#include "aslseg/sam/finetune.h"
#include "aslseg/sam/sam_checkpoint.h"
#include "aslseg/sam/sam_predictor.h"

namespace aslseg::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kNoCheckpoint = "none";
constexpr uint8_t kMaskValue = 1;
constexpr const char* kFinetuneConfigName = "sam_finetune_config.json";

// "a,b,c" -> exactly `count` finite numbers; the error names the option and the format.
std::vector<double> parse_numbers(const std::string& text, size_t count, const std::string& option,
                                  const std::string& example) {
  std::vector<double> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::istringstream field(item);
    double v = 0.0;
    field >> v;
    if (field.fail() || !(field >> std::ws).eof() || !std::isfinite(v))
      throw InputError("", option + " " + text + ": '" + item +
                               "' is not a number (expected e.g. " + example + ")");
    values.push_back(v);
  }
  if (values.size() != count)
    throw InputError("", option + ": expected " + std::to_string(count) +
                             " comma-separated values like " + example + ", got '" + text + "'");
  return values;
}

std::optional<models::SamConfig> optional_config(const fs::path& path) {
  if (path.empty()) return std::nullopt;
  return models::load_sam_config(path);
}

// ---------------------------------------------------------------- sam predict
struct PredictOptions {
  fs::path checkpoint;
  fs::path config;
  fs::path image;
  int64_t slice = 0;
  std::string box;
  std::vector<std::string> points;
  bool multimask = false;
  fs::path out;
  std::string device = "auto";
  std::string window;
  int threads = 0;
};

sam::SamPrompts parse_prompts(const PredictOptions& o) {
  std::optional<std::array<float, 4>> box;
  if (!o.box.empty()) {
    const auto v = parse_numbers(o.box, 4, "--box", "40,52,71,80 (x0,y0,x1,y1)");
    box = std::array<float, 4>{static_cast<float>(v[0]), static_cast<float>(v[1]),
                               static_cast<float>(v[2]), static_cast<float>(v[3])};
  }
  std::vector<std::array<float, 2>> points;
  std::vector<int64_t> labels;
  for (const std::string& text : o.points) {
    const auto v = parse_numbers(text, 3, "--point", "55,60,1 (x,y,label)");
    if (v[2] != 0.0 && v[2] != 1.0)
      throw InputError("",
                       "--point " + text + ": the label must be 1 (foreground) or 0 (background)");
    points.push_back({static_cast<float>(v[0]), static_cast<float>(v[1])});
    labels.push_back(static_cast<int64_t>(v[2]));
  }
  if (!box && points.empty()) throw InputError("", "give a --box and/or at least one --point");
  return sam::SamPrompts::single(box, points, labels);
}

preprocess::WindowParams window_of(const PredictOptions& o, const json& meta) {
  preprocess::WindowParams w;
  if (!o.window.empty()) {
    const auto v = parse_numbers(o.window, 2, "--window", "60,400 (level,width in HU)");
    w.level = static_cast<float>(v[0]);
    w.width = static_cast<float>(v[1]);
    if (!(w.width > 0.0f)) throw InputError("", "--window: the width must be > 0");
  } else if (meta.contains("window")) {
    // A fine-tuned checkpoint says which window it was trained with.
    w.level = meta["window"].value("level", w.level);
    w.width = meta["window"].value("width", w.width);
  }
  return w;
}

void run_predict(const PredictOptions& o) {
  if (o.threads > 0) core::apply_threads(o.threads);
  const sam::SamPrompts prompts = parse_prompts(o);
  const Image image = io::read_image(o.image);
  const Geometry& g = image.geometry;
  if (o.slice < 0 || o.slice >= g.size[2])
    throw InputError(o.image.string(), "--slice " + std::to_string(o.slice) +
                                           " is out of range: the volume has " +
                                           std::to_string(g.size[2]) + " slices (0.." +
                                           std::to_string(g.size[2] - 1) + ")");
  const std::string problem = sam::check_prompts(prompts, g.size[1], g.size[0]);
  if (!problem.empty())
    throw InputError(o.image.string(), "slice " + std::to_string(o.slice) + ": " + problem);
  const torch::Device device = infer::parse_device(o.device);
  const fs::path checkpoint = o.checkpoint == kNoCheckpoint ? fs::path() : o.checkpoint;
  sam::LoadedSam loaded = sam::load_sam_checkpoint(checkpoint, optional_config(o.config));
  const preprocess::WindowParams window = window_of(o, loaded.meta);
  if (loaded.meta.value(json::json_pointer("/finetune/roi/enabled"), false))
    spdlog::warn(
        "{} was fine-tuned on crops around each box (finetune.roi); 'sam predict' runs it on "
        "the whole slice, where it is weaker (the loop's SAM stage crops as it was trained)",
        checkpoint.string());

  sam::SamPredictor predictor(loaded.model, device);
  predictor.set_slice(image, o.slice, window);
  const sam::SamPrediction p = predictor.predict(prompts, o.multimask);
  // Multimask: the mask SAM rates best is written (the official examples' choice).
  const int64_t best = p.iou[0].argmax().item<int64_t>();
  const torch::Tensor mask = p.masks[0][best].to(torch::kUInt8).contiguous();  // [h, w]
  LabelMap out(g, 0);
  const uint8_t* src = mask.data_ptr<uint8_t>();
  uint8_t* dst = out.slice(o.slice);
  int64_t pixels = 0;
  for (int64_t i = 0; i < g.slice_voxels(); ++i) {
    dst[i] = src[i] ? kMaskValue : 0;
    pixels += src[i] ? 1 : 0;
  }
  io::write_labels(out, o.out);
  std::vector<double> ious;
  for (int64_t c = 0; c < p.iou.size(1); ++c) ious.push_back(p.iou[0][c].item<double>());
  spdlog::info("slice {}: {} mask pixel(s) written to {}", o.slice, pixels, o.out.string());
  // The result on stdout, one JSON line, for scripts.
  std::cout << json{{"slice", o.slice},
                    {"iou_predictions", ious},
                    {"written_mask", best},
                    {"pixels", pixels},
                    {"out", o.out.string()}}
                   .dump()
            << std::endl;
}

// ---------------------------------------------------------------- sam finetune
struct FinetuneOptions {
  fs::path config;
  std::string checkpoint;
  fs::path data;
  fs::path split;
  fs::path params;
  std::vector<std::string> sets;
  fs::path out;
  int threads = 0;
};

json read_json_object(const fs::path& path) {
  json j = config::read_json_file(path);
  if (!j.is_object()) throw InputError(path.string(), "not a JSON object");
  return j;
}

// "a.b=value" into `doc`; the value is JSON when it parses, else a string.
void apply_set(json& doc, const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError("--set " + text, "expected key=value, e.g. --set steps=500");
  json value = json::parse(text.substr(eq + 1), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) value = text.substr(eq + 1);
  json* node = &doc;
  std::stringstream path(text.substr(0, eq));
  std::string key;
  std::vector<std::string> keys;
  while (std::getline(path, key, '.')) keys.push_back(key);
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    json& child = (*node)[keys[i]];
    if (!child.is_object()) throw InputError("--set " + text, "'" + keys[i] + "' is not a section");
    node = &child;
  }
  (*node)[keys.back()] = value;
}

sam::SamFinetuneParams resolve_params(const FinetuneOptions& o, json& resolved) {
  sam::SamFinetuneParams defaults;
  to_json(resolved, defaults);
  sam::SamFinetuneParams p;
  if (!o.params.empty()) {
    const json file = read_json_object(o.params);
    try {
      from_json(file, p);
    } catch (const std::invalid_argument& e) {
      throw InputError(o.params.string(), e.what());
    }
    resolved.merge_patch(file);
  }
  for (const std::string& s : o.sets) {
    apply_set(resolved, s);
    try {
      from_json(resolved, p);
    } catch (const std::invalid_argument& e) {
      throw InputError("--set " + s, e.what());
    }
  }
  to_json(resolved, p);
  return p;
}

void run_finetune(const FinetuneOptions& o) {
  if (o.threads > 0) core::apply_threads(o.threads);
  json resolved;
  const sam::SamFinetuneParams params = resolve_params(o, resolved);
  const models::SamConfig config = models::load_sam_config(o.config);
  infer::parse_device(params.device);  // a bad device fails before any work

  const dataset::Dataset ds = dataset::discover(o.data);
  std::vector<dataset::LabelledCase> train_cases;
  std::vector<dataset::LabelledCase> validation_cases;
  if (!o.split.empty()) {
    const dataset::Split split = dataset::load_split(o.split, ds);
    train_cases = split.training_set(ds).labelled;
    validation_cases = split.evaluation_set(ds).test;
  } else {
    for (const dataset::Case& c : ds.cases)
      if (c.label) train_cases.push_back({c.id, c.image, *c.label});
  }
  if (train_cases.empty()) throw InputError(o.data.string(), "no labelled case to fine-tune on");

  fs::create_directories(o.out);
  add_log_file(o.out / "log.txt");
  json sam_config;
  to_json(sam_config, config);
  io::write_text_atomically(o.out / kFinetuneConfigName, json{{"finetune", resolved},
                                                              {"sam_config", sam_config},
                                                              {"checkpoint", o.checkpoint},
                                                              {"data", o.data.string()},
                                                              {"split", o.split.string()}}
                                                                 .dump(2) +
                                                             "\n");
  spdlog::info("sam finetune: parameters {}", resolved.dump());
  spdlog::info("sam finetune: {} training case(s), {} validation case(s) from {}",
               train_cases.size(), validation_cases.size(), o.data.string());

  const sam::SliceSelection selection = sam::slice_selection(params);
  const std::vector<sam::LabelledSlice> slices = sam::load_labelled_slices(train_cases, selection);
  if (slices.empty())
    throw InputError(o.data.string(), "no slice of the training cases holds >= " +
                                          std::to_string(params.min_tumour_pixels) +
                                          " tumour (label 2) pixels");
  const std::vector<sam::LabelledSlice> validation =
      sam::load_labelled_slices(validation_cases, selection);

  // Random init (checkpoint none) is seeded like everything else.
  torch::manual_seed(params.seed);
  const fs::path checkpoint = o.checkpoint == kNoCheckpoint ? fs::path() : fs::path(o.checkpoint);
  sam::LoadedSam loaded = sam::load_sam_checkpoint(checkpoint, config);
  const sam::FinetuneResult r = sam::finetune_sam(loaded.model, slices, params, o.out, validation);
  std::string validation_text;
  if (r.validation_dice_before >= 0.0) {
    std::ostringstream s;
    s << "; validation Dice " << r.validation_dice_before << " -> " << r.validation_dice_after;
    validation_text = s.str();
  }
  spdlog::info("done: loss {:.4f} -> {:.4f}{}; {} (aslseg) and {} (official layout)", r.first_loss,
               r.last_loss, validation_text, r.checkpoint.string(), r.pth.string());
}

void add_predict(CLI::App& sam, CommandContext& /*ctx*/) {
  auto o = std::make_shared<PredictOptions>();
  auto* cmd = sam.add_subcommand("predict", "Run SAM on one axial slice with a box and/or points.");
  cmd->description(
      "Run SAM on one axial slice with a box and/or points and write the mask as a uint8 volume "
      "on the\ninput's exact grid (1 on slice Z where SAM says foreground, 0 elsewhere).\n"
      "\n"
      "Coordinates are voxel indices of the slice: x = column (the volume's first axis), y = "
      "row (second\naxis); a box is x0,y0,x1,y1 (inclusive pixel bounds). The slice is "
      "HU-windowed, "
      "resized so its long\nside is the model's image_size and encoded once; the mask comes back "
      "at the slice's size.\nThe IoU predictions go to stdout as one JSON line; with --multimask "
      "the best-rated mask is written.\n"
      "\n"
      "Examples:\n"
      "  aslseg sam predict --checkpoint sam_vit_b_01ec64.pth --config configs/sam/vit_b.json \\\n"
      "      --image volume-3.nii.gz --slice 41 --box 210,180,260,236 --out tumour_z41.nii.gz\n"
      "  aslseg sam predict --checkpoint run/sam/sam_finetuned.pt --image volume-3.nii.gz "
      "--slice 41 \\\n"
      "      --point 233,207,1 --point 200,190,0 --multimask --out mask.nii.gz\n"
      "  (an aslseg sam_finetuned.pt carries its config and window; a .pth needs --config)");
  cmd->add_option("--checkpoint", o->checkpoint,
                  "Official-layout .pth (SAM, MedSAM, sam_finetuned.pth), aslseg "
                  "sam_finetuned.pt, or 'none' (random weights)")
      ->required();
  cmd->add_option("--config", o->config,
                  "SAM hyper-parameters (configs/sam/*.json); required unless the checkpoint is "
                  "an aslseg .pt")
      ->check(CLI::ExistingFile);
  cmd->add_option("--image", o->image, "CT volume (NIfTI, MetaImage, NRRD, DICOM folder)")
      ->required();
  cmd->add_option("--slice", o->slice, "Axial slice index z (0-based)")->required();
  cmd->add_option("--box", o->box, "Box prompt x0,y0,x1,y1 in voxel indices of the slice");
  cmd->add_option("--point", o->points,
                  "Point prompt x,y,label (label 1 foreground, 0 background); repeatable");
  cmd->add_flag("--multimask", o->multimask,
                "Ask for SAM's 3 candidate masks and write the one with the highest predicted IoU");
  cmd->add_option("--out", o->out, "Mask volume to write (.nii.gz, .nii, .mha, .nrrd)")->required();
  cmd->add_option("--device", o->device, "auto | cpu | cuda | cuda:N")->capture_default_str();
  cmd->add_option("--window", o->window,
                  "HU window level,width (default: the checkpoint's, else 60,400 liver)");
  cmd->add_option("--threads", o->threads, "CPU threads for LibTorch (0: automatic)")
      ->capture_default_str();
  cmd->callback([o] { run_predict(*o); });
}

void add_finetune(CLI::App& sam, CommandContext& /*ctx*/) {
  auto o = std::make_shared<FinetuneOptions>();
  auto* cmd = sam.add_subcommand(
      "finetune", "Fine-tune SAM's prompt encoder and mask decoder on a dataset's tumour labels.");
  cmd->description(
      "Fine-tune SAM (prompt encoder + mask decoder; the image encoder too with --set "
      "freeze_image_encoder=false)\non the tumour class (label 2) of the labelled cases, with "
      "box (and point) prompts taken from the\nground truth with jitter, Dice + BCE loss. With "
      "the encoder frozen each slice is encoded once.\n"
      "\n"
      "Cases: with --split, the split's labelled cases train and its test cases are scored "
      "before and\nafter (validation Dice with exact ground-truth boxes, logged); without it, "
      "every labelled case\nof --data trains. Slices with >= min_tumour_pixels tumour pixels "
      "are used.\n"
      "\n"
      "Writes OUT/sam_finetuned.pt (aslseg format, carries the SAM config and window: what "
      "'aslseg sam\npredict' loads alone), OUT/sam_finetuned.pth (the official key layout, for "
      "the Python SAM/MedSAM\ncode), OUT/sam_finetune_log.jsonl (loss terms), "
      "OUT/sam_finetune_config.json and OUT/log.txt.\n"
      "\n"
      "Examples:\n"
      "  aslseg sam finetune --config configs/sam/vit_b.json --checkpoint sam_vit_b_01ec64.pth \\\n"
      "      --data /data/LiTS --split split.json --out runs/sam\n"
      "  aslseg sam finetune --config configs/sam/tiny.json --checkpoint none --data demo/data \\\n"
      "      --set steps=300 --set lr=3e-4 --set box_jitter_px=5 --out runs/sam_tiny\n"
      "Parameters and defaults: configs/sam_finetune.json, docs/sam_finetune.md.");
  cmd->add_option("--config", o->config, "SAM hyper-parameters (configs/sam/*.json)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--checkpoint", o->checkpoint,
                  "Starting weights: official-layout .pth, aslseg .pt, or 'none' (random init, "
                  "seeded)")
      ->required();
  cmd->add_option("--data", o->data, "Dataset folder (LiTS, nnU-Net raw or images/+labels/)")
      ->required();
  cmd->add_option("--split", o->split, "split.json from 'aslseg dataset split'");
  cmd->add_option("--params", o->params,
                  "Fine-tuning parameters (JSON, e.g. configs/sam_finetune.json); defaults if "
                  "omitted")
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", o->sets,
                  "Override a parameter, e.g. --set steps=500 --set window.level=50 (repeatable)");
  cmd->add_option("--out", o->out, "Output folder (created)")->required();
  cmd->add_option("--threads", o->threads, "CPU threads for LibTorch (0: automatic)")
      ->capture_default_str();
  cmd->callback([o] { run_finetune(*o); });
}

}  // namespace

void register_sam(CLI::App& app, CommandContext& ctx) {
  auto* sam = app.add_subcommand(
      "sam", "Segment Anything on CT: predict one slice from prompts, or fine-tune on labels.");
  sam->description(
      "Segment Anything (LibTorch port; official, MedSAM and aslseg checkpoints).\n"
      "  predict   SAM on one slice with a box and/or points -> mask volume\n"
      "  finetune  fine-tune SAM on a dataset's tumour labels with ground-truth prompts");
  sam->require_subcommand(1);
  add_predict(*sam, ctx);
  add_finetune(*sam, ctx);
}

}  // namespace aslseg::cli
