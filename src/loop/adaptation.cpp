#include "aslseg/loop/adaptation.h"

#include <c10/core/InferenceMode.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>

#include "aslseg/checkpoint/checkpoint.h"
#include "aslseg/cli/progress.h"
#include "aslseg/config/json_fields.h"
#include "aslseg/infer/predictor.h"
#include "aslseg/io/error.h"
#include "aslseg/io/volume_io.h"
#include "aslseg/metrics/binary_metrics.h"
#include "aslseg/preprocess/intensity.h"
#include "aslseg/preprocess/invalid_mask.h"
#include "aslseg/preprocess/resize.h"
#include "aslseg/preprocess/slicing.h"
#include "aslseg/ssl/losses.h"
#include "aslseg/synth/rng.h"

namespace aslseg::loop {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Salts that keep the random streams of one seed apart: the corrupted copies, the batches, the
// per-step torch generator (dropout) and the net's initial weights.
constexpr uint64_t kCopySalt = 0xC0FFEE0C0B1E5ULL;
constexpr uint64_t kBatchSalt = 0xBA7C4E5ULL;
constexpr uint64_t kTorchStepSalt = 0x57E95EEDULL;
constexpr uint64_t kInitSalt = 0x1417ULL;
// Samples are kept in half precision: inputs are windowed intensities and (resized) 0/1 masks
// in [0, 1], where fp16's 11-bit mantissa loses nothing a net can use, and the sample set of a
// few labelled volumes at the net's size halves (it is held in memory for the whole run).
constexpr torch::Dtype kSampleDtype = torch::kHalf;
// Slices per forward pass at inference: bounds memory by the batch, not the volume.
constexpr int64_t kPredictBatch = 8;
constexpr float kMaskOn = 1.0f;
constexpr const char* kWhere = "adaptation";

const std::vector<std::string> kTrainKeys{"spec",        "corruption", "steps",
                                          "batch_size",  "lr",         "weight_decay",
                                          "dice_weight", "ce_weight",  "corruptions_per_case",
                                          "log_every",   "seed",       "device"};

[[noreturn]] void bad(const std::string& field, const std::string& problem) {
  throw std::invalid_argument(std::string(kWhere) + "." + field + " " + problem);
}

void check_grid(const Image& hu, const LabelMap& m, const char* what) {
  const std::string diff = hu.geometry.difference(m.geometry);
  if (!diff.empty() || m.voxels.size() != hu.voxels.size())
    throw std::invalid_argument(std::string("adaptation net: ") + what +
                                " is not on the image's grid (" +
                                (diff.empty() ? "voxel count" : diff) + ")");
}

// HU windowed to [0, 1] with padding at 0, as the segmentation net's input (infer::prepare).
struct Windowed {
  Image image;
  LabelMap valid;
};
Windowed window_volume(const Image& hu, const preprocess::WindowParams& window) {
  Windowed w;
  w.valid = preprocess::valid_mask(hu);
  w.image = preprocess::apply_window(hu, w.valid, window);
  return w;
}

// AN's input for slice z at the net's size: 2k+1 windowed slices, PL2's tumour and, when the
// spec asks for it, PL1's tumour, as 0/1 floats, all resized bilinearly. Bilinear for the
// masks too: the net gets one resampling for every channel (no half-pixel offset between a
// mask and its image), and a downsampled mask keeps its thin parts as fractions instead of
// nearest's arbitrary keep-or-drop. Training and inference both come through here.
preprocess::FloatPlanes model_input(const Image& windowed, const LabelMap& pl2, const LabelMap* pl1,
                                    int64_t z, const models::AdaptationSpec& spec) {
  const int64_t w = windowed.geometry.size[0], h = windowed.geometry.size[1];
  const int64_t image_channels = 2 * spec.context + 1;
  preprocess::FloatPlanes planes(spec.input_channels(), h, w);
  preprocess::slice_with_context(windowed, z, {static_cast<int>(spec.context)}, planes.plane(0));
  auto put_tumour = [&](const LabelMap& m, int64_t channel) {
    const uint8_t* src = m.slice(z);
    float* dst = planes.plane(channel);
    for (int64_t i = 0; i < w * h; ++i) dst[i] = src[i] == kTumour ? kMaskOn : 0.0f;
  };
  put_tumour(pl2, image_channels);
  if (spec.use_pl1) put_tumour(*pl1, image_channels + 1);
  return preprocess::image_to_model_size(planes, {spec.image_size, spec.image_size});
}

torch::Tensor planes_tensor(const preprocess::FloatPlanes& p) {
  return torch::from_blob(const_cast<float*>(p.data.data()), {p.channels, p.height, p.width},
                          torch::kFloat)
      .clone();
}

// Every training slice of every labelled case, kept at the net's size.
struct Samples {
  torch::Tensor inputs;   // [N, C, S, S] kSampleDtype
  torch::Tensor targets;  // [N, S, S] uint8 0/1 (ground-truth tumour)
  double pl2_dice = 0.0;  // mean over volumes of the synthetic PL2's tumour Dice
};

Samples make_samples(const std::vector<dataset::LabelledCase>& labelled, sam::SamPredictor& sam,
                     const SamStageParams& sam_stage, const AdaptationTrainParams& p) {
  const models::AdaptationSpec& spec = p.spec;
  std::vector<torch::Tensor> inputs, targets;
  double dice_sum = 0.0;
  int64_t volumes = 0;
  SamStageStats stats;
  cli::Progress progress("adaptation samples", static_cast<int64_t>(labelled.size()));
  for (const dataset::LabelledCase& c : labelled) {
    const Image hu = io::read_image(c.image);
    const LabelMap gt = io::read_labels_matching(c.label, hu.geometry);
    std::vector<LabelMap> corrupted;
    for (int64_t k = 0; k < p.corruptions_per_case; ++k)
      corrupted.push_back(
          corrupt_volume(gt, p.corruption,
                         synth::hash_combine(p.seed ^ kCopySalt, static_cast<uint64_t>(k)), c.id));
    std::vector<const LabelMap*> sources;
    for (const LabelMap& m : corrupted) sources.push_back(&m);
    const std::vector<LabelMap> pl2 = sam_tumour_many(sam, hu, sources, sam_stage, &stats);

    const Windowed win = window_volume(hu, spec.window);
    const int64_t plane = hu.geometry.slice_voxels();
    for (int64_t k = 0; k < p.corruptions_per_case; ++k) {
      const auto kk = static_cast<size_t>(k);
      dice_sum += metrics::dice(pl2[kk], gt, {kTumour, kTumour});
      ++volumes;
      for (int64_t z = 0; z < hu.geometry.size[2]; ++z) {
        const uint8_t* g = gt.slice(z);
        if (std::none_of(g, g + plane, [](uint8_t v) { return v >= kLiver; })) continue;
        inputs.push_back(planes_tensor(model_input(win.image, pl2[kk], &corrupted[kk], z, spec))
                             .to(kSampleDtype));
        preprocess::LabelPlanes t = preprocess::label_slice(gt, z);
        for (uint8_t& v : t.data) v = v == kTumour ? 1 : 0;
        t = preprocess::labels_to_model_size(t, {spec.image_size, spec.image_size});
        targets.push_back(
            torch::from_blob(t.data.data(), {spec.image_size, spec.image_size}, torch::kUInt8)
                .clone());
      }
    }
    progress.tick();
  }
  progress.finish();
  if (inputs.empty())
    throw InputError("", "adaptation net: the labelled cases hold no slice with liver or tumour");
  Samples s;
  s.inputs = torch::stack(inputs);
  s.targets = torch::stack(targets);
  s.pl2_dice = dice_sum / static_cast<double>(volumes);
  spdlog::info(
      "adaptation net: {} training slices from {} labelled volumes x {} corruptions; SAM ran on "
      "{} slices with {} prompt sets; synthetic PL2 tumour Dice vs ground truth {:.3f}",
      s.inputs.size(0), labelled.size(), p.corruptions_per_case, stats.slices_prompted,
      stats.prompt_sets, s.pl2_dice);
  return s;
}

double mean(const std::vector<double>& v, size_t from, size_t to) {
  double sum = 0.0;
  for (size_t i = from; i < to; ++i) sum += v[i];
  return to > from ? sum / static_cast<double>(to - from) : 0.0;
}

}  // namespace

void validate(const AdaptationTrainParams& p) {
  models::validate(p.spec);
  try {
    validate(p.corruption);
  } catch (const InputError& e) {
    throw std::invalid_argument(e.what());
  }
  if (p.steps < 1) bad("steps", "must be >= 1");
  if (p.batch_size < 1) bad("batch_size", "must be >= 1");
  if (!(p.lr > 0.0) || !std::isfinite(p.lr)) bad("lr", "must be a finite number > 0");
  if (!(p.weight_decay >= 0.0)) bad("weight_decay", "must be >= 0");
  if (!(p.dice_weight >= 0.0)) bad("dice_weight", "must be >= 0");
  if (!(p.ce_weight >= 0.0)) bad("ce_weight", "must be >= 0");
  if (!(p.dice_weight + p.ce_weight > 0.0)) bad("dice_weight", "+ ce_weight must be > 0");
  if (p.corruptions_per_case < 1) bad("corruptions_per_case", "must be >= 1");
  if (p.log_every < 1) bad("log_every", "must be >= 1");
}

void to_json(json& j, const AdaptationTrainParams& p) {
  j = json{{"spec", p.spec},
           {"corruption", p.corruption},
           {"steps", p.steps},
           {"batch_size", p.batch_size},
           {"lr", p.lr},
           {"weight_decay", p.weight_decay},
           {"dice_weight", p.dice_weight},
           {"ce_weight", p.ce_weight},
           {"corruptions_per_case", p.corruptions_per_case},
           {"log_every", p.log_every},
           {"seed", p.seed},
           {"device", p.device}};
}

void from_json(const json& j, AdaptationTrainParams& p) {
  config::reject_unknown_keys(j, kTrainKeys, kWhere);
  AdaptationTrainParams out = p;
  if (j.contains("spec")) j.at("spec").get_to(out.spec);
  if (j.contains("corruption")) j.at("corruption").get_to(out.corruption);
  auto read_int = [&](const char* key, int64_t& field) {
    if (j.contains(key) && !j.at(key).is_number_integer())
      config::throw_wrong_type(kWhere, key, j.at(key));
    config::read_if_present(j, key, field, kWhere);
  };
  read_int("steps", out.steps);
  read_int("batch_size", out.batch_size);
  config::read_if_present(j, "lr", out.lr, kWhere);
  config::read_if_present(j, "weight_decay", out.weight_decay, kWhere);
  config::read_if_present(j, "dice_weight", out.dice_weight, kWhere);
  config::read_if_present(j, "ce_weight", out.ce_weight, kWhere);
  read_int("corruptions_per_case", out.corruptions_per_case);
  read_int("log_every", out.log_every);
  if (j.contains("seed") && !j.at("seed").is_number_unsigned())
    config::throw_wrong_type(kWhere, "seed", j.at("seed"));
  config::read_if_present(j, "seed", out.seed, kWhere);
  config::read_if_present(j, "device", out.device, kWhere);
  validate(out);
  p = out;
}

AdaptationTrainResult train_adaptation_net(const std::vector<dataset::LabelledCase>& labelled,
                                           sam::SamPredictor& sam, const SamStageParams& sam_stage,
                                           const AdaptationTrainParams& params,
                                           const fs::path& out_dir) {
  validate(params);
  const torch::Device device = infer::parse_device(params.device);
  if (labelled.empty()) throw InputError("", "adaptation net: no labelled case to train on");
  fs::create_directories(out_dir);
  const models::AdaptationSpec& spec = params.spec;

  torch::manual_seed(synth::hash_combine(params.seed, kInitSalt));
  models::UNet net(spec.unet);
  net->to(device);
  spdlog::info("adaptation net: parameters {}", json(params).dump());
  spdlog::info(
      "adaptation net: U-Net width {} depth {} norm {} ({} parameters), {} steps of {} "
      "slices, lr {} (AdamW, weight decay {}), loss {} x Dice + {} x CE, on {}",
      spec.unet.base_width, spec.unet.depth, spec.unet.norm, net->num_parameters(), params.steps,
      params.batch_size, params.lr, params.weight_decay, params.dice_weight, params.ce_weight,
      device.str());

  const Samples samples = make_samples(labelled, sam, sam_stage, params);
  const int64_t n = samples.inputs.size(0);
  torch::optim::AdamW optimizer(
      net->parameters(), torch::optim::AdamWOptions(params.lr).weight_decay(params.weight_decay));

  // Not resumable: a rerun starts over, so the log starts empty.
  std::ofstream log(out_dir / kAdaptationLogName, std::ios::trunc);
  if (!log) throw InputError((out_dir / kAdaptationLogName).string(), "cannot be written");
  std::vector<double> losses;
  losses.reserve(static_cast<size_t>(params.steps));
  cli::Progress progress("train adaptation net", params.steps);
  const auto t0 = std::chrono::steady_clock::now();
  net->train();
  for (int64_t step = 0; step < params.steps; ++step) {
    // Batches and dropout depend on (seed, step) only.
    torch::manual_seed(
        synth::hash_combine(params.seed ^ kTorchStepSalt, static_cast<uint64_t>(step)));
    synth::Rng rng(synth::hash_combine(params.seed ^ kBatchSalt, static_cast<uint64_t>(step)));
    std::vector<int64_t> picks(static_cast<size_t>(params.batch_size));
    for (int64_t& i : picks) i = rng.uniform_int(0, static_cast<int>(n - 1));
    const torch::Tensor index = torch::tensor(picks, torch::kLong);
    const torch::Tensor x = samples.inputs.index_select(0, index).to(device, torch::kFloat);
    const torch::Tensor y = samples.targets.index_select(0, index).to(device, torch::kLong);

    const torch::Tensor logits = net->forward(x);
    const torch::Tensor ce = ssl::cross_entropy(logits, y);
    const torch::Tensor dice = ssl::soft_dice_loss(logits, y);
    const torch::Tensor loss = params.ce_weight * ce + params.dice_weight * dice;
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    losses.push_back(loss.item<double>());
    progress.tick();

    const int64_t done = step + 1;
    if (done % params.log_every == 0 || done == params.steps) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const json line = {{"step", done},
                         {"loss", losses.back()},
                         {"dice", dice.item<double>()},
                         {"ce", ce.item<double>()},
                         {"lr", params.lr},
                         {"seconds", seconds}};
      log << line.dump() << "\n";
      log.flush();
      spdlog::info("adaptation net: step {}/{} loss {:.4f} (Dice loss {:.4f}, CE {:.4f}), {:.1f} s",
                   done, params.steps, losses.back(), line["dice"].get<double>(),
                   line["ce"].get<double>(), seconds);
    }
  }
  progress.finish();

  AdaptationTrainResult result;
  result.checkpoint = out_dir / kAdaptationCheckpointName;
  result.samples = n;
  result.synthetic_pl2_dice = samples.pl2_dice;
  const size_t window = std::min(losses.size(), static_cast<size_t>(params.log_every));
  result.first_loss = mean(losses, 0, window);
  result.last_loss = mean(losses, losses.size() - window, losses.size());
  net->eval();
  checkpoint::save(result.checkpoint, {{{kAdaptationModule, net.ptr()}},
                                       nullptr,
                                       {{kMetaAdaptationSpec, spec},
                                        {kMetaAdaptationTrain, params},
                                        {"sam_stage", sam_stage},
                                        {"step", params.steps},
                                        {"samples", n},
                                        {"synthetic_pl2_dice", samples.pl2_dice},
                                        {checkpoint::kMetaInferenceModule, kAdaptationModule}}});
  spdlog::info("adaptation net: loss {:.4f} -> {:.4f}; wrote {}", result.first_loss,
               result.last_loss, result.checkpoint.string());
  return result;
}

struct AdaptationPredictor::State {
  models::AdaptationSpec spec;
  models::UNet net{nullptr};
  torch::Device device{torch::kCPU};
};

AdaptationPredictor::AdaptationPredictor(const fs::path& checkpoint, const std::string& device)
    : state_(std::make_shared<State>()) {
  state_->device = infer::parse_device(device);
  const json meta = checkpoint::read_meta(checkpoint);
  if (!meta.contains(kMetaAdaptationSpec))
    throw InputError(checkpoint.string(), std::string("metadata holds no '") + kMetaAdaptationSpec +
                                              "' (not an adaptation-net checkpoint?)");
  try {
    meta.at(kMetaAdaptationSpec).get_to(state_->spec);
  } catch (const std::invalid_argument& e) {
    throw InputError(checkpoint.string(),
                     std::string("metadata '") + kMetaAdaptationSpec + "': " + e.what());
  }
  state_->net = models::UNet(state_->spec.unet);
  checkpoint::load(checkpoint, {{{kAdaptationModule, state_->net.ptr()}}, nullptr, {}});
  state_->net->to(state_->device);
  state_->net->eval();
}

const models::AdaptationSpec& AdaptationPredictor::spec() const { return state_->spec; }

LabelMap AdaptationPredictor::predict(const Image& hu, const LabelMap& pl2,
                                      const LabelMap& pl1) const {
  const models::AdaptationSpec& spec = state_->spec;
  check_grid(hu, pl2, "PL2");
  if (spec.use_pl1) check_grid(hu, pl1, "PL1");
  const Geometry& g = hu.geometry;
  const int64_t width = g.size[0], height = g.size[1], depth = g.size[2];
  const int64_t plane = g.slice_voxels();
  const int64_t side = spec.image_size;
  const Windowed win = window_volume(hu, spec.window);
  LabelMap out(g, kBackground);

  c10::InferenceMode inference;
  for (int64_t z0 = 0; z0 < depth; z0 += kPredictBatch) {
    const int64_t count = std::min(kPredictBatch, depth - z0);
    std::vector<torch::Tensor> batch;
    for (int64_t z = z0; z < z0 + count; ++z)
      batch.push_back(planes_tensor(model_input(win.image, pl2, &pl1, z, spec)));
    const torch::Tensor x = torch::stack(batch).to(state_->device);
    const torch::Tensor probs =
        torch::softmax(state_->net->forward(x).to(torch::kFloat), 1).to(torch::kCPU).contiguous();
    for (int64_t i = 0; i < count; ++i) {
      // Probabilities, not labels, go back to the slice size (as infer::Predictor does).
      preprocess::FloatPlanes p(models::kAdaptationClasses, side, side);
      std::copy_n(probs[i].data_ptr<float>(), p.data.size(), p.data.begin());
      const preprocess::FloatPlanes back = preprocess::to_original_size(p, height, width);
      const float* background = back.plane(0);
      const float* tumour = back.plane(1);
      const uint8_t* valid = win.valid.slice(z0 + i);
      uint8_t* dst = out.slice(z0 + i);
      // argmax with ties to the first class (background), as torch's argmax.
      for (int64_t k = 0; k < plane; ++k)
        dst[k] =
            valid[k] != preprocess::kInvalid && tumour[k] > background[k] ? kTumour : kBackground;
    }
  }
  return out;
}

}  // namespace aslseg::loop
