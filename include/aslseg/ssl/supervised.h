// The supervised baseline: one U-Net trained with cross-entropy + soft Dice on the labelled
// slices only; the unlabelled batch is ignored. Every SSL result is compared with it.
#pragma once

#include "aslseg/ssl/paradigm.h"

namespace aslseg::ssl {

class Supervised : public Paradigm {
 public:
  // Seeds the global torch generator with `seed` and builds the net on `device`.
  Supervised(const models::UNetOptions& unet, const torch::Device& device, uint64_t seed);

  std::string name() const override { return "supervised"; }
  bool uses_unlabelled() const override { return false; }
  LossTerms loss(const Batch& labelled, const Batch& unlabelled, int64_t step) override;
  std::vector<torch::Tensor> trainable_parameters() override;
  std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> modules() override;
  models::UNet inference_net() override { return net_; }

 private:
  torch::Device device_;
  models::UNet net_{nullptr};
};

}  // namespace aslseg::ssl
