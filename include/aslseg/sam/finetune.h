// Fine-tuning SAM on labelled CT slices (ASLseg stage 2, DESIGN.md "The loop"): the prompt
// encoder and mask decoder (and, optionally, the image encoder) are trained on the tumour
// class with prompts taken from the ground truth with jitter (gt_prompts.h), with Dice + BCE
// (+ focal) per prompt and SAM's IoU-head MSE. With the image encoder frozen (the default)
// every slice is encoded once and its embedding cached: the encoder dominates the cost. Seeds
// fix the slice draws, the prompts and the random init, so a run is repeatable (CPU).
// Choices where the issue is silent (lr, steps, jitter ...): docs/sam_finetune.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aslseg/models/sam.h"
#include "aslseg/preprocess/intensity.h"
#include "aslseg/sam/gt_prompts.h"
#include "aslseg/sam/labelled_slice.h"
#include "aslseg/sam/roi_crop.h"

namespace aslseg::sam {

constexpr const char* kFinetunedCheckpointName = "sam_finetuned.pt";
constexpr const char* kFinetunedPthName = "sam_finetuned.pth";
constexpr const char* kFinetuneLogName = "sam_finetune_log.jsonl";

struct SamFinetuneParams {
  int64_t steps = 1000;
  double lr = 1e-4;               // AdamW, constant (MedSAM's lr)
  double weight_decay = 0.01;     // MedSAM's
  int64_t batch_slices = 4;       // slices per step
  int64_t prompts_per_slice = 4;  // prompt sets (components, repeated when fewer) per slice
  bool freeze_image_encoder = true;
  double dice_weight = 1.0;
  double bce_weight = 1.0;
  double focal_weight = 0.0;  // 0 = off
  double iou_weight = 1.0;    // MSE of the IoU head against the actual IoU (SAM)
  // Prompt noise (gt_prompts.h), in slice pixels.
  int64_t box_jitter_px = 10;
  double box_jitter_fraction = 0.2;
  bool use_box = true;
  int64_t positive_points = 0;
  int64_t negative_points = 0;
  int64_t negative_margin_px = 5;
  bool multimask = false;  // true: C outputs, the loss keeps each prompt's best one
  uint64_t seed = 0;
  int64_t checkpoint_every = 200;  // steps; 0 = only at the end
  int64_t log_every = 10;          // steps between loss lines
  std::string device = "auto";     // auto | cpu | cuda | cuda:N
  // Slices: HU window and the smallest tumour area (pixels) that makes a slice a sample.
  preprocess::WindowParams window;
  int64_t min_tumour_pixels = kDefaultMinTumourPixels;
  int64_t max_slices_per_case = 0;  // 0: all tumour slices (labelled_slice.h)
  // Each prompt on a crop around its (jittered) box (roi_crop.h); the loop's SAM stage crops
  // the same way. The encoder then runs per prompt, not per slice (no embedding cache).
  RoiParams roi;
};

// Throws std::invalid_argument naming the field.
void validate(const SamFinetuneParams& p);
void to_json(nlohmann::json& j, const SamFinetuneParams& p);
// Missing keys keep their defaults; unknown keys, wrong types and invalid values are
// std::invalid_argument naming the key.
void from_json(const nlohmann::json& j, SamFinetuneParams& p);

// The prompt part of the params.
GtPromptParams prompt_params(const SamFinetuneParams& p);
SliceSelection slice_selection(const SamFinetuneParams& p);

struct FinetuneResult {
  std::filesystem::path checkpoint;  // OUT/sam_finetuned.pt (our format, SamConfig in meta)
  std::filesystem::path pth;         // OUT/sam_finetuned.pth (official key layout)
  int64_t steps = 0;
  double first_loss = 0.0;               // mean over the first log_every steps
  double last_loss = 0.0;                // mean over the last log_every steps
  double validation_dice_before = -1.0;  // -1 without validation slices
  double validation_dice_after = -1.0;
};

// Fine-tunes `sam` in place (moved to params.device; left in eval mode) on `slices` (at least
// one), writes OUT/sam_finetuned.pt and .pth every checkpoint_every steps and at the end
// (atomically), and OUT/sam_finetune_log.jsonl (one JSON object per line: loss terms every
// log_every steps; validation Dice before and after when `validation` is not empty). A
// progress bar on a terminal.
FinetuneResult finetune_sam(models::Sam& sam, const std::vector<LabelledSlice>& slices,
                            const SamFinetuneParams& params, const std::filesystem::path& out_dir,
                            const std::vector<LabelledSlice>& validation = {});

// Mean over slices of the Dice between the union of SAM's masks (one exact, un-jittered GT
// box per component, single-mask output, through SamPredictor) and the slice's mask. The
// measure logged as validation Dice; slices without foreground are skipped.
// With roi.enabled, each box is segmented on its crop (roi_crop.h), as the loop's SAM stage.
double box_prompt_dice(const models::Sam& sam, const std::vector<LabelledSlice>& slices,
                       torch::Device device, const RoiParams& roi = {});

}  // namespace aslseg::sam
