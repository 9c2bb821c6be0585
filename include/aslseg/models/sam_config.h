// Hyper-parameters of Segment Anything (Kirillov et al. 2023): the arguments that
// segment_anything/build_sam.py (_build_sam) passes to ImageEncoderViT, PromptEncoder,
// MaskDecoder/TwoWayTransformer and Sam, plus how the input image is normalised (SAM's
// mean/std on 0-255, or MedSAM's [0, 1] min-max image fed as is). Defaults are the official
// vit_b values; configs/sam/*.json hold vit_b, vit_l, vit_h, medsam_vit_b and a tiny test model.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace aslseg::models {

struct SamConfig {
  // Image encoder (ImageEncoderViT).
  int64_t image_size = 1024;  // side of the square (padded) encoder input
  int64_t patch_size = 16;
  int64_t embed_dim = 768;
  int64_t depth = 12;
  int64_t num_heads = 12;
  std::vector<int64_t> global_attn_indexes{2, 5, 8, 11};  // blocks without windowing
  int64_t window_size = 14;
  double mlp_ratio = 4.0;
  bool qkv_bias = true;
  bool use_rel_pos = true;
  int64_t out_chans = 256;  // neck output = prompt embedding dim = decoder transformer dim
  // Prompt encoder.
  int64_t mask_in_chans = 16;
  // Mask decoder.
  int64_t num_multimask_outputs = 3;
  int64_t decoder_depth = 2;
  int64_t decoder_mlp_dim = 2048;
  int64_t decoder_num_heads = 8;
  int64_t iou_head_depth = 3;
  int64_t iou_head_hidden_dim = 256;
  // Sam.
  std::vector<double> pixel_mean{123.675, 116.28, 103.53};
  std::vector<double> pixel_std{58.395, 57.12, 57.375};
  double mask_threshold = 0.0;
  // "mean_std": (x - pixel_mean) / pixel_std on a 0-255 image (SAM);
  // "min_max": the image is already min-max normalised to [0, 1] and fed as is (MedSAM).
  std::string input_normalization = "mean_std";

  // Side of the image embedding grid (image_size / patch_size).
  int64_t embedding_size() const { return image_size / patch_size; }
  bool is_global_block(int64_t index) const;
};

// Throws std::invalid_argument naming the bad field.
void validate(const SamConfig& c);

void to_json(nlohmann::json& j, const SamConfig& c);
// Missing keys keep their defaults (official vit_b); unknown keys, wrong types and invalid
// values are std::invalid_argument naming the key.
void from_json(const nlohmann::json& j, SamConfig& c);

// Reads a JSON config; an unreadable or invalid file is an InputError naming it.
SamConfig load_sam_config(const std::filesystem::path& path);

// One line: the hyper-parameters a log reader needs to recognise the model.
std::string describe(const SamConfig& c);

}  // namespace aslseg::models
