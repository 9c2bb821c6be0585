// Mean teacher (Tarvainen & Valpola, NeurIPS 2017): the student is trained with the supervised
// loss plus a ramped-up softmax-MSE consistency with a teacher whose weights are an exponential
// moving average of the student's; student and teacher see independently noised inputs.
// The teacher is what validation and inference use.
#pragma once

#include "aslseg/ssl/paradigm.h"

namespace aslseg::ssl {

class MeanTeacher : public Paradigm {
 public:
  // Seeds the global torch generator with `seed`, builds the student, and gives the teacher
  // the student's exact weights (no gradient ever flows into the teacher).
  MeanTeacher(const SslParams& params, const models::UNetOptions& unet, const torch::Device& device,
              uint64_t seed);

  std::string name() const override { return "mean_teacher"; }
  bool uses_unlabelled() const override { return true; }
  LossTerms loss(const Batch& labelled, const Batch& unlabelled, int64_t step) override;
  // teacher = a teacher + (1 - a) student on parameters, a = ema_decay_at(step); buffers
  // (batch-norm running statistics) are copied from the student.
  void after_step(int64_t step) override;
  std::vector<torch::Tensor> trainable_parameters() override;
  std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> modules() override;
  models::UNet inference_net() override { return teacher_; }

  models::UNet student() const { return student_; }
  models::UNet teacher() const { return teacher_; }
  // min(1 - 1/(step + 1), ema_decay): the original MT warm-up, so that the teacher is not
  // dominated by the random initial weights in the first steps.
  double ema_decay_at(int64_t step) const;

 protected:
  // The consistency term (unweighted) between the student's logits on the noisy joint batch
  // and the teacher; may add entries to `out.terms`. `noise` continues the step's noise stream.
  virtual torch::Tensor consistency(const JointBatch& batch, const torch::Tensor& student_logits,
                                    StepNoise& noise, int64_t step, LossTerms& out);

  SslParams params_;
  uint64_t seed_;
  torch::Device device_;
  models::UNet student_{nullptr};
  models::UNet teacher_{nullptr};
};

}  // namespace aslseg::ssl
