// SAM's image encoder: a ViTDet-style ViT (patch embedding, absolute position embedding,
// windowed and global blocks with decomposed relative positions) and a conv neck down to
// out_chans; matches ImageEncoderViT in segment_anything/modeling/image_encoder.py as built by
// build_sam.py. Parameters: patch_embed, pos_embed, blocks.N, neck.{0,1,2,3}.
#pragma once

#include <torch/torch.h>

#include "aslseg/models/sam_config.h"
#include "aslseg/models/sam_encoder_block.h"
#include "aslseg/models/sam_patch_embed.h"

namespace aslseg::models {

class SamImageEncoderImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kInChans = 3;

  explicit SamImageEncoderImpl(const SamConfig& config);
  // x: [B, 3, image_size, image_size] -> [B, out_chans, image_size/patch, image_size/patch].
  torch::Tensor forward(const torch::Tensor& x);
  int64_t img_size() const { return img_size_; }

 private:
  int64_t img_size_;
  SamPatchEmbed patch_embed_{nullptr};
  torch::Tensor pos_embed_;
  torch::nn::ModuleList blocks_{nullptr};
  torch::nn::Sequential neck_{nullptr};
};
TORCH_MODULE(SamImageEncoder);

}  // namespace aslseg::models
