// Uncertainty-aware mean teacher (Yu et al., MICCAI 2019, "Uncertainty-aware self-ensembling
// model for semi-supervised 3D left atrium segmentation"): a mean teacher whose consistency
// counts only pixels where the teacher is certain. Certainty comes from mc_samples Monte-Carlo
// dropout passes of the teacher on noisy inputs: the entropy of their mean softmax must be
// below a threshold that ramps from uncertainty_start to uncertainty_end times ln(C).
#pragma once

#include "aslseg/ssl/mean_teacher.h"

namespace aslseg::ssl {

// Dropout the U-Net gets for UA-MT when its configuration has none: MC dropout needs some.
inline constexpr double kUaMtDefaultDropout = 0.1;

class UaMeanTeacher : public MeanTeacher {
 public:
  // As MeanTeacher; a U-Net with dropout 0 gets kUaMtDefaultDropout (logged).
  UaMeanTeacher(const SslParams& params, const models::UNetOptions& unet,
                const torch::Device& device, uint64_t seed);

  std::string name() const override { return "ua_mt"; }

  // (start + (end - start) sigmoid_rampup(step, rampup_steps)) ln(num_classes).
  double threshold_at(int64_t step) const;

 protected:
  // Adds terms "certain_frac" (fraction of valid pixels kept) and "threshold".
  torch::Tensor consistency(const JointBatch& batch, const torch::Tensor& student_logits,
                            StepNoise& noise, int64_t step, LossTerms& out) override;
};

}  // namespace aslseg::ssl
