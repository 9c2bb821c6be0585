// Image to patch tokens: a strided convolution, output [B, H/patch, W/patch, embed_dim]; matches
// PatchEmbed in segment_anything/modeling/image_encoder.py. Parameters: proj.
#pragma once

#include <torch/torch.h>

namespace aslseg::models {

class SamPatchEmbedImpl : public torch::nn::Module {
 public:
  SamPatchEmbedImpl(int64_t patch_size, int64_t in_chans, int64_t embed_dim);
  // x: [B, in_chans, H, W] -> [B, H/patch, W/patch, embed_dim] (channels last).
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d proj_{nullptr};
};
TORCH_MODULE(SamPatchEmbed);

}  // namespace aslseg::models
