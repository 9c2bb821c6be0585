// Mean teacher (Tarvainen & Valpola 2017) and its uncertainty-aware variant UA-MT (Yu et al.
// 2019). Both follow the reference implementations (the MT authors' PyTorch code and
// yulequan/UA-MT): the teacher runs in the same train/eval mode as the student (so its
// dropout, when the U-Net has any, perturbs the consistency target too), is evaluated under
// NoGradGuard, and is updated only by after_step().
#include "aslseg/ssl/mean_teacher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "aslseg/ssl/losses.h"
#include "aslseg/ssl/ua_mt.h"

namespace aslseg::ssl {

namespace {

// p log p is taken as 0 at p = 0: probabilities are clamped to this before the log.
constexpr double kMinProbability = 1e-12;

void require_same_structure(const std::vector<torch::Tensor>& a,
                            const std::vector<torch::Tensor>& b, const char* what) {
  if (a.size() != b.size())
    throw std::logic_error(std::string("mean teacher: student and teacher differ in ") + what);
}

models::UNetOptions with_mc_dropout(models::UNetOptions unet) {
  if (unet.dropout <= 0.0) {
    spdlog::info("ua_mt: the U-Net has no dropout; using dropout {} for Monte-Carlo uncertainty",
                 kUaMtDefaultDropout);
    unet.dropout = kUaMtDefaultDropout;
  }
  return unet;
}

}  // namespace

// --- Mean teacher

MeanTeacher::MeanTeacher(const SslParams& params, const models::UNetOptions& unet,
                         const torch::Device& device, uint64_t seed)
    : params_(params), seed_(seed), device_(device) {
  torch::manual_seed(seed);
  student_ = models::UNet(unet);
  teacher_ = models::UNet(unet);
  student_->to(device_);
  teacher_->to(device_);
  torch::NoGradGuard no_grad;
  const auto sp = student_->parameters();
  const auto tp = teacher_->parameters();
  require_same_structure(sp, tp, "parameters");
  for (size_t i = 0; i < sp.size(); ++i) {
    tp[i].copy_(sp[i]);
    tp[i].set_requires_grad(false);  // the teacher is an average, never a gradient target
  }
  const auto sb = student_->buffers();
  const auto tb = teacher_->buffers();
  require_same_structure(sb, tb, "buffers");
  for (size_t i = 0; i < sb.size(); ++i) tb[i].copy_(sb[i]);
}

LossTerms MeanTeacher::loss(const Batch& labelled, const Batch& unlabelled, int64_t step) {
  const JointBatch batch = join_batches(labelled, unlabelled, device_);
  StepNoise noise(seed_, step, params_.input_noise);
  // One student pass over the clean labelled + unlabelled slices: the supervised term uses the
  // labelled rows, the consistency term all rows (as in Tarvainen & Valpola, where labelled
  // samples also get the consistency cost). Only the teacher's input is perturbed, as in the
  // UA-MT reference code: noise on the student's input would also blur the supervised term.
  const torch::Tensor student_logits = student_->forward(batch.image);
  const torch::Tensor sup = supervised_loss(student_logits.slice(0, 0, batch.num_labelled),
                                            batch.label, batch.labelled_valid, batch.organ_only);
  LossTerms out;
  const torch::Tensor cons = consistency(batch, student_logits, noise, step, out);
  const double weight = consistency_weight_at(params_, step);
  out.total = sup + weight * cons;
  out.terms["sup"] = sup.item<double>();
  out.terms["cons"] = cons.item<double>();
  out.terms["cons_weight"] = weight;
  return out;
}

torch::Tensor MeanTeacher::consistency(const JointBatch& batch, const torch::Tensor& student_logits,
                                       StepNoise& noise, int64_t /*step*/, LossTerms& /*terms*/) {
  torch::Tensor teacher_logits;
  {
    torch::NoGradGuard no_grad;
    teacher_logits = teacher_->forward(batch.image + noise.like(batch.image));
  }
  return softmax_mse(student_logits, teacher_logits, batch.valid);
}

double MeanTeacher::ema_decay_at(int64_t step) const {
  const double s = static_cast<double>(std::max<int64_t>(step, 0));
  return std::min(1.0 - 1.0 / (s + 1.0), params_.ema_decay);
}

void MeanTeacher::after_step(int64_t step) {
  torch::NoGradGuard no_grad;
  const double a = ema_decay_at(step);
  const auto sp = student_->parameters();
  const auto tp = teacher_->parameters();
  for (size_t i = 0; i < sp.size(); ++i) tp[i].mul_(a).add_(sp[i], 1.0 - a);
  // Buffers (batch-norm running statistics) are copied from the student, not averaged: they
  // are already a moving average over steps. (The reference code leaves them to the teacher's
  // own train-mode passes on noisy inputs; copying keeps eval-mode teacher outputs
  // independent of how many MC passes UA-MT ran.)
  const auto sb = student_->buffers();
  const auto tb = teacher_->buffers();
  for (size_t i = 0; i < sb.size(); ++i) tb[i].copy_(sb[i]);
}

std::vector<torch::Tensor> MeanTeacher::trainable_parameters() { return student_->parameters(); }

std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> MeanTeacher::modules() {
  return {{"student", student_.ptr()}, {"teacher", teacher_.ptr()}};
}

// --- UA-MT

UaMeanTeacher::UaMeanTeacher(const SslParams& params, const models::UNetOptions& unet,
                             const torch::Device& device, uint64_t seed)
    : MeanTeacher(params, with_mc_dropout(unet), device, seed) {}

double UaMeanTeacher::threshold_at(int64_t step) const {
  const double fraction =
      params_.uncertainty_start + (params_.uncertainty_end - params_.uncertainty_start) *
                                      sigmoid_rampup(step, params_.rampup_steps);
  return fraction * std::log(static_cast<double>(student_->options().num_classes));
}

torch::Tensor UaMeanTeacher::consistency(const JointBatch& batch,
                                         const torch::Tensor& student_logits, StepNoise& noise,
                                         int64_t step, LossTerms& out) {
  torch::Tensor teacher_logits;
  torch::Tensor entropy;
  {
    torch::NoGradGuard no_grad;
    teacher_logits = teacher_->forward(batch.image + noise.like(batch.image));
    // Monte-Carlo dropout: mc_samples stochastic passes, each on its own noisy input (as
    // UA-MT's reference code); the uncertainty is the entropy of their mean softmax.
    torch::Tensor mean_p;
    for (int64_t i = 0; i < params_.mc_samples; ++i) {
      const torch::Tensor p = torch::softmax(
          teacher_->forward(batch.image + noise.like(batch.image), /*mc_dropout=*/true)
              .to(torch::kFloat),
          1);
      mean_p = mean_p.defined() ? mean_p + p : p;
    }
    mean_p = mean_p / static_cast<double>(params_.mc_samples);
    entropy = -(mean_p * mean_p.clamp_min(kMinProbability).log()).sum(1);  // [B, H, W]
  }
  const double threshold = threshold_at(step);
  const torch::Tensor certain = entropy.lt(threshold).to(torch::kFloat);
  const torch::Tensor valid_sum = batch.valid.sum();
  out.terms["certain_frac"] = valid_sum.item<double>() > 0.0
                                  ? ((certain * batch.valid).sum() / valid_sum).item<double>()
                                  : 0.0;
  out.terms["threshold"] = threshold;
  // Mean over certain valid pixels, as UA-MT's sum(mask * mse) / (C * sum(mask)).
  return softmax_mse(student_logits, teacher_logits, batch.valid, certain);
}

}  // namespace aslseg::ssl
