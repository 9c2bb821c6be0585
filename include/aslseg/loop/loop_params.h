// The configuration of the loop's rounds (the "loop" section of `aslseg train`'s JSON):
// how many rounds, the selection rule, which SAM and how it is fine-tuned and prompted, and
// how the adaptation net is trained. Defaults and choices: docs/loop.md.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "aslseg/loop/adaptation.h"
#include "aslseg/loop/selection.h"
#include "aslseg/models/sam_config.h"
#include "aslseg/sam/finetune.h"
#include "aslseg/sam/prompts.h"

namespace aslseg::loop {

struct SamLoopParams {
  // The architecture (configs/sam/*.json fields); default the official ViT-B.
  models::SamConfig model;
  // Weights to start from: official .pth (SAM, MedSAM), safetensors, or an aslseg SAM
  // checkpoint. Empty: random weights (said loudly; only sensible for tests and the demo).
  std::string checkpoint;
  sam::SamFinetuneParams finetune;  // on the expert labels (prompts from ground truth)
  sam::PromptParams prompts;        // prompts taken from PL1 in the loop
};

// Stages of a round that can be switched off (a stage that does not help on held-out data,
// docs/loop.md). Off, a stage repeats its input: no SAM gives PL2 = PL1's tumour (and no AN,
// which refines SAM's masks); no AN gives PL3 = PL2. The summary and the table say so.
struct StageSwitches {
  bool sam = true;
  bool adaptation = true;
};

// Rounds after the first can start each SS net from the same net of the round before
// (self-training's warm start) and train it for fewer steps: the labelled set only grew by the
// selected pseudo-labels, so the net need not learn the anatomy again. docs/loop.md.
struct WarmStartParams {
  int64_t steps = 0;  // 0: every round trains from random weights for optim.steps
  double lr = 1e-3;   // the peak learning rate of those steps (optim.schedule applies)
};

// The learned filter of PL1's tumour components (postprocess/component_filter.h): fitted each
// round on SS's own predictions on the expert-labelled volumes, applied to PL1 of the pool and
// of the test split (and by `aslseg infer --model RUN`). docs/loop.md, "Component filter".
struct ComponentFilterLoopParams {
  bool enabled = true;
  // P(true component) below which a component becomes liver. 0.3, not 0.5: removing a true
  // lesion costs more Dice than keeping a false speck (the F1-optimal threshold of a
  // calibrated score is about half the F1 reached; docs/loop.md, "Component filter").
  double threshold = 0.3;
  int64_t min_examples = 5;  // true and false components each needed to fit; else it is off
};

// More members than this would not fit any CPU budget this project plans for.
inline constexpr int64_t kMaxSsMembers = 8;

struct LoopParams {
  int64_t rounds = 0;  // 0: train the segmentation net alone (the SSL stage)
  // SS of each round as an ensemble of this many nets (seeds seed, seed + 1, ...), their
  // softmax averaged for PL1 and the test split (nnU-Net's habit; docs/loop.md). 1: one net.
  int64_t ss_members = 1;
  // On the CPU, train the members side by side, as many at once as there are intra-op
  // threads, each on its share of them: a small net's step does not keep two cores busy
  // (docs/loop.md, "Ensemble"). Only for runs whose steps draw nothing from torch's
  // process-wide generator (no dropout, not UA-MT); the others train one at a time.
  bool concurrent_members = true;
  WarmStartParams warm_start;
  // What SS learns from a selected pseudo-label's liver: "full" (every voxel is a label) or
  // "tumour_and_background" (its non-tumour liver voxels count as "liver or tumour", so a
  // lesion the pseudo-label missed is not taught as liver; docs/loop.md, "Pseudo-label loss").
  bool pseudo_liver_supervised = true;
  StageSwitches stages;
  ComponentFilterLoopParams component_filter;
  SelectionParams selection;
  // Monte-Carlo dropout passes of SS for the uncertainty gate (used only when
  // selection.max_uncertainty is set; SS needs model.dropout > 0 then).
  int64_t mc_dropout_samples = 8;
  SamLoopParams sam;
  AdaptationTrainParams adaptation;
};

// The stage parameters share the run's "device"; their own device fields are not part of the
// JSON (to_json leaves them out, from_json refuses them).
void to_json(nlohmann::json& j, const LoopParams& p);
// Missing keys keep their defaults; unknown keys, wrong types and invalid values are
// std::invalid_argument naming the key (e.g. "loop.selection: unknown key 'tua'").
void from_json(const nlohmann::json& j, LoopParams& p);

// selection.h's parameters as JSON (max_uncertainty: absent or null = no gate).
void to_json(nlohmann::json& j, const SelectionParams& p);
void from_json(const nlohmann::json& j, SelectionParams& p);

}  // namespace aslseg::loop
