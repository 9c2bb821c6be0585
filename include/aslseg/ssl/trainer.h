// Training of the SSL stage: an optimiser and schedule over Paradigm::loss, checkpoints that
// hold model(s), optimiser, step and configuration (written atomically every N steps and at
// the end), exact resumption (rerunning the same command continues at the last checkpoint and
// reaches the same weights: batches and dropout are seeded by (seed, step)), a JSON-lines
// metrics log, validation Dice per class, and a progress bar.
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "aslseg/dataset/split.h"
#include "aslseg/models/segmenter_spec.h"
#include "aslseg/ssl/paradigm.h"
#include "aslseg/ssl/slice_data.h"

namespace aslseg::ssl {

struct OptimParams {
  std::string optimizer = "adamw";  // adamw | sgd
  double lr = 1e-3;
  double weight_decay = 1e-4;
  double momentum = 0.9;          // sgd (nesterov)
  std::string schedule = "poly";  // poly | cosine | constant
  double poly_power = 0.9;        // lr = lr0 * (1 - step/steps)^power
  int64_t steps = 1000;
  int64_t batch_labelled = 4;
  int64_t batch_unlabelled = 4;
  int64_t checkpoint_every = 100;
  int64_t validate_every = 100;
  int64_t log_every = 10;
  // bf16 autocast of the forward passes on CUDA (ssl/autocast.h); ignored on the CPU.
  bool bf16 = false;
};

void to_json(nlohmann::json& j, const OptimParams& p);
void from_json(const nlohmann::json& j, OptimParams& p);

// The sampling and augmentation fields of SliceDataParams (context, image_size and window
// belong to the SegmenterSpec and are not written here).
void to_json(nlohmann::json& j, const SliceDataParams& p);
void from_json(const nlohmann::json& j, SliceDataParams& p);

// Learning rate at `step` (0-based) of `p.steps`.
double learning_rate(const OptimParams& p, int64_t step);

struct TrainParams {
  models::SegmenterSpec spec;
  SslParams ssl;
  OptimParams optim;
  SliceDataParams data;
  uint64_t seed = 0;
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  // Stop (after writing a checkpoint) once this many steps ran in this invocation; 0 runs to
  // the end. For time-sliced jobs; a rerun continues. Not part of the configuration.
  int64_t max_steps_this_run = 0;
  // Non-empty: a fresh run (no checkpoint in its folder yet) starts from the weights of this
  // aslseg checkpoint (its modules by name: student/teacher, net_a/net_b, ...), not from
  // random ones; the optimizer starts fresh. The loop's warm start. Not part of the
  // configuration either (the loop's config records loop.warm_start).
  std::filesystem::path init_from;
  // Draw the progress bar (on a terminal). Off for all but one of several runs side by side.
  bool show_progress = true;
};

void to_json(nlohmann::json& j, const TrainParams& p);

// True when the run's steps draw from torch's process-wide generator: dropout (a U-Net with
// dropout, or UA-MT, which adds it). Two such runs in one process would interleave their
// draws, so they must not train side by side; runs for which this is false may, and then give
// bitwise what they give alone with the same thread count (initialisation and the per-step
// seeding are serialised inside train_segmenter).
bool steps_use_global_generator(const TrainParams& params);

struct TrainResult {
  std::filesystem::path checkpoint;  // the final checkpoint (what infer loads)
  int64_t steps = 0;                 // steps done in total (== optim.steps when finished)
  bool finished = false;
  nlohmann::json last_validation;  // {"liver_dice":..,"tumour_dice":..} on the validation set
};

// Trains in `out_dir` (created; holds checkpoint.pt, metrics.jsonl). Resumes from
// out_dir/checkpoint.pt when it exists and its configuration matches (else InputError).
// `validation` (may be empty) is scored with volume-level Dice every validate_every steps.
TrainResult train_segmenter(const TrainParams& params, const dataset::TrainingSet& training,
                            const std::vector<dataset::LabelledCase>& validation,
                            const std::filesystem::path& out_dir);

}  // namespace aslseg::ssl
