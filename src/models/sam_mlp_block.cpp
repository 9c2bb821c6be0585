#include "aslseg/models/sam_mlp_block.h"

namespace aslseg::models {

torch::Tensor sam_activate(const torch::Tensor& x, SamActivation act) {
  // nn.GELU() defaults to the exact (erf) form.
  return act == SamActivation::kGelu ? torch::gelu(x) : torch::relu(x);
}

SamMLPBlockImpl::SamMLPBlockImpl(int64_t embedding_dim, int64_t mlp_dim, SamActivation act)
    : act_(act) {
  lin1_ = register_module("lin1", torch::nn::Linear(embedding_dim, mlp_dim));
  lin2_ = register_module("lin2", torch::nn::Linear(mlp_dim, embedding_dim));
}

torch::Tensor SamMLPBlockImpl::forward(const torch::Tensor& x) {
  return lin2_->forward(sam_activate(lin1_->forward(x), act_));
}

}  // namespace aslseg::models
