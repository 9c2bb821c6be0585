// Semi-supervised paradigms of the SSL stage, one small class each behind one interface:
//   supervised    labelled data only (the baseline every result is compared with)
//   mean_teacher  Tarvainen & Valpola 2017: EMA teacher, softmax-MSE consistency on
//                 differently perturbed inputs
//   ua_mt         Yu et al. 2019 (UA-MT): mean teacher whose consistency only counts pixels
//                 where the teacher's MC-dropout entropy is below a threshold ramping up from
//                 0.75 to 1 of ln(C)
//   cps           Chen et al. 2021 (cross pseudo supervision): two nets, each trained with CE
//                 on the other's hard pseudo-labels
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aslseg/models/unet.h"
#include "aslseg/ssl/batch.h"

namespace aslseg::ssl {

struct SslParams {
  std::string paradigm = "mean_teacher";  // supervised | mean_teacher | ua_mt | cps
  double consistency_weight = 0.1;        // final weight of the unsupervised term
  int64_t rampup_steps = 200;             // sigmoid ramp-up length of that weight
  double ema_decay = 0.99;                // teacher = decay * teacher + (1-decay) * student
  double input_noise = 0.03;        // std of Gaussian noise on the teacher's windowed [0,1] input
  int64_t mc_samples = 4;           // UA-MT: teacher forward passes with dropout
  double uncertainty_start = 0.75;  // UA-MT threshold ramps from start to end x ln(C)
  double uncertainty_end = 1.0;
};

// Throws InputError("configuration", ...) naming the bad field: unknown paradigm, negative
// weight / ramp-up / noise, ema_decay or uncertainty bounds outside [0, 1], mc_samples < 1.
void validate(const SslParams& p);

void to_json(nlohmann::json& j, const SslParams& p);
// Missing keys keep defaults; unknown keys, wrong types and invalid values are InputError.
void from_json(const nlohmann::json& j, SslParams& p);

// consistency_weight x sigmoid_rampup(step, rampup_steps): the weight of the unsupervised term.
double consistency_weight_at(const SslParams& p, int64_t step);

struct LossTerms {
  torch::Tensor total;                  // what backward() is called on
  std::map<std::string, double> terms;  // e.g. {"sup": .., "cons": .., "cons_weight": ..}
};

class Paradigm {
 public:
  virtual ~Paradigm() = default;
  virtual std::string name() const = 0;
  virtual bool uses_unlabelled() const = 0;

  // The loss of one optimisation step. `unlabelled` is empty when !uses_unlabelled().
  virtual LossTerms loss(const Batch& labelled, const Batch& unlabelled, int64_t step) = 0;
  // After optimizer.step(): EMA teacher updates and the like.
  virtual void after_step(int64_t /*step*/) {}

  // Parameters the optimiser updates.
  virtual std::vector<torch::Tensor> trainable_parameters() = 0;
  // Everything to checkpoint, by stable names ("student", "teacher", "net_a", "net_b").
  virtual std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> modules() = 0;
  // The net that validation and inference use (mean teacher / UA-MT: the teacher; CPS: net_a;
  // supervised: the net).
  virtual models::UNet inference_net() = 0;

  void train(bool on);  // train()/eval() on every module
};

// Throws InputError for an unknown paradigm name. Seeds the global torch generator with `seed`
// before building the nets (CPS: seed and seed + 1), so a run's initial weights depend on the
// seed alone; moves the nets to `device`.
std::unique_ptr<Paradigm> make_paradigm(const SslParams& params, const models::UNetOptions& unet,
                                        const torch::Device& device, uint64_t seed);

// --- Helpers shared by the paradigms.

// A labelled and an unlabelled batch stacked along the batch dimension, on `device`: the
// consistency terms of MT, UA-MT and CPS are computed over both. The first `num_labelled`
// rows are the labelled ones; `valid` is all ones where a batch had no mask.
struct JointBatch {
  torch::Tensor image;           // [Bl + Bu, C, H, W]
  torch::Tensor valid;           // [Bl + Bu, H, W] float32: the image is valid there
  torch::Tensor label;           // [Bl, H, W] int64 in 0-2 (kUnsupervisedLabel becomes 1)
  torch::Tensor labelled_valid;  // [Bl, H, W] float32 (the first Bl rows of `valid`)
  // [Bl, H, W] float32, 1 where the label was kUnsupervisedLabel ("liver or tumour" for
  // supervised_loss); undefined when the batch has none.
  torch::Tensor organ_only;
  int64_t num_labelled = 0;
};

// Throws std::invalid_argument when `labelled` is empty or has no label, or the two batches'
// channel counts or sizes differ. `unlabelled` may be empty.
JointBatch join_batches(const Batch& labelled, const Batch& unlabelled,
                        const torch::Device& device);

// Gaussian input perturbations of one step: a private CPU generator seeded from (seed, step),
// so the noise is the same on every device, independent of the global torch generator (which
// drives dropout), and a resumed run draws what an uninterrupted one would.
class StepNoise {
 public:
  StepNoise(uint64_t seed, int64_t step, double stddev);
  // N(0, stddev^2) noise shaped like `like`, on its device and dtype. Successive calls give
  // independent draws; zeros (no draw) when stddev is 0.
  torch::Tensor like(const torch::Tensor& like);

 private:
  at::Generator generator_;
  double stddev_;
};

}  // namespace aslseg::ssl
