// Losses of the SSL stage: supervised cross-entropy + soft Dice (nnU-Net's pairing), the
// mean-squared consistency between softmax outputs used by mean teacher / UA-MT, and the
// sigmoid ramp-up of consistency weights (Laine & Aila 2017; used by MT, UA-MT, CPS).
#pragma once

#include <torch/torch.h>

namespace aslseg::ssl {

// Mean cross-entropy over valid pixels. logits [B, C, H, W], target [B, H, W] int64,
// valid [B, H, W] float (1 keeps a pixel; may be undefined = all valid).
torch::Tensor cross_entropy(const torch::Tensor& logits, const torch::Tensor& target,
                            const torch::Tensor& valid = {});

// 1 - mean over foreground classes (1..C-1) of the soft Dice computed over the whole batch:
// 2 sum(p g) / (sum p + sum g + eps), valid pixels only.
torch::Tensor soft_dice_loss(const torch::Tensor& logits, const torch::Tensor& target,
                             const torch::Tensor& valid = {});

// cross_entropy + soft_dice_loss. `organ_only` [B, H, W] float (may be undefined): 1 where the
// target says only "liver or tumour" (a pseudo-label's liver, which may hide a missed lesion):
// there the cross-entropy is -log(p_liver + p_tumour) and the Dice term does not count the
// pixel. Needs >= 3 classes when given.
torch::Tensor supervised_loss(const torch::Tensor& logits, const torch::Tensor& target,
                              const torch::Tensor& valid = {},
                              const torch::Tensor& organ_only = {});

// Mean squared difference of the two softmax maps, over valid pixels (and `weight` per pixel
// when given, e.g. UA-MT's certainty mask).
torch::Tensor softmax_mse(const torch::Tensor& student_logits, const torch::Tensor& teacher_logits,
                          const torch::Tensor& valid = {}, const torch::Tensor& weight = {});

// exp(-5 (1 - t)^2) with t = clamp(step / rampup_steps, 0, 1); 1 when rampup_steps <= 0.
double sigmoid_rampup(int64_t step, int64_t rampup_steps);

}  // namespace aslseg::ssl
