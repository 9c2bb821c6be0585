// Cross pseudo supervision (Chen et al., CVPR 2021, "Semi-supervised semantic segmentation
// with cross pseudo supervision"): two U-Nets of the same architecture and different
// initialisations, each trained with the supervised loss and with cross-entropy on the other
// net's hard (argmax) pseudo-labels over labelled and unlabelled slices. net_a is evaluated.
#pragma once

#include "aslseg/ssl/paradigm.h"

namespace aslseg::ssl {

class CrossPseudoSupervision : public Paradigm {
 public:
  // net_a is built after torch::manual_seed(seed), net_b after torch::manual_seed(seed + 1).
  CrossPseudoSupervision(const SslParams& params, const models::UNetOptions& unet,
                         const torch::Device& device, uint64_t seed);

  std::string name() const override { return "cps"; }
  bool uses_unlabelled() const override { return true; }
  // terms: sup (= sup_a + sup_b), sup_a, sup_b, cons (both cross terms), cons_weight.
  LossTerms loss(const Batch& labelled, const Batch& unlabelled, int64_t step) override;
  std::vector<torch::Tensor> trainable_parameters() override;
  std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> modules() override;
  models::UNet inference_net() override { return net_a_; }

  models::UNet net_a() const { return net_a_; }
  models::UNet net_b() const { return net_b_; }

 private:
  SslParams params_;
  torch::Device device_;
  models::UNet net_a_{nullptr};
  models::UNet net_b_{nullptr};
};

}  // namespace aslseg::ssl
