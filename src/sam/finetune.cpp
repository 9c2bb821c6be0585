#include "aslseg/sam/finetune.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <numeric>
#include <stdexcept>

#include "aslseg/cli/progress.h"
#include "aslseg/infer/predictor.h"
#include "aslseg/sam/resize_longest_side.h"
#include "aslseg/sam/sam_checkpoint.h"
#include "aslseg/sam/sam_losses.h"
#include "aslseg/sam/sam_predictor.h"

namespace aslseg::sam {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Salt of the per-step prompt/slice stream (ASCII "samtune"), so it never coincides with
// another component's stream for the same seed.
constexpr uint64_t kStepStreamSalt = 0x73616d74756e65ULL;
// Fixed stream of the exact (un-jittered) validation prompts; they draw nothing random.
constexpr uint64_t kValidationSeed = 0;

torch::Tensor encode_slice(models::Sam& sam, const torch::Tensor& windowed, torch::Device device) {
  const torch::Tensor image = sam_image_from_windowed(windowed, sam->config());
  return sam->encode(sam->preprocess(image.to(device)));
}

// Exact boxes, one per component, nothing random: the validation prompts.
GtPromptParams exact_boxes() {
  GtPromptParams p;
  p.box_jitter_px = 0;
  p.box_jitter_fraction = 0.0;
  return p;
}

double dice_of(const torch::Tensor& pred, const torch::Tensor& truth) {
  const double inter = (pred & truth).sum().item<double>();
  const double total = pred.sum().item<double>() + truth.sum().item<double>();
  return total > 0.0 ? 2.0 * inter / total : 1.0;
}

// box_prompt_dice, with the slices' embeddings when they are already known (else encoded).
double box_dice(const models::Sam& sam, const std::vector<LabelledSlice>& slices,
                torch::Device device, const std::vector<torch::Tensor>* embeddings,
                const RoiParams& roi) {
  SamPredictor predictor(sam, device);
  double sum = 0.0;
  int64_t count = 0;
  for (size_t i = 0; i < slices.size(); ++i) {
    const LabelledSlice& s = slices[i];
    const int64_t h = s.mask.size(0);
    const int64_t w = s.mask.size(1);
    const torch::Tensor mask = s.mask.contiguous();
    synth::Rng rng(kValidationSeed);
    const auto prompts = prompts_from_mask(mask.data_ptr<uint8_t>(), w, h, exact_boxes(), rng);
    if (prompts.empty()) continue;
    if (roi.enabled) {
      const torch::Tensor uni =
          predict_in_rois(predictor, s.windowed, to_sam_prompts(prompts, true), roi);
      sum += dice_of(uni, mask > 0);
      ++count;
      continue;
    }
    if (embeddings != nullptr)
      predictor.set_embedding((*embeddings)[i], h, w);
    else
      predictor.set_windowed(s.windowed);
    const SamPrediction p = predictor.predict(to_sam_prompts(prompts, true), false);
    const torch::Tensor uni = p.masks.any(0).any(0);  // [h, w]
    sum += dice_of(uni, mask > 0);
    ++count;
  }
  return count > 0 ? sum / static_cast<double>(count) : 0.0;
}

// Up to `wanted` prompts for one slice: distinct components in random order when there are
// enough, otherwise every component repeated with fresh jitter.
std::vector<ComponentPrompt> draw_prompts(const uint8_t* mask, int64_t w, int64_t h,
                                          const GtPromptParams& gp, int64_t wanted,
                                          synth::Rng& rng) {
  std::vector<ComponentPrompt> pool = prompts_from_mask(mask, w, h, gp, rng);
  if (pool.empty()) return pool;
  // Fisher-Yates with our portable generator.
  for (size_t i = pool.size() - 1; i > 0; --i)
    std::swap(pool[i], pool[static_cast<size_t>(rng.uniform_int(0, static_cast<int>(i)))]);
  while (static_cast<int64_t>(pool.size()) < wanted) {
    std::vector<ComponentPrompt> more = prompts_from_mask(mask, w, h, gp, rng);
    pool.insert(pool.end(), more.begin(), more.end());
  }
  pool.resize(static_cast<size_t>(wanted));
  return pool;
}

struct LossTerms {
  double loss = 0, dice = 0, bce = 0, focal = 0, iou_mse = 0;
  int64_t n = 0;
  void add(const LossTerms& o) {
    loss += o.loss, dice += o.dice, bce += o.bce, focal += o.focal, iou_mse += o.iou_mse;
    n += o.n;
  }
  json mean() const {
    const double d = std::max<int64_t>(n, 1);
    return {{"loss", loss / d},
            {"dice", dice / d},
            {"bce", bce / d},
            {"focal", focal / d},
            {"iou_mse", iou_mse / d}};
  }
};

class JsonLog {
 public:
  explicit JsonLog(const fs::path& path) : out_(path, std::ios::trunc) {
    if (!out_) throw std::runtime_error("cannot write " + path.string());
  }
  void write(const json& line) { out_ << line.dump() << '\n' << std::flush; }

 private:
  std::ofstream out_;
};

// Freezes (or not) the image encoder for the run and makes it trainable again however the run
// ends, so the caller gets back a model like the one it passed.
class EncoderFreeze {
 public:
  EncoderFreeze(models::Sam& sam, bool freeze) : sam_(sam) {
    for (auto& t : sam_->image_encoder->parameters()) t.requires_grad_(!freeze);
  }
  ~EncoderFreeze() {
    for (auto& t : sam_->image_encoder->parameters()) t.requires_grad_(true);
  }
  EncoderFreeze(const EncoderFreeze&) = delete;
  EncoderFreeze& operator=(const EncoderFreeze&) = delete;

 private:
  models::Sam& sam_;
};

}  // namespace

double box_prompt_dice(const models::Sam& sam, const std::vector<LabelledSlice>& slices,
                       torch::Device device, const RoiParams& roi) {
  return box_dice(sam, slices, device, nullptr, roi);
}

FinetuneResult finetune_sam(models::Sam& sam, const std::vector<LabelledSlice>& slices,
                            const SamFinetuneParams& params, const fs::path& out_dir,
                            const std::vector<LabelledSlice>& validation) {
  validate(params);
  if (slices.empty()) throw std::invalid_argument("finetune_sam: no labelled slices");
  const torch::Device device = infer::parse_device(params.device);
  const GtPromptParams gp = prompt_params(params);
  const models::SamConfig& cfg = sam->config();
  fs::create_directories(out_dir);
  FinetuneResult result;
  result.checkpoint = out_dir / kFinetunedCheckpointName;
  result.pth = out_dir / kFinetunedPthName;
  JsonLog log(out_dir / kFinetuneLogName);
  const auto start = Clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };

  sam->to(device);
  const EncoderFreeze freeze(sam, params.freeze_image_encoder);
  std::vector<torch::Tensor> trainable;
  int64_t trainable_count = 0;
  for (auto& t : sam->parameters())
    if (t.requires_grad()) {
      trainable.push_back(t);
      trainable_count += t.numel();
    }
  spdlog::info(
      "sam finetune: {} slices, {} steps x {} slices x {} prompts; {} of {} parameters "
      "trained (image encoder {}); device {}",
      slices.size(), params.steps, params.batch_slices, params.prompts_per_slice, trainable_count,
      sam->num_parameters(), params.freeze_image_encoder ? "frozen" : "trained", device.str());

  // Frozen encoder: each slice is encoded once, here (not with crops: they move with the jitter).
  const bool cached = params.freeze_image_encoder && !params.roi.enabled;
  std::vector<torch::Tensor> cache;
  std::vector<torch::Tensor> validation_cache;
  if (cached) {
    torch::NoGradGuard no_grad;
    sam->eval();
    cli::Progress progress("sam encode", static_cast<int64_t>(slices.size() + validation.size()));
    for (const auto& s : slices) {
      cache.push_back(encode_slice(sam, s.windowed, device));
      progress.tick();
    }
    for (const auto& s : validation) {
      validation_cache.push_back(encode_slice(sam, s.windowed, device));
      progress.tick();
    }
    progress.finish();
    spdlog::info("sam finetune: {} embeddings cached in {:.1f} s",
                 cache.size() + validation_cache.size(), seconds());
  }
  auto validate_now = [&](int64_t step) {
    if (validation.empty()) return -1.0;
    const double d =
        box_dice(sam, validation, device, cached ? &validation_cache : nullptr, params.roi);
    log.write({{"step", step}, {"validation_box_dice", d}, {"seconds", seconds()}});
    spdlog::info("sam finetune: step {}: validation Dice (exact GT boxes) {:.4f} on {} slices",
                 step, d, validation.size());
    return d;
  };
  result.validation_dice_before = validate_now(0);

  torch::optim::AdamW optimizer(
      trainable, torch::optim::AdamWOptions(params.lr).weight_decay(params.weight_decay));
  json meta_params;
  to_json(meta_params, params);
  auto save = [&](int64_t step, bool complete) {
    sam->eval();
    json meta = {{"step", step},
                 {"complete", complete},
                 {"finetune", meta_params},
                 {"window", {{"level", params.window.level}, {"width", params.window.width}}}};
    if (complete && result.validation_dice_before >= 0.0)
      meta["validation_box_dice"] = {{"before", result.validation_dice_before},
                                     {"after", result.validation_dice_after}};
    save_sam_checkpoint(sam, result.checkpoint, meta);
    save_sam_pth(sam, result.pth);
  };

  // One decoder pass on `embedding` for `prompts` (frame of an h x w image) against `target`
  // [P, 1, h, w] on the device; backward of `share` of the loss (its part of the step).
  auto train_on = [&](const torch::Tensor& embedding, const SamPrompts& sp,
                      const torch::Tensor& target, int64_t h, int64_t w, double share) {
    models::SamPrompt mp;
    if (sp.boxes.defined()) mp.boxes = apply_boxes(sp.boxes, {h, w}, cfg.image_size).to(device);
    if (sp.point_coords.defined()) {
      mp.point_coords = apply_coords(sp.point_coords, {h, w}, cfg.image_size).to(device);
      mp.point_labels = sp.point_labels.to(device);
    }
    auto [low_res, iou_pred] = sam->decode(embedding, mp, params.multimask);
    const torch::Tensor logits = sam->postprocess_masks(
        low_res, preprocess_shape(h, w, cfg.image_size), {h, w});  // [P, C, h, w]
    const torch::Tensor dice = dice_loss_per_mask(logits, target);
    const torch::Tensor bce = bce_loss_per_mask(logits, target);
    torch::Tensor per_mask = params.dice_weight * dice + params.bce_weight * bce;
    torch::Tensor focal = torch::zeros_like(dice);
    if (params.focal_weight > 0.0) {
      focal = focal_loss_per_mask(logits, target);
      per_mask = per_mask + params.focal_weight * focal;
    }
    // Multimask: only each prompt's best output is trained (SAM's ambiguity-aware loss).
    const torch::Tensor best = per_mask.argmin(1, /*keepdim=*/true);
    const torch::Tensor mask_loss = per_mask.gather(1, best).mean();
    const torch::Tensor iou_mse =
        torch::mse_loss(iou_pred, mask_iou(logits, target, cfg.mask_threshold));
    const torch::Tensor loss = mask_loss + params.iou_weight * iou_mse;
    (loss * share).backward();
    LossTerms t;
    t.loss = loss.item<double>();
    t.dice = dice.gather(1, best).mean().item<double>();
    t.bce = bce.gather(1, best).mean().item<double>();
    t.focal = focal.gather(1, best).mean().item<double>();
    t.iou_mse = iou_mse.item<double>();
    t.n = 1;
    return t;
  };

  LossTerms window_terms;
  bool first_window = true;
  cli::Progress progress("sam finetune", params.steps);
  for (int64_t step = 0; step < params.steps; ++step) {
    sam->train();
    // Slice draws and prompt jitter depend only on (seed, step).
    synth::Rng rng(synth::hash_combine(params.seed ^ kStepStreamSalt, static_cast<uint64_t>(step)));
    optimizer.zero_grad();
    LossTerms step_terms;
    const auto batch = static_cast<double>(params.batch_slices);
    for (int64_t b = 0; b < params.batch_slices; ++b) {
      const auto idx = static_cast<size_t>(rng.uniform_int(0, static_cast<int>(slices.size()) - 1));
      const LabelledSlice& s = slices[idx];
      const int64_t h = s.mask.size(0);
      const int64_t w = s.mask.size(1);
      const torch::Tensor mask = s.mask.contiguous();
      const uint8_t* m = mask.data_ptr<uint8_t>();
      const std::vector<ComponentPrompt> prompts =
          draw_prompts(m, w, h, gp, params.prompts_per_slice, rng);
      if (prompts.empty()) continue;  // every component below min_component_pixels
      // Each prompt's target: its own component.
      const std::vector<uint8_t> masks = component_masks(m, w, h, prompts);
      const auto p = static_cast<int64_t>(prompts.size());
      const torch::Tensor targets =
          torch::from_blob(const_cast<uint8_t*>(masks.data()), {p, 1, h, w}, torch::kUInt8)
              .to(torch::kFloat);
      const SamPrompts all = to_sam_prompts(prompts, gp.use_box);
      if (!params.roi.enabled) {
        const torch::Tensor embedding = cached ? cache[idx] : encode_slice(sam, s.windowed, device);
        step_terms.add(train_on(embedding, all, targets.to(device), h, w, 1.0 / batch));
        continue;
      }
      // One crop per prompt, around its jittered box, as the SAM stage crops PL1's boxes.
      for (int64_t k = 0; k < p; ++k) {
        const Roi roi = roi_around(prompts[static_cast<size_t>(k)].box, params.roi);
        SamPrompts one;
        one.boxes = all.boxes.narrow(0, k, 1);
        if (all.point_coords.defined()) {
          one.point_coords = all.point_coords.narrow(0, k, 1);
          one.point_labels = all.point_labels.narrow(0, k, 1);
        }
        torch::Tensor embedding;
        {
          torch::AutoGradMode grad(!params.freeze_image_encoder);
          embedding = encode_slice(sam, crop(s.windowed, roi), device);
        }
        const torch::Tensor target = crop(targets[k][0], roi).view({1, 1, roi.side, roi.side});
        step_terms.add(train_on(embedding, to_roi(one, roi), target.to(device), roi.side, roi.side,
                                1.0 / (batch * static_cast<double>(p))));
      }
    }
    optimizer.step();
    window_terms.add(step_terms);
    const bool last = step + 1 == params.steps;
    if ((step + 1) % params.log_every == 0 || last) {
      json line = window_terms.mean();
      line["step"] = step + 1;
      line["lr"] = params.lr;
      line["seconds"] = seconds();
      log.write(line);
      if (first_window) result.first_loss = line["loss"].get<double>();
      first_window = false;
      result.last_loss = line["loss"].get<double>();
      spdlog::debug("sam finetune: step {} loss {:.4f}", step + 1, result.last_loss);
      window_terms = LossTerms{};
    }
    if (params.checkpoint_every > 0 && (step + 1) % params.checkpoint_every == 0 && !last)
      save(step + 1, false);
    progress.tick();
  }
  progress.finish();
  result.steps = params.steps;
  sam->eval();
  result.validation_dice_after = validate_now(params.steps);
  save(params.steps, true);
  spdlog::info("sam finetune: loss {:.4f} -> {:.4f} in {:.1f} s; wrote {} and {}",
               result.first_loss, result.last_loss, seconds(), result.checkpoint.string(),
               result.pth.string());
  return result;
}

}  // namespace aslseg::sam
