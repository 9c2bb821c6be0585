#include "aslseg/ssl/trainer.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>

#include "aslseg/checkpoint/checkpoint.h"
#include "aslseg/cli/progress.h"
#include "aslseg/config/json_diff.h"
#include "aslseg/infer/predictor.h"
#include "aslseg/io/atomic_file.h"
#include "aslseg/io/error.h"
#include "aslseg/io/volume_io.h"
#include "aslseg/metrics/binary_metrics.h"
#include "aslseg/metrics/lits_metrics.h"
#include "aslseg/ssl/autocast.h"
#include "aslseg/synth/rng.h"

namespace aslseg::ssl {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Guards torch's process-wide generator between runs training side by side (the loop's
// concurrent SS members): whoever seeds it also draws before the other may seed again.
std::mutex& global_generator_mutex() {
  static std::mutex mutex;
  return mutex;
}

constexpr const char* kCheckpointName = "checkpoint.pt";
constexpr const char* kMetricsName = "metrics.jsonl";
constexpr double kPi = 3.14159265358979323846;
// Salt that separates the per-step torch seed from the batch sampler's seeds.
constexpr uint64_t kTorchSeedSalt = 0x7e57ab1e;

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimParams& p,
                                                        std::vector<torch::Tensor> params) {
  if (p.optimizer == "adamw") {
    return std::make_unique<torch::optim::AdamW>(
        params, torch::optim::AdamWOptions(p.lr).weight_decay(p.weight_decay));
  }
  if (p.optimizer == "sgd") {
    return std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(p.lr)
                                                           .momentum(p.momentum)
                                                           .nesterov(true)
                                                           .weight_decay(p.weight_decay));
  }
  throw InputError("configuration", "unknown optim.optimizer '" + p.optimizer + "' (adamw, sgd)");
}

void set_lr(torch::optim::Optimizer& opt, double lr) {
  for (auto& group : opt.param_groups()) group.options().set_lr(lr);
}

// Validation data held in memory for the whole run (read once).
struct ValidationCase {
  std::string id;
  Image image;
  LabelMap label;
};

std::vector<ValidationCase> load_validation(const std::vector<dataset::LabelledCase>& cases) {
  std::vector<ValidationCase> out;
  for (const auto& c : cases) {
    ValidationCase v{c.id, io::read_image(c.image), {}};
    v.label = io::read_labels_matching(c.label, v.image.geometry);
    out.push_back(std::move(v));
  }
  return out;
}

// Mean volume-level Dice per LiTS class over the validation cases, with exactly the
// prediction `aslseg infer` makes (same Predictor, same post-processing) and the Dice of
// `aslseg evaluate`, so the log's numbers can be reproduced from the final checkpoint.
json validate(models::UNet net, const models::SegmenterSpec& spec, const torch::Device& device,
              const std::vector<ValidationCase>& cases) {
  infer::Predictor predictor(net, spec, device);
  json out = json::object();
  if (cases.empty()) return out;
  std::map<std::string, double> sums;
  for (const auto& c : cases) {
    const LabelMap pred = predictor.predict(c.image, infer::PredictParams{}).labels;
    for (const auto& cls : metrics::lits_classes())
      sums[cls.name] += metrics::dice(pred, c.label, cls.labels);
  }
  for (const auto& [name, sum] : sums)
    out[name + "_dice"] = sum / static_cast<double>(cases.size());
  return out;
}

// Keeps the lines of metrics.jsonl up to `step` (a resumed run rewrites what came after its
// checkpoint, so the log has each step once).
void truncate_metrics(const fs::path& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return;
  std::ostringstream kept;
  std::string line;
  while (std::getline(in, line)) {
    const json j = json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("step", int64_t{0}) <= step) kept << line << "\n";
  }
  in.close();
  io::write_text_atomically(path, kept.str());
}

class MetricsLog {
 public:
  explicit MetricsLog(const fs::path& path) : out_(path, std::ios::app) {}
  void write(const json& j) {
    out_ << j.dump() << "\n";
    out_.flush();  // a crash loses at most the line being written
  }

 private:
  std::ofstream out_;
};

}  // namespace

void to_json(json& j, const OptimParams& p) {
  j = {{"optimizer", p.optimizer},
       {"lr", p.lr},
       {"weight_decay", p.weight_decay},
       {"momentum", p.momentum},
       {"schedule", p.schedule},
       {"poly_power", p.poly_power},
       {"steps", p.steps},
       {"batch_labelled", p.batch_labelled},
       {"batch_unlabelled", p.batch_unlabelled},
       {"checkpoint_every", p.checkpoint_every},
       {"validate_every", p.validate_every},
       {"log_every", p.log_every},
       {"bf16", p.bf16}};
}

void from_json(const json& j, OptimParams& p) {
  p.optimizer = j.value("optimizer", p.optimizer);
  p.lr = j.value("lr", p.lr);
  p.weight_decay = j.value("weight_decay", p.weight_decay);
  p.momentum = j.value("momentum", p.momentum);
  p.schedule = j.value("schedule", p.schedule);
  p.poly_power = j.value("poly_power", p.poly_power);
  p.steps = j.value("steps", p.steps);
  p.batch_labelled = j.value("batch_labelled", p.batch_labelled);
  p.batch_unlabelled = j.value("batch_unlabelled", p.batch_unlabelled);
  p.checkpoint_every = j.value("checkpoint_every", p.checkpoint_every);
  p.validate_every = j.value("validate_every", p.validate_every);
  p.log_every = j.value("log_every", p.log_every);
  p.bf16 = j.value("bf16", p.bf16);
}

void to_json(json& j, const SliceDataParams& d) {
  const auto& a = d.augment;
  j = {{"tumour_slice_fraction", d.tumour_slice_fraction},
       {"patch_size", d.patch_size},
       {"lesion_paste",
        {{"probability", d.lesion_paste.probability},
         {"contrast_min", d.lesion_paste.contrast_min},
         {"contrast_max", d.lesion_paste.contrast_max},
         {"invert_probability", d.lesion_paste.invert_probability}}},
       {"lesion_synth",
        {{"probability", d.lesion_synth.probability},
         {"radius_min_mm", d.lesion_synth.radius_min_mm},
         {"radius_max_mm", d.lesion_synth.radius_max_mm},
         {"contrast_min_hu", d.lesion_synth.contrast_min_hu},
         {"contrast_max_hu", d.lesion_synth.contrast_max_hu},
         {"hypo_probability", d.lesion_synth.hypo_probability},
         {"irregularity", d.lesion_synth.irregularity}}},
       {"liver_slices_only", d.liver_slices_only},
       {"workers", d.workers},
       {"prefetch", d.prefetch},
       {"augment",
        {{"enabled", a.enabled},
         {"flip", a.flip},
         {"rotate_deg", a.rotate_deg},
         {"scale", a.scale},
         {"intensity_shift", a.intensity_shift},
         {"intensity_scale", a.intensity_scale},
         {"noise_probability", a.noise_probability},
         {"noise_max", a.noise_max},
         {"blur_probability", a.blur_probability},
         {"blur_max_px", a.blur_max_px}}}};
}

void from_json(const json& j, SliceDataParams& d) {
  d.tumour_slice_fraction = j.value("tumour_slice_fraction", d.tumour_slice_fraction);
  d.liver_slices_only = j.value("liver_slices_only", d.liver_slices_only);
  d.patch_size = j.value("patch_size", d.patch_size);
  if (j.contains("lesion_paste")) {
    const json& l = j.at("lesion_paste");
    LesionPasteParams& p = d.lesion_paste;
    p.probability = l.value("probability", p.probability);
    p.contrast_min = l.value("contrast_min", p.contrast_min);
    p.contrast_max = l.value("contrast_max", p.contrast_max);
    p.invert_probability = l.value("invert_probability", p.invert_probability);
  }
  if (j.contains("lesion_synth")) {
    const json& l = j.at("lesion_synth");
    LesionSynthParams& p = d.lesion_synth;
    p.probability = l.value("probability", p.probability);
    p.radius_min_mm = l.value("radius_min_mm", p.radius_min_mm);
    p.radius_max_mm = l.value("radius_max_mm", p.radius_max_mm);
    p.contrast_min_hu = l.value("contrast_min_hu", p.contrast_min_hu);
    p.contrast_max_hu = l.value("contrast_max_hu", p.contrast_max_hu);
    p.hypo_probability = l.value("hypo_probability", p.hypo_probability);
    p.irregularity = l.value("irregularity", p.irregularity);
  }
  d.workers = j.value("workers", d.workers);
  d.prefetch = j.value("prefetch", d.prefetch);
  if (j.contains("augment")) {
    const json& a = j.at("augment");
    d.augment.enabled = a.value("enabled", d.augment.enabled);
    d.augment.flip = a.value("flip", d.augment.flip);
    d.augment.rotate_deg = a.value("rotate_deg", d.augment.rotate_deg);
    d.augment.scale = a.value("scale", d.augment.scale);
    d.augment.intensity_shift = a.value("intensity_shift", d.augment.intensity_shift);
    d.augment.intensity_scale = a.value("intensity_scale", d.augment.intensity_scale);
    d.augment.noise_probability = a.value("noise_probability", d.augment.noise_probability);
    d.augment.noise_max = a.value("noise_max", d.augment.noise_max);
    d.augment.blur_probability = a.value("blur_probability", d.augment.blur_probability);
    d.augment.blur_max_px = a.value("blur_max_px", d.augment.blur_max_px);
  }
}

void to_json(json& j, const TrainParams& p) {
  j = {{"spec", p.spec}, {"ssl", p.ssl}, {"optim", p.optim}, {"data", p.data}, {"seed", p.seed}};
}

double learning_rate(const OptimParams& p, int64_t step) {
  const double t = std::clamp(static_cast<double>(step) / static_cast<double>(p.steps), 0.0, 1.0);
  if (p.schedule == "poly") return p.lr * std::pow(1.0 - t, p.poly_power);
  if (p.schedule == "cosine") return p.lr * 0.5 * (1.0 + std::cos(kPi * t));
  if (p.schedule == "constant") return p.lr;
  throw InputError("configuration",
                   "unknown optim.schedule '" + p.schedule + "' (poly, cosine, constant)");
}

bool steps_use_global_generator(const TrainParams& params) {
  return params.spec.unet.dropout > 0.0 || params.ssl.paradigm == "ua_mt";
}

TrainResult train_segmenter(const TrainParams& params, const dataset::TrainingSet& training,
                            const std::vector<dataset::LabelledCase>& validation,
                            const fs::path& out_dir) {
  const torch::Device device = infer::parse_device(params.device);
  fs::create_directories(out_dir);
  const fs::path ckpt_path = out_dir / kCheckpointName;
  const fs::path metrics_path = out_dir / kMetricsName;
  const json config = params;

  // Seeding and drawing the initial weights happen under the generator lock, so a run training
  // beside this one cannot reseed torch's generator in between.
  auto paradigm = [&] {
    const std::lock_guard<std::mutex> lock(global_generator_mutex());
    return make_paradigm(params.ssl, params.spec.unet, device, params.seed);
  }();
  auto optimizer = make_optimizer(params.optim, paradigm->trainable_parameters());
  checkpoint::Contents contents{paradigm->modules(), optimizer.get(), json::object()};

  int64_t start_step = 0;
  if (fs::exists(ckpt_path)) {
    const json meta = checkpoint::read_meta(ckpt_path);
    if (meta.value("config", json()) != config) {
      throw InputError(ckpt_path.string(),
                       "was written with a different configuration (first difference: " +
                           config::first_difference(meta.value("config", json()), config) +
                           "); use a new --out folder or the original settings");
    }
    start_step = checkpoint::load(ckpt_path, contents).at("step").get<int64_t>();
    truncate_metrics(metrics_path, start_step);
    spdlog::info("resuming {} from step {} of {}", ckpt_path.string(), start_step,
                 params.optim.steps);
  } else if (!params.init_from.empty()) {
    checkpoint::load(params.init_from, checkpoint::Contents{paradigm->modules(), nullptr, {}});
    spdlog::info("starting from the weights of {}", params.init_from.string());
  }

  const models::UNet net = paradigm->inference_net();
  // The net as built: a paradigm may change the options (UA-MT adds dropout for Monte-Carlo
  // uncertainty when the config has none), and validation and the saved spec must describe it.
  models::SegmenterSpec spec = params.spec;
  spec.unet = net->options();
  spec.patch_size = params.data.patch_size;  // for `infer --sliding-window`
  spdlog::info(
      "SSL stage: paradigm {}, U-Net width {} depth {} norm {} dropout {} ({} parameters), "
      "{} labelled + {} unlabelled volumes, {} steps on {}",
      paradigm->name(), spec.unet.base_width, spec.unet.depth, spec.unet.norm, spec.unet.dropout,
      net->num_parameters(), training.labelled.size(), training.unlabelled.size(),
      params.optim.steps, device.str());

  TrainResult result;
  result.checkpoint = ckpt_path;
  result.steps = start_step;
  const auto validation_cases = load_validation(validation);
  if (start_step >= params.optim.steps) {
    result.finished = true;
    result.last_validation = validate(net, spec, device, validation_cases);
    return result;
  }

  const auto labelled = prepare_labelled(training.labelled, params.data);
  std::vector<PreparedVolume> unlabelled;
  if (paradigm->uses_unlabelled())
    unlabelled = prepare_unlabelled(training.unlabelled, params.data);
  const bool use_unlabelled = paradigm->uses_unlabelled() && !unlabelled.empty();
  BatchSource labelled_source(labelled, true, params.optim.batch_labelled, params.data,
                              params.seed);
  BatchSource unlabelled_source(unlabelled, false,
                                use_unlabelled ? params.optim.batch_unlabelled : 0, params.data,
                                params.seed);

  // The name under which the net that validation and inference use is saved.
  std::string inference_module;
  for (const auto& [name, module] : paradigm->modules())
    if (module.get() == net.ptr().get()) inference_module = name;

  MetricsLog log(metrics_path);
  auto save = [&](int64_t step) {
    contents.meta = {{"step", step},
                     {"config", config},
                     {"spec", spec},
                     {"paradigm", paradigm->name()},
                     {"inference_module", inference_module}};
    checkpoint::save(ckpt_path, contents);
  };

  std::optional<cli::Progress> progress;
  if (params.show_progress) {
    progress.emplace("train " + paradigm->name(), params.optim.steps);
    progress->tick(start_step);
  }
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t step = start_step; step < params.optim.steps; ++step) {
    // Dropout, noise and everything else drawn from torch's generator depend on (seed, step)
    // only, so resuming from a checkpoint replays exactly what an uninterrupted run does.
    {
      const std::lock_guard<std::mutex> lock(global_generator_mutex());
      torch::manual_seed(
          synth::hash_combine(params.seed ^ kTorchSeedSalt, static_cast<uint64_t>(step)));
    }
    const double lr = learning_rate(params.optim, step);
    set_lr(*optimizer, lr);
    const Batch lab = labelled_source.get(step).to(device);
    const Batch unl = use_unlabelled ? unlabelled_source.get(step).to(device) : Batch{};
    paradigm->train(true);
    LossTerms terms = [&] {
      const AutocastGuard autocast(params.optim.bf16, device);
      return paradigm->loss(lab, unl, step);
    }();
    optimizer->zero_grad();
    terms.total.backward();
    optimizer->step();
    paradigm->after_step(step);
    if (progress) progress->tick();

    const int64_t done = step + 1;
    if (done % params.optim.log_every == 0 || done == params.optim.steps) {
      json line = {{"step", done}, {"lr", lr}, {"loss", terms.total.item<double>()}};
      for (const auto& [k, v] : terms.terms) line[k] = v;
      line["elapsed_s"] =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      log.write(line);
    }
    const bool last = done == params.optim.steps;
    if (!validation_cases.empty() && (done % params.optim.validate_every == 0 || last)) {
      paradigm->train(false);
      result.last_validation = validate(net, spec, device, validation_cases);
      log.write({{"step", done}, {"validation", result.last_validation}});
      spdlog::info("step {}: validation {}", done, result.last_validation.dump());
    }
    const bool stop_here =
        params.max_steps_this_run > 0 && done - start_step >= params.max_steps_this_run;
    if (done % params.optim.checkpoint_every == 0 || last || stop_here) save(done);
    result.steps = done;
    if (stop_here && !last) {
      spdlog::info("stopping after {} steps this run (checkpoint at step {}); rerun to continue",
                   done - start_step, done);
      return result;
    }
  }
  if (progress) progress->finish();
  result.finished = true;
  return result;
}

}  // namespace aslseg::ssl
