#include "aslseg/models/sam_mlp.h"

#include <stdexcept>

namespace aslseg::models {

SamMLPImpl::SamMLPImpl(int64_t input_dim, int64_t hidden_dim, int64_t output_dim,
                       int64_t num_layers, bool sigmoid_output)
    : sigmoid_output_(sigmoid_output) {
  if (num_layers < 1) throw std::invalid_argument("sam mlp: num_layers must be >= 1");
  layers_ = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < num_layers; ++i) {
    const int64_t in = i == 0 ? input_dim : hidden_dim;
    const int64_t out = i == num_layers - 1 ? output_dim : hidden_dim;
    layers_->push_back(torch::nn::Linear(in, out));
  }
}

torch::Tensor SamMLPImpl::forward(const torch::Tensor& x_in) {
  torch::Tensor x = x_in;
  const size_t n = layers_->size();
  for (size_t i = 0; i < n; ++i) {
    x = layers_[i]->as<torch::nn::Linear>()->forward(x);
    if (i + 1 < n) x = torch::relu(x);
  }
  return sigmoid_output_ ? torch::sigmoid(x) : x;
}

}  // namespace aslseg::models
