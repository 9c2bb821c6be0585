#include "aslseg/models/sam_image_encoder.h"

#include <optional>

#include "aslseg/core/runtime.h"
#include "aslseg/models/memory_format.h"
#include "aslseg/models/sam_layer_norm_2d.h"

namespace aslseg::models {

namespace {
constexpr int64_t kNeckKernel = 3;
constexpr int64_t kNeckPadding = 1;
// From this token width on, the encoder's matrix products are large enough for a multi-threaded
// BLAS to pay (ViT-B: 768; measured in docs/benchmarks.md); the tiny test SAMs stay below it.
constexpr int64_t kParallelBlasMinWidth = 256;
}  // namespace

SamImageEncoderImpl::SamImageEncoderImpl(const SamConfig& c) : img_size_(c.image_size) {
  validate(c);
  const int64_t grid = c.embedding_size();
  patch_embed_ = register_module("patch_embed", SamPatchEmbed(c.patch_size, kInChans, c.embed_dim));
  pos_embed_ = register_parameter("pos_embed", torch::zeros({1, grid, grid, c.embed_dim}));
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.depth; ++i) {
    SamEncoderBlockOptions o;
    o.dim = c.embed_dim;
    o.num_heads = c.num_heads;
    o.mlp_ratio = c.mlp_ratio;
    o.qkv_bias = c.qkv_bias;
    o.use_rel_pos = c.use_rel_pos;
    o.window_size = c.is_global_block(i) ? 0 : c.window_size;
    o.input_size = {grid, grid};
    blocks_->push_back(SamEncoderBlock(o));
  }
  neck_ = register_module(
      "neck",
      torch::nn::Sequential(
          torch::nn::Conv2d(torch::nn::Conv2dOptions(c.embed_dim, c.out_chans, 1).bias(false)),
          SamLayerNorm2d(c.out_chans),
          torch::nn::Conv2d(torch::nn::Conv2dOptions(c.out_chans, c.out_chans, kNeckKernel)
                                .padding(kNeckPadding)
                                .bias(false)),
          SamLayerNorm2d(c.out_chans)));
  // The neck's input, the permuted [B, H, W, C] token grid, is NHWC in memory already; NHWC
  // filters keep oneDNN from reordering either (models/memory_format.h).
  to_memory_format(*neck_, c10::MemoryFormat::ChannelsLast);
}

torch::Tensor SamImageEncoderImpl::forward(const torch::Tensor& x) {
  std::optional<core::ScopedBlasThreads> blas;
  if (x.device().is_cpu() && pos_embed_.size(3) >= kParallelBlasMinWidth) blas.emplace();
  torch::Tensor h = patch_embed_->forward(x);
  h = h + pos_embed_;
  for (const auto& block : *blocks_) h = block->as<SamEncoderBlock>()->forward(h);
  return neck_->forward(h.permute({0, 3, 1, 2}));
}

}  // namespace aslseg::models
