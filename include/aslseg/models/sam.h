// Segment Anything (Kirillov et al. 2023): image encoder, prompt encoder and mask decoder with
// the official state_dict names (image_encoder.blocks.3.attn.rel_pos_h, ...), so the official
// checkpoints and MedSAM's load as they are. Matches Sam in segment_anything/modeling/sam.py
// (facebookresearch/segment-anything); pixel_mean / pixel_std are not in the state dict, as
// there (non-persistent buffers). See docs/sam.md.
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <utility>

#include "aslseg/models/sam_config.h"
#include "aslseg/models/sam_image_encoder.h"
#include "aslseg/models/sam_mask_decoder.h"
#include "aslseg/models/sam_prompt_encoder.h"

namespace aslseg::models {

// Prompts for one image; any member may be left undefined. Coordinates are (x, y) pixels in the
// resized (not padded) image frame, as the official Sam.forward expects.
struct SamPrompt {
  torch::Tensor point_coords;  // [B, N, 2] or undefined
  torch::Tensor point_labels;  // [B, N]: 1 foreground, 0 background, -1 ignored
  torch::Tensor boxes;         // [B, 4] (x0, y0, x1, y1)
  torch::Tensor mask_inputs;   // [B, 1, 4*emb, 4*emb] low-res logits of a previous pass
};

struct SamOutput {
  torch::Tensor masks;            // bool [B, C, H, W] at the original size
  torch::Tensor iou_predictions;  // [B, C]
  torch::Tensor low_res_logits;   // [B, C, 4*emb, 4*emb]
};

class SamImpl : public torch::nn::Module {
 public:
  explicit SamImpl(const SamConfig& config);
  const SamConfig& config() const { return config_; }

  // image [3, h, w] (or [1, 3, h, w]), already resized so its long side is image_size:
  // normalised (mean_std: (x - mean) / std on 0-255; min_max: fed as is) and zero-padded at
  // the bottom / right to [1, 3, image_size, image_size].
  torch::Tensor preprocess(const torch::Tensor& image) const;
  // The image encoder: [B, 3, S, S] -> [B, out_chans, S/patch, S/patch].
  torch::Tensor encode(const torch::Tensor& preprocessed);
  // The prompt encoder: (sparse [B, n, C], dense [B, C, emb, emb]).
  std::pair<torch::Tensor, torch::Tensor> embed_prompts(const SamPrompt& prompt);
  // Prompt encoder + mask decoder for one image embedding ([1, C, h, w] or [C, h, w]) and B
  // prompt sets: (low_res_logits [B, M, 4h, 4w], iou_predictions [B, M]); M = num multimask
  // outputs with multimask, else 1.
  std::pair<torch::Tensor, torch::Tensor> decode(const torch::Tensor& image_embeddings,
                                                 const SamPrompt& prompt, bool multimask);
  // Logits at the original size: upsampled to the padded input, padding cropped to input_size
  // (the resized image's (h, w)), upsampled to original_size (h, w); bilinear, no corner
  // alignment.
  torch::Tensor postprocess_masks(const torch::Tensor& low_res, std::array<int64_t, 2> input_size,
                                  std::array<int64_t, 2> original_size) const;
  // The official Sam.forward for one image (gradient mode is the caller's: wrap it in
  // torch::NoGradGuard for inference, as the reference does).
  SamOutput forward(const torch::Tensor& image, std::array<int64_t, 2> original_size,
                    const SamPrompt& prompt, bool multimask);

  int64_t num_parameters() const;

  SamImageEncoder image_encoder{nullptr};
  SamPromptEncoder prompt_encoder{nullptr};
  SamMaskDecoder mask_decoder{nullptr};

 private:
  torch::Device device() const;

  SamConfig config_;
};
TORCH_MODULE(Sam);

// Builds SAM from `config` and loads `checkpoint` (an official-format .pth; every key and shape
// checked, an InputError naming the file otherwise). An empty path leaves random weights and
// logs a loud warning. Logs describe(config) and the parameter count. The model is in eval mode.
Sam load_sam(const SamConfig& config, const std::filesystem::path& checkpoint);

}  // namespace aslseg::models
