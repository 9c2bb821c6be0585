// The segmentation net SS and the adaptation net AN: a 2D U-Net (Ronneberger et al. 2015) with
// configurable width, depth, normalisation and dropout, taking 2k+1 adjacent slices (2.5D) as
// channels and giving per-class logits (background, liver, tumour).
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>

namespace aslseg::models {

struct UNetOptions {
  int64_t in_channels = 3;     // 2k+1 context slices (+ extra channels for the adaptation net)
  int64_t num_classes = 3;     // LiTS: background, liver, tumour
  int64_t base_width = 16;     // channels of the first level; doubled at every level down
  int64_t depth = 4;           // number of resolution levels (depth-1 poolings)
  std::string norm = "batch";  // batch | instance | group | none
  double dropout = 0.0;        // dropout before each decoder level and the head (UA-MT, MC dropout)

  // Inputs must have H and W divisible by this (2^(depth-1)).
  int64_t size_multiple() const { return int64_t{1} << (depth - 1); }
};

// Throws std::invalid_argument naming the bad field (depth >= 2, widths > 0, known norm,
// dropout in [0, 1)).
void validate(const UNetOptions& o);

void to_json(nlohmann::json& j, const UNetOptions& o);
// Missing keys keep defaults; unknown keys, wrong types and invalid values are
// std::invalid_argument.
void from_json(const nlohmann::json& j, UNetOptions& o);

class UNetImpl : public torch::nn::Module {
 public:
  explicit UNetImpl(const UNetOptions& options);

  // x: [B, in_channels, H, W] -> logits [B, num_classes, H, W]. With mc_dropout, dropout is
  // active even in eval mode (Monte-Carlo dropout for uncertainty).
  torch::Tensor forward(const torch::Tensor& x, bool mc_dropout = false);

  const UNetOptions& options() const { return options_; }
  int64_t num_parameters() const;

 private:
  UNetOptions options_;
  torch::nn::ModuleList encoders_{nullptr};
  torch::nn::ModuleList upsamplers_{nullptr};
  torch::nn::ModuleList decoders_{nullptr};
  torch::nn::Conv2d head_{nullptr};
};
TORCH_MODULE(UNet);

}  // namespace aslseg::models
