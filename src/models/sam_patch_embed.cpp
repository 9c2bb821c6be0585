#include "aslseg/models/sam_patch_embed.h"

namespace aslseg::models {

SamPatchEmbedImpl::SamPatchEmbedImpl(int64_t patch_size, int64_t in_chans, int64_t embed_dim) {
  proj_ = register_module(
      "proj", torch::nn::Conv2d(
                  torch::nn::Conv2dOptions(in_chans, embed_dim, patch_size).stride(patch_size)));
}

torch::Tensor SamPatchEmbedImpl::forward(const torch::Tensor& x) {
  return proj_->forward(x).permute({0, 2, 3, 1});
}

}  // namespace aslseg::models
