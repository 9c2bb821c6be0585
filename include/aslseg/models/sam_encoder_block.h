// Pre-norm ViT block with windowed (window_size > 0, padded to a multiple of the window) or
// global (window_size == 0) attention; matches Block in segment_anything/modeling/image_encoder.py.
// Parameters: norm1, attn, norm2, mlp.
#pragma once

#include <torch/torch.h>

#include <array>

#include "aslseg/models/sam_encoder_attention.h"
#include "aslseg/models/sam_mlp_block.h"

namespace aslseg::models {

struct SamEncoderBlockOptions {
  int64_t dim = 0;
  int64_t num_heads = 1;
  double mlp_ratio = 4.0;
  bool qkv_bias = true;
  bool use_rel_pos = false;
  int64_t window_size = 0;                  // 0: global attention
  std::array<int64_t, 2> input_size{0, 0};  // token grid of the encoder (global blocks' tables)
};

class SamEncoderBlockImpl : public torch::nn::Module {
 public:
  static constexpr double kNormEps = 1e-6;  // build_sam: partial(nn.LayerNorm, eps=1e-6)

  explicit SamEncoderBlockImpl(const SamEncoderBlockOptions& options);
  // x: [B, H, W, dim] -> [B, H, W, dim].
  torch::Tensor forward(const torch::Tensor& x);
  int64_t window_size() const { return window_size_; }

 private:
  int64_t window_size_;
  torch::nn::LayerNorm norm1_{nullptr};
  SamEncoderAttention attn_{nullptr};
  torch::nn::LayerNorm norm2_{nullptr};
  SamMLPBlock mlp_{nullptr};
};
TORCH_MODULE(SamEncoderBlock);

}  // namespace aslseg::models
