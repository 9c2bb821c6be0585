// The rounds of ASLseg (DESIGN.md, "The loop"), as `aslseg train` runs them when
// loop.rounds > 0. Round K (1-based) has the steps
//
//   round_K/ss             SS trained on D_l(K) ∪ D_u(K)              RUN/round_K/ss/
//   sam       (round 1)    SAM fine-tuned on the expert labels         RUN/sam/
//   an        (round 1)    AN trained on the expert labels             RUN/an/
//   round_K/pseudo_labels  PL1, PL2, PL3 and scores of the pool        RUN/round_K/pl{1,2,3}/
//   round_K/test           test split scored for SS, SS->SAM, SS->SAM->AN  RUN/round_K/test/
//   round_K/selection      reliable volumes join D_l                   RUN/round_K/selected.json
//
// SAM and AN learn from ground truth only (the expert labels), once: training them on
// pseudo-labels would teach them the errors they exist to correct (docs/loop.md). Every step
// is deterministic for the configuration, and RUN/state.json (run_state.h) records the
// finished ones, so a rerun after a kill skips them and redoes at most the interrupted one
// (the SS step itself resumes from its last checkpoint).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "aslseg/dataset/split.h"
#include "aslseg/loop/loop_params.h"
#include "aslseg/ssl/trainer.h"

namespace aslseg::loop {

inline constexpr const char* kLoopSummaryFile = "summary.json";
// Stage names of the test reports, in pipeline order.
inline constexpr const char* kStageSs = "ss";
inline constexpr const char* kStageSsSam = "ss_sam";
inline constexpr const char* kStageSsSamAn = "ss_sam_an";

struct LoopResult {
  bool finished = false;  // every round done, or stopped early because nothing changes
  int rounds_done = 0;
  nlohmann::json summary;  // what RUN/summary.json holds
};

// Runs (or resumes) the loop in `run` (created). `initial` is the split's training view;
// `evaluation` the test split (scored after every round) and the unlabelled cases' hidden
// labels (to report how good the selected and the rejected pseudo-labels really were); neither
// is ever used to select or train anything. A stage that cannot be trained on the expert
// labels (SAM with no slice holding enough tumour; then the AN that refines SAM) is skipped
// with a warning: PL2/PL3 fall back to PL1, nothing is selected (no second opinion), and the
// summary says so. Returns unfinished only when the SS step stopped at ss.max_steps_this_run.
LoopResult run_loop(const ssl::TrainParams& ss, const LoopParams& loop,
                    const dataset::TrainingSet& initial, const dataset::EvaluationSet& evaluation,
                    const std::filesystem::path& run);

// The per-stage test table of a loop summary: one line per round and stage with liver Dice,
// tumour Dice, HD95 and ASD (mean over the test cases).
std::string results_table(const nlohmann::json& summary);

}  // namespace aslseg::loop
