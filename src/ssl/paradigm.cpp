// The paradigm interface's shared parts (parameters, factory, joint batches, per-step noise)
// and the supervised baseline.
#include "aslseg/ssl/paradigm.h"
#include "aslseg/config/json_fields.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <set>
#include <stdexcept>
#include <string>

#include "aslseg/io/error.h"
#include "aslseg/ssl/cps.h"
#include "aslseg/ssl/losses.h"
#include "aslseg/ssl/mean_teacher.h"
#include "aslseg/ssl/slice_data.h"
#include "aslseg/ssl/supervised.h"
#include "aslseg/ssl/ua_mt.h"
#include "aslseg/synth/rng.h"

namespace aslseg::ssl {

namespace {

const char* const kConfigWhere = "configuration";
const char* const kParadigmList = "supervised, mean_teacher, ua_mt, cps";
const std::set<std::string> kParadigms{"supervised", "mean_teacher", "ua_mt", "cps"};
const std::vector<std::string> kSslKeys{"paradigm",          "consistency_weight", "rampup_steps",
                                        "ema_decay",         "input_noise",        "mc_samples",
                                        "uncertainty_start", "uncertainty_end"};
// Separates the input-noise stream from any other stream derived from the run seed (the
// trainer's per-step torch::manual_seed in particular): ASCII "sslnoise".
constexpr uint64_t kNoiseStream = 0x73736c6e6f697365ULL;

std::string unknown_paradigm(const std::string& name) {
  return "unknown SSL paradigm '" + name + "' (" + kParadigmList + ")";
}

std::string shape_str(const torch::Tensor& t) { return c10::str(t.sizes()); }

}  // namespace

// --- Parameters

void validate(const SslParams& p) {
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw InputError(kConfigWhere, what);
  };
  require(kParadigms.count(p.paradigm) > 0, "ssl.paradigm: " + unknown_paradigm(p.paradigm));
  require(std::isfinite(p.consistency_weight) && p.consistency_weight >= 0.0,
          "ssl.consistency_weight must be >= 0");
  require(p.rampup_steps >= 0, "ssl.rampup_steps must be >= 0");
  require(p.ema_decay >= 0.0 && p.ema_decay <= 1.0, "ssl.ema_decay must be in [0, 1]");
  require(std::isfinite(p.input_noise) && p.input_noise >= 0.0, "ssl.input_noise must be >= 0");
  require(p.mc_samples >= 1, "ssl.mc_samples must be >= 1");
  require(p.uncertainty_start >= 0.0 && p.uncertainty_start <= 1.0,
          "ssl.uncertainty_start must be in [0, 1] (a fraction of ln(classes))");
  require(p.uncertainty_end >= 0.0 && p.uncertainty_end <= 1.0,
          "ssl.uncertainty_end must be in [0, 1] (a fraction of ln(classes))");
}

void to_json(nlohmann::json& j, const SslParams& p) {
  j = nlohmann::json{{"paradigm", p.paradigm},
                     {"consistency_weight", p.consistency_weight},
                     {"rampup_steps", p.rampup_steps},
                     {"ema_decay", p.ema_decay},
                     {"input_noise", p.input_noise},
                     {"mc_samples", p.mc_samples},
                     {"uncertainty_start", p.uncertainty_start},
                     {"uncertainty_end", p.uncertainty_end}};
}

void from_json(const nlohmann::json& j, SslParams& p) {
  constexpr const char* kWhere = "ssl";
  try {
    config::reject_unknown_keys(j, kSslKeys, kWhere);
    config::read_if_present(j, "paradigm", p.paradigm, kWhere);
    config::read_if_present(j, "consistency_weight", p.consistency_weight, kWhere);
    config::read_if_present(j, "rampup_steps", p.rampup_steps, kWhere);
    config::read_if_present(j, "ema_decay", p.ema_decay, kWhere);
    config::read_if_present(j, "input_noise", p.input_noise, kWhere);
    config::read_if_present(j, "mc_samples", p.mc_samples, kWhere);
    config::read_if_present(j, "uncertainty_start", p.uncertainty_start, kWhere);
    config::read_if_present(j, "uncertainty_end", p.uncertainty_end, kWhere);
  } catch (const std::invalid_argument& e) {
    throw InputError(kConfigWhere, e.what());
  }
  validate(p);
}

double consistency_weight_at(const SslParams& p, int64_t step) {
  return p.consistency_weight * sigmoid_rampup(step, p.rampup_steps);
}

// --- Paradigm

void Paradigm::train(bool on) {
  for (auto& named : modules()) named.second->train(on);
}

std::unique_ptr<Paradigm> make_paradigm(const SslParams& params, const models::UNetOptions& unet,
                                        const torch::Device& device, uint64_t seed) {
  if (!kParadigms.count(params.paradigm)) throw InputError("", unknown_paradigm(params.paradigm));
  validate(params);
  // Each constructor seeds torch::manual_seed(seed) before building its nets.
  if (params.paradigm == "supervised") return std::make_unique<Supervised>(unet, device, seed);
  if (params.paradigm == "mean_teacher")
    return std::make_unique<MeanTeacher>(params, unet, device, seed);
  if (params.paradigm == "ua_mt")
    return std::make_unique<UaMeanTeacher>(params, unet, device, seed);
  return std::make_unique<CrossPseudoSupervision>(params, unet, device, seed);
}

// --- Shared helpers

JointBatch join_batches(const Batch& labelled, const Batch& unlabelled,
                        const torch::Device& device) {
  if (labelled.empty()) throw std::invalid_argument("SSL loss: the labelled batch is empty");
  const torch::Tensor& image = labelled.image;
  if (image.dim() != 4)
    throw std::invalid_argument("SSL loss: images must be [B, C, H, W], got " + shape_str(image));
  const int64_t b = image.size(0), h = image.size(2), w = image.size(3);
  if (!labelled.label.defined() || labelled.label.dim() != 3 || labelled.label.size(0) != b ||
      labelled.label.size(1) != h || labelled.label.size(2) != w)
    throw std::invalid_argument("SSL loss: the labelled batch needs labels [B, H, W] matching " +
                                shape_str(image));
  auto valid_of = [&device](const Batch& batch) {
    const torch::Tensor& im = batch.image;
    if (!batch.valid.defined())
      return torch::ones({im.size(0), im.size(2), im.size(3)},
                         torch::TensorOptions().dtype(torch::kFloat).device(device));
    if (batch.valid.dim() != 3 || batch.valid.size(0) != im.size(0) ||
        batch.valid.size(1) != im.size(2) || batch.valid.size(2) != im.size(3))
      throw std::invalid_argument("SSL loss: valid mask " + shape_str(batch.valid) +
                                  " does not match images " + shape_str(im));
    return batch.valid.to(device, torch::kFloat);
  };

  JointBatch joint;
  joint.num_labelled = b;
  joint.label = labelled.label.to(device, torch::kLong);
  joint.labelled_valid = valid_of(labelled);
  // Pixels known to be organ, not which class of it: "liver or tumour" for the loss.
  const torch::Tensor unsupervised = joint.label == static_cast<int64_t>(kUnsupervisedLabel);
  if (unsupervised.any().item<bool>()) {
    joint.organ_only = unsupervised.to(torch::kFloat);
    joint.label = joint.label.masked_fill(unsupervised, static_cast<int64_t>(kLiver));
  }
  const torch::Tensor labelled_image = image.to(device);
  if (unlabelled.empty()) {
    joint.image = labelled_image;
    joint.valid = joint.labelled_valid;
    return joint;
  }
  const torch::Tensor& u = unlabelled.image;
  if (u.dim() != 4 || u.size(1) != image.size(1) || u.size(2) != h || u.size(3) != w)
    throw std::invalid_argument("SSL loss: unlabelled images " + shape_str(u) +
                                " do not match labelled images " + shape_str(image));
  joint.image = torch::cat({labelled_image, u.to(device, image.scalar_type())}, 0);
  joint.valid = torch::cat({joint.labelled_valid, valid_of(unlabelled)}, 0);
  return joint;
}

StepNoise::StepNoise(uint64_t seed, int64_t step, double stddev)
    : generator_(at::detail::createCPUGenerator(synth::hash_combine(
          synth::hash_combine(seed, kNoiseStream), static_cast<uint64_t>(step)))),
      stddev_(stddev) {}

torch::Tensor StepNoise::like(const torch::Tensor& like) {
  if (stddev_ == 0.0) return torch::zeros_like(like);
  // Drawn on the CPU in float32 whatever the target device: the same numbers everywhere.
  const torch::Tensor n =
      torch::randn(like.sizes(), generator_, torch::TensorOptions().dtype(torch::kFloat));
  return n.mul_(stddev_).to(like.device(), like.scalar_type());
}

// --- Supervised baseline

Supervised::Supervised(const models::UNetOptions& unet, const torch::Device& device, uint64_t seed)
    : device_(device) {
  torch::manual_seed(seed);
  net_ = models::UNet(unet);
  net_->to(device_);
}

LossTerms Supervised::loss(const Batch& labelled, const Batch& /*unlabelled*/, int64_t /*step*/) {
  const JointBatch batch = join_batches(labelled, Batch{}, device_);
  LossTerms out;
  out.total = supervised_loss(net_->forward(batch.image), batch.label, batch.labelled_valid,
                              batch.organ_only);
  out.terms["sup"] = out.total.item<double>();
  return out;
}

std::vector<torch::Tensor> Supervised::trainable_parameters() { return net_->parameters(); }

std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> Supervised::modules() {
  return {{"net", net_.ptr()}};
}

}  // namespace aslseg::ssl
