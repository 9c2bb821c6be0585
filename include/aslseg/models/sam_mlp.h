// A plain MLP (Linear layers with ReLU between them, none after the last); matches MLP in
// segment_anything/modeling/mask_decoder.py (the hypernetwork and IoU heads). Parameters:
// layers.N.
#pragma once

#include <torch/torch.h>

namespace aslseg::models {

class SamMLPImpl : public torch::nn::Module {
 public:
  SamMLPImpl(int64_t input_dim, int64_t hidden_dim, int64_t output_dim, int64_t num_layers,
             bool sigmoid_output = false);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  bool sigmoid_output_;
  torch::nn::ModuleList layers_{nullptr};
};
TORCH_MODULE(SamMLP);

}  // namespace aslseg::models
