// Losses for fine-tuning SAM's binary masks: soft Dice, binary cross-entropy and the focal loss
// of SAM (Lin et al. 2017; alpha 0.25, gamma 2 as in the SAM paper), each per mask so that the
// multimask mode can keep the best of the C outputs, as SAM's training does.
#pragma once

#include <torch/torch.h>

namespace aslseg::sam {

constexpr double kDiceSmooth = 1.0;  // keeps the Dice of an empty target and prediction at 0 loss
constexpr double kFocalAlpha = 0.25;
constexpr double kFocalGamma = 2.0;

// logits [B, C, H, W], target [B, 1, H, W] (0/1, any dtype; broadcast over C) -> [B, C].
// 1 - (2 sum(p t) + s) / (sum p + sum t + s), p = sigmoid(logits).
torch::Tensor dice_loss_per_mask(const torch::Tensor& logits, const torch::Tensor& target);
// Mean binary cross-entropy with logits over the pixels of each mask.
torch::Tensor bce_loss_per_mask(const torch::Tensor& logits, const torch::Tensor& target);
// Mean focal loss over the pixels of each mask.
torch::Tensor focal_loss_per_mask(const torch::Tensor& logits, const torch::Tensor& target,
                                  double alpha = kFocalAlpha, double gamma = kFocalGamma);
// IoU of (logits > threshold) with the target, per mask (no gradient): the target of SAM's
// IoU head.
torch::Tensor mask_iou(const torch::Tensor& logits, const torch::Tensor& target,
                       double threshold = 0.0);

}  // namespace aslseg::sam
