// Losses of the SSL stage. Every loss is computed in float32 whatever the logits' dtype (bf16
// autocast on GPU), and a pixel whose `valid` is 0 is removed from numerator and denominator
// alike, so padding outside the scanner's field of view neither helps nor dilutes a loss.
#include "aslseg/ssl/losses.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace aslseg::ssl {

namespace {

// Soft Dice smoothing: keeps 2·I / (P + G + eps) finite for a class absent from both the
// prediction and the target (nnU-Net and UA-MT use 1e-5 as well).
constexpr double kDiceEps = 1e-5;
constexpr int64_t kLiverClass = 1;  // LiTS classes of the logits
constexpr int64_t kTumourClass = 2;
// Guards a mean over valid pixels when no pixel is valid: the numerator is then 0 too, and the
// loss is 0 (nothing to learn from) instead of NaN.
constexpr double kMinWeightSum = 1e-12;
// Exponent of the sigmoid ramp-up, exp(-5 (1 - t)^2) (Laine & Aila 2017).
constexpr double kRampupExponent = 5.0;

std::string shape_str(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

void check_logits(const torch::Tensor& logits, const char* what) {
  if (!logits.defined() || logits.dim() != 4 || logits.size(1) < 2)
    throw std::invalid_argument(std::string(what) + ": logits must be [B, C>=2, H, W], got " +
                                (logits.defined() ? shape_str(logits) : "undefined"));
}

// `mask` ([B, H, W], may be undefined) must match the logits' batch and spatial size.
void check_pixel_map(const torch::Tensor& logits, const torch::Tensor& mask, const char* what,
                     const char* name) {
  if (!mask.defined()) return;
  const bool ok = mask.dim() == 3 && mask.size(0) == logits.size(0) &&
                  mask.size(1) == logits.size(2) && mask.size(2) == logits.size(3);
  if (!ok)
    throw std::invalid_argument(std::string(what) + ": " + name + " must be [B, H, W] = [" +
                                std::to_string(logits.size(0)) + ", " +
                                std::to_string(logits.size(2)) + ", " +
                                std::to_string(logits.size(3)) + "], got " + shape_str(mask));
}

void check_target(const torch::Tensor& logits, const torch::Tensor& target, const char* what) {
  if (!target.defined()) throw std::invalid_argument(std::string(what) + ": target is undefined");
  check_pixel_map(logits, target, what, "target");
  if (target.scalar_type() != torch::kLong)
    throw std::invalid_argument(std::string(what) + ": target must be int64");
}

// Per-pixel weight [B, H, W] float32: valid × weight, either may be undefined (= 1).
// Undefined result means "every pixel counts with weight 1".
torch::Tensor pixel_weight(const torch::Tensor& valid, const torch::Tensor& weight,
                           const torch::Device& device) {
  torch::Tensor w;
  if (valid.defined()) w = valid.to(device, torch::kFloat);
  if (weight.defined()) {
    const torch::Tensor v = weight.to(device, torch::kFloat);
    w = w.defined() ? w * v : v;
  }
  return w;
}

// -log p(target) per pixel, [B, H, W]. log_softmax + gather rather than nll_loss: the
// per-pixel losses are needed to weight them.
torch::Tensor pixel_nll(const torch::Tensor& log_p, const torch::Tensor& target) {
  return -log_p.gather(1, target.unsqueeze(1)).squeeze(1);
}

// Mean of a per-pixel loss under weights `w` (undefined: plain mean).
torch::Tensor weighted_mean(const torch::Tensor& per_pixel, const torch::Tensor& w) {
  if (!w.defined()) return per_pixel.mean();
  return (per_pixel * w).sum() / w.sum().clamp_min(kMinWeightSum);
}

}  // namespace

torch::Tensor cross_entropy(const torch::Tensor& logits, const torch::Tensor& target,
                            const torch::Tensor& valid) {
  check_logits(logits, "cross_entropy");
  check_target(logits, target, "cross_entropy");
  check_pixel_map(logits, valid, "cross_entropy", "valid");
  const torch::Tensor log_p = torch::log_softmax(logits.to(torch::kFloat), 1);
  return weighted_mean(pixel_nll(log_p, target), pixel_weight(valid, {}, logits.device()));
}

torch::Tensor soft_dice_loss(const torch::Tensor& logits, const torch::Tensor& target,
                             const torch::Tensor& valid) {
  check_logits(logits, "soft_dice_loss");
  check_target(logits, target, "soft_dice_loss");
  check_pixel_map(logits, valid, "soft_dice_loss", "valid");
  const int64_t num_classes = logits.size(1);
  torch::Tensor p = torch::softmax(logits.to(torch::kFloat), 1);  // [B, C, H, W]
  torch::Tensor g = torch::one_hot(target, num_classes).permute({0, 3, 1, 2}).to(torch::kFloat);
  const torch::Tensor w = pixel_weight(valid, {}, logits.device());
  if (w.defined()) {
    const torch::Tensor w4 = w.unsqueeze(1);
    p = p * w4;
    g = g * w4;
  }
  // Sums over the whole batch per class ("batch Dice", as nnU-Net's batch_dice): one slice
  // without tumour does not turn the tumour term into 1 as a per-slice Dice would.
  const std::vector<int64_t> pixel_dims{0, 2, 3};
  const torch::Tensor inter = (p * g).sum(pixel_dims);
  const torch::Tensor denom = p.sum(pixel_dims) + g.sum(pixel_dims) + kDiceEps;
  const torch::Tensor dice = 2.0 * inter / denom;  // [C]
  return 1.0 - dice.slice(0, 1).mean();            // foreground classes only
}

torch::Tensor supervised_loss(const torch::Tensor& logits, const torch::Tensor& target,
                              const torch::Tensor& valid, const torch::Tensor& organ_only) {
  if (!organ_only.defined())
    return cross_entropy(logits, target, valid) + soft_dice_loss(logits, target, valid);
  check_logits(logits, "supervised_loss");
  check_target(logits, target, "supervised_loss");
  check_pixel_map(logits, valid, "supervised_loss", "valid");
  check_pixel_map(logits, organ_only, "supervised_loss", "organ_only");
  if (logits.size(1) <= kTumourClass)
    throw std::invalid_argument("supervised_loss: organ_only needs liver and tumour classes");
  const torch::Tensor log_p = torch::log_softmax(logits.to(torch::kFloat), 1);
  const torch::Tensor organ_nll =
      -torch::logsumexp(log_p.slice(1, kLiverClass, kTumourClass + 1), 1);  // -log(p1 + p2)
  const torch::Tensor o = organ_only.to(logits.device(), torch::kFloat);
  torch::Tensor w = pixel_weight(valid, {}, logits.device());
  if (!w.defined()) w = torch::ones_like(o);
  return weighted_mean(pixel_nll(log_p, target) * (1.0 - o) + organ_nll * o, w) +
         soft_dice_loss(logits, target, w * (1.0 - o));
}

torch::Tensor softmax_mse(const torch::Tensor& student_logits, const torch::Tensor& teacher_logits,
                          const torch::Tensor& valid, const torch::Tensor& weight) {
  check_logits(student_logits, "softmax_mse");
  if (!teacher_logits.defined() || !teacher_logits.sizes().equals(student_logits.sizes()))
    throw std::invalid_argument(
        "softmax_mse: teacher logits must have the student's shape " + shape_str(student_logits) +
        ", got " +
        (teacher_logits.defined() ? shape_str(teacher_logits) : std::string("undefined")));
  check_pixel_map(student_logits, valid, "softmax_mse", "valid");
  check_pixel_map(student_logits, weight, "softmax_mse", "weight");
  // The teacher is not detached here: callers compute it under NoGradGuard (MT, UA-MT).
  const torch::Tensor ps = torch::softmax(student_logits.to(torch::kFloat), 1);
  const torch::Tensor pt = torch::softmax(teacher_logits.to(torch::kFloat), 1);
  const torch::Tensor sq = (ps - pt).pow(2);  // [B, C, H, W]
  const torch::Tensor w = pixel_weight(valid, weight, student_logits.device());
  if (!w.defined()) return sq.mean();
  const double num_classes = static_cast<double>(student_logits.size(1));
  return (sq * w.unsqueeze(1)).sum() / (w.sum() * num_classes).clamp_min(kMinWeightSum);
}

double sigmoid_rampup(int64_t step, int64_t rampup_steps) {
  if (rampup_steps <= 0) return 1.0;
  const double t =
      std::clamp(static_cast<double>(step) / static_cast<double>(rampup_steps), 0.0, 1.0);
  const double phase = 1.0 - t;
  return std::exp(-kRampupExponent * phase * phase);
}

}  // namespace aslseg::ssl
