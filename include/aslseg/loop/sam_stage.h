// Stage 2 of the loop (DESIGN.md): PL2 = SAM prompted by a pseudo-label. Per axial slice, the
// prompts of the tumour of a label map (sam/prompts.h: one set per connected component) go to
// SAM in one batched decoder call; the union of the masks is the slice's PL2. Slices without a
// prompt are not encoded and stay empty. The same function makes the adaptation net's
// synthetic PL2 (prompts from corrupted ground truth) and the real PL2 (prompts from PL1), so
// AN is trained on exactly what it later refines.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "aslseg/io/volume.h"
#include "aslseg/preprocess/intensity.h"
#include "aslseg/sam/prompts.h"
#include "aslseg/sam/roi_crop.h"
#include "aslseg/sam/sam_predictor.h"
#include "aslseg/sam/sam_prompts.h"

namespace aslseg::loop {

struct SamStageParams {
  sam::PromptParams prompts;        // mode, margin, dropped specks, negatives
  preprocess::WindowParams window;  // HU window of SAM's input slices (as in fine-tuning)
  sam::RoiParams roi;               // each prompt set on a crop around its box (as in fine-tuning)
};

void to_json(nlohmann::json& j, const SamStageParams& p);
// Unknown keys, wrong types and invalid values: std::invalid_argument naming the field.
void from_json(const nlohmann::json& j, SamStageParams& p);

struct SamStageStats {
  int64_t slices_prompted = 0;  // slices SAM ran on (image encoder runs)
  int64_t prompt_sets = 0;      // components prompted
};

// The prompt sets of one slice as ONE batch for SamPredictor::predict: boxes [B, 4] when the
// sets carry a box (all or none must), points [B, N, 2] with N the largest count, shorter sets
// padded with label -1 at (0, 0), which SAM's prompt encoder ignores (as the official
// predictor's padding). Empty `sets` give empty prompts. std::invalid_argument when some sets
// have a box and others not.
sam::SamPrompts stack_prompt_sets(const std::vector<sam::PromptSet>& sets);

// PL2 of one volume: 2 on SAM's tumour, 0 elsewhere, on the grid of `hu`. `source` is the
// label map whose tumour (label params.prompts.label) gives the prompts; it must share the
// grid of `hu` (std::invalid_argument otherwise). `stats`, when given, is added to (so one
// struct can sum over volumes).
LabelMap sam_tumour(sam::SamPredictor& predictor, const Image& hu, const LabelMap& source,
                    const SamStageParams& params, SamStageStats* stats = nullptr);

// PL2 for several label maps of the same image (the corrupted copies of one ground truth when
// AN's training data are made): each slice is encoded once for all of them, then decoded once
// per source. out[i] equals sam_tumour(predictor, hu, *sources[i], params).
std::vector<LabelMap> sam_tumour_many(sam::SamPredictor& predictor, const Image& hu,
                                      const std::vector<const LabelMap*>& sources,
                                      const SamStageParams& params, SamStageStats* stats = nullptr);

}  // namespace aslseg::loop
