// Stage 3 of the loop (DESIGN.md): training and running the adaptation net AN.
//
// Training data are made from the expert-labelled volumes only: each volume's ground truth is
// corrupted the way a weak segmenter errs (corrupt.h), SAM is prompted with the corrupted
// tumour (sam_stage.h) and AN learns to recover the ground-truth tumour from image ⊕ synthetic
// PL2 (⊕ the corrupted tumour as PL1 when the spec asks for it). The samples are the slices that
// hold liver or tumour in the ground truth, made once at the start (deterministic from the
// seed) and kept at the net's size. Loss: soft Dice + cross-entropy on the tumour, AdamW.
//
// Inference: PL3 = argmax AN(image ⊕ PL2 (⊕ PL1)) slice by slice, at the slice's own size.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aslseg/dataset/split.h"
#include "aslseg/io/volume.h"
#include "aslseg/loop/corrupt.h"
#include "aslseg/loop/sam_stage.h"
#include "aslseg/models/adaptation_net.h"
#include "aslseg/sam/sam_predictor.h"

namespace aslseg::loop {

inline constexpr const char* kAdaptationCheckpointName = "checkpoint.pt";
inline constexpr const char* kAdaptationLogName = "metrics.jsonl";
// Checkpoint metadata: the AdaptationSpec (the net and how to feed it), the training
// parameters, and the module holding the net.
inline constexpr const char* kMetaAdaptationSpec = "adaptation_spec";
inline constexpr const char* kMetaAdaptationTrain = "adaptation_train";
inline constexpr const char* kAdaptationModule = "net";

struct AdaptationTrainParams {
  models::AdaptationSpec spec;
  CorruptionParams corruption;
  int64_t steps = 300;
  int64_t batch_size = 8;
  double lr = 1e-3;  // AdamW, constant
  double weight_decay = 1e-4;
  double dice_weight = 1.0;
  double ce_weight = 1.0;
  // Corrupted copies of each labelled volume (each with its own corruption draw).
  int64_t corruptions_per_case = 2;
  int64_t log_every = 25;
  uint64_t seed = 0;
  std::string device = "auto";
};

// std::invalid_argument naming the field (the spec's own checks included). The device string
// is checked when training starts (infer::parse_device).
void validate(const AdaptationTrainParams& p);

void to_json(nlohmann::json& j, const AdaptationTrainParams& p);
// Unknown keys, wrong types and invalid values: std::invalid_argument naming the field.
void from_json(const nlohmann::json& j, AdaptationTrainParams& p);

struct AdaptationTrainResult {
  std::filesystem::path checkpoint;  // out_dir/checkpoint.pt (spec in the metadata)
  int64_t samples = 0;               // training slices made
  double synthetic_pl2_dice = 0.0;   // mean tumour Dice of the synthetic PL2 vs ground truth
  double first_loss = 0.0;           // mean over the first log_every steps
  double last_loss = 0.0;            // mean over the last log_every steps
};

// Makes the samples with `sam` (SAM already fine-tuned) and trains AN in out_dir (created;
// checkpoint.pt, metrics.jsonl). Reads each labelled case (InputError naming the file).
// Deterministic for a seed on one machine. Not resumable: rerunning starts over (a short run).
AdaptationTrainResult train_adaptation_net(const std::vector<dataset::LabelledCase>& labelled,
                                           sam::SamPredictor& sam, const SamStageParams& sam_stage,
                                           const AdaptationTrainParams& params,
                                           const std::filesystem::path& out_dir);

class AdaptationPredictor {
 public:
  // Loads checkpoint.pt written by train_adaptation_net (InputError naming the file).
  AdaptationPredictor(const std::filesystem::path& checkpoint, const std::string& device);

  // PL3: 2 on AN's tumour, 0 elsewhere, on the grid of `hu`. `pl2` and `pl1` must share that
  // grid (std::invalid_argument); `pl1` is only read when the spec uses it (pass any map
  // otherwise). The tumour channels are the voxels == 2 (kTumour) of pl2 and pl1, so a full
  // LiTS map (PL1 with its liver) can be passed as is. Every slice is predicted, also those
  // without PL2, so AN can remove false positives and add what SAM missed; padding voxels
  // outside the scan's field of view stay 0.
  LabelMap predict(const Image& hu, const LabelMap& pl2, const LabelMap& pl1) const;

  const models::AdaptationSpec& spec() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace aslseg::loop
