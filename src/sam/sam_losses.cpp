#include "aslseg/sam/sam_losses.h"

#include <array>
#include <stdexcept>
#include <string>

namespace aslseg::sam {

namespace {

// Target as float, broadcast to the logits' [B, C, H, W].
torch::Tensor target_like(const torch::Tensor& logits, const torch::Tensor& target) {
  if (logits.dim() != 4 || target.dim() != 4 || target.size(0) != logits.size(0) ||
      target.size(1) != 1 || target.size(2) != logits.size(2) || target.size(3) != logits.size(3))
    throw std::invalid_argument("sam loss: logits [B, C, H, W] " + c10::str(logits.sizes()) +
                                " need a target [B, 1, H, W], got " + c10::str(target.sizes()));
  return target.to(logits.device(), logits.scalar_type()).expand_as(logits);
}

// The pixel dimensions of [B, C, H, W].
constexpr std::array<int64_t, 2> kPixelDims{2, 3};

}  // namespace

torch::Tensor dice_loss_per_mask(const torch::Tensor& logits, const torch::Tensor& target) {
  const torch::Tensor t = target_like(logits, target);
  const torch::Tensor p = torch::sigmoid(logits);
  const torch::Tensor inter = (p * t).sum(kPixelDims);
  const torch::Tensor total = p.sum(kPixelDims) + t.sum(kPixelDims);
  return 1.0 - (2.0 * inter + kDiceSmooth) / (total + kDiceSmooth);
}

torch::Tensor bce_loss_per_mask(const torch::Tensor& logits, const torch::Tensor& target) {
  namespace F = torch::nn::functional;
  const torch::Tensor t = target_like(logits, target);
  return F::binary_cross_entropy_with_logits(
             logits, t, F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone))
      .mean(kPixelDims);
}

torch::Tensor focal_loss_per_mask(const torch::Tensor& logits, const torch::Tensor& target,
                                  double alpha, double gamma) {
  namespace F = torch::nn::functional;
  const torch::Tensor t = target_like(logits, target);
  const torch::Tensor p = torch::sigmoid(logits);
  const torch::Tensor ce = F::binary_cross_entropy_with_logits(
      logits, t, F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone));
  const torch::Tensor p_t = p * t + (1.0 - p) * (1.0 - t);
  torch::Tensor loss = ce * (1.0 - p_t).pow(gamma);
  if (alpha >= 0.0) loss = loss * (alpha * t + (1.0 - alpha) * (1.0 - t));
  return loss.mean(kPixelDims);
}

torch::Tensor mask_iou(const torch::Tensor& logits, const torch::Tensor& target, double threshold) {
  torch::NoGradGuard no_grad;
  const torch::Tensor t = target_like(logits, target) > 0.5;
  const torch::Tensor pred = logits > threshold;
  const torch::Tensor inter = (pred & t).sum(kPixelDims).to(torch::kFloat);
  const torch::Tensor uni = (pred | t).sum(kPixelDims).to(torch::kFloat);
  // Both empty: a perfect (empty) mask.
  return torch::where(uni > 0, inter / uni.clamp_min(1.0), torch::ones_like(uni));
}

}  // namespace aslseg::sam
