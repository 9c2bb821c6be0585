// `aslseg train`: the ASLseg loop. Config, split, then either the segmentation net alone
// (loop.rounds = 0: RUN/ss/) or the rounds of SS -> SAM -> AN -> selection (loop/loop_runner.h),
// resumable in both cases; the test split is scored at the end (per stage for the rounds).
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <fstream>

#include "aslseg/cli/app.h"
#include "aslseg/cli/progress.h"
#include "aslseg/config/train_config.h"
#include "aslseg/dataset/dataset.h"
#include "aslseg/dataset/dataset_check.h"
#include "aslseg/dataset/split.h"
#include "aslseg/infer/predictor.h"
#include "aslseg/io/atomic_file.h"
#include "aslseg/io/error.h"
#include "aslseg/io/volume_io.h"
#include "aslseg/loop/loop_runner.h"
#include "aslseg/loop/test_report.h"
#include "aslseg/report/run_report.h"
#include "aslseg/ssl/trainer.h"

namespace aslseg::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct TrainOptions {
  fs::path config;
  fs::path data;
  fs::path split;
  fs::path out;
  std::vector<std::string> sets;
  int64_t max_steps_this_run = 0;
};

json read_json(const fs::path& p) {
  std::ifstream in(p);
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) throw InputError(p.string(), "not valid JSON");
  return j;
}

// RUN/config.json pins the configuration: a rerun must ask for the same one to resume.
json pin_config(const TrainOptions& o) {
  const json resolved = config::resolve_config_json(o.config, o.sets);
  const fs::path pinned = o.out / "config.json";
  if (fs::exists(pinned)) {
    const json before = read_json(pinned);
    if (before != resolved)
      throw InputError(pinned.string(),
                       "this run was started with a different configuration (first difference: " +
                           config::first_difference(before, resolved) +
                           "); rerun with the same --config/--set to resume, or use a new --out");
  } else {
    io::write_text_atomically(pinned, resolved.dump(2) + "\n");
  }
  return resolved;
}

dataset::Split pin_split(const TrainOptions& o, const dataset::Dataset& ds,
                         const dataset::SplitParams& params) {
  const fs::path pinned = o.out / "split.json";
  if (!o.split.empty()) {
    dataset::Split s = dataset::load_split(o.split, ds);
    if (!fs::exists(pinned)) io::write_text_atomically(pinned, dataset::split_to_json(s));
    return s;
  }
  if (fs::exists(pinned)) return dataset::load_split(pinned, ds);
  dataset::Split s = dataset::make_split(ds, params);
  io::write_text_atomically(pinned, dataset::split_to_json(s));
  return s;
}

// Predicts the test cases with the final net and scores them like `aslseg evaluate`.
json score_test_split(const fs::path& checkpoint, const std::string& device,
                      const std::vector<dataset::LabelledCase>& test, const fs::path& stage_dir) {
  if (test.empty()) return json::object();
  auto predictor = infer::Predictor::from_checkpoint(checkpoint, infer::parse_device(device));
  loop::TestReport report(loop::kStageSs, stage_dir);
  Progress progress("test split", static_cast<int64_t>(test.size()));
  for (const auto& c : test) {
    try {
      const Image image = io::read_image(c.image);
      const LabelMap gt = io::read_labels_matching(c.label, image.geometry);
      report.add(c.id, predictor.predict(image, infer::PredictParams{}).labels, gt, c.label);
    } catch (const InputError& e) {
      spdlog::error("{}", e.what());
      report.fail(c.id, e.path(), e.problem());
    }
    progress.tick();
  }
  return report.finish();
}

// RUN/report.html (report/run_report.h). A report that cannot be made is a warning: the run
// itself is done and saved.
void write_run_report(const fs::path& run) {
  const fs::path out = run / "report.html";
  try {
    const report::ReportContents c = report::write_report(run, out);
    spdlog::info("report: {} ({} chart(s), {} case picture(s))", out.string(), c.charts, c.images);
  } catch (const std::exception& e) {
    spdlog::warn("report: not written ({}); 'aslseg report --run {}' retries", e.what(),
                 run.string());
  }
}

// loop.rounds > 0: the rounds of ASLseg (loop/loop_runner.h).
void run_rounds(const config::TrainConfig& cfg, const dataset::TrainingSet& training,
                const dataset::EvaluationSet& evaluation, const fs::path& out) {
  const loop::LoopResult r = loop::run_loop(cfg.train, cfg.loop, training, evaluation, out);
  if (!r.finished) return;
  spdlog::info("test split per round and stage (mean over {} cases):\n{}", evaluation.test.size(),
               loop::results_table(r.summary));
  write_run_report(out);
  spdlog::info(
      "done: {} rounds in {}; selected pseudo-labels: 'aslseg export --run {} --out DIR "
      "--format lits|nnunet|plain'; summary {}",
      r.rounds_done, out.string(), out.string(), (out / loop::kLoopSummaryFile).string());
}

void run_train(const TrainOptions& o, CommandContext& /*ctx*/) {
  fs::create_directories(o.out);
  add_log_file(o.out / "log.txt");
  const json resolved = pin_config(o);
  spdlog::info("configuration:\n{}", resolved.dump(2));
  config::TrainConfig cfg = config::config_from_json(resolved);
  cfg.train.max_steps_this_run = o.max_steps_this_run;
  const dataset::Dataset ds = dataset::discover(o.data);
  // The header check of `dataset split`: a pair on two grids fails here, not mid-training.
  if (const size_t n =
          dataset::log_problems(dataset::check_pairs(ds, dataset::CheckDepth::kHeaders));
      n > 0)
    throw InputError(o.data.string(),
                     std::to_string(n) +
                         " image/label pair(s) above do not match; nothing trained. Fix them or "
                         "move them out of the folder ('aslseg dataset check' lists every "
                         "problem)");
  const dataset::Split split = pin_split(o, ds, cfg.split);
  spdlog::info("{}: {} layout; {} labelled, {} unlabelled, {} test", o.data.string(),
               dataset::layout_name(ds.layout), split.labelled.size(), split.unlabelled.size(),
               split.test.size());
  // Training sees the TrainingSet only: unlabelled cases carry no label path into it.
  const dataset::TrainingSet training = split.training_set(ds);
  const dataset::EvaluationSet evaluation = split.evaluation_set(ds);
  if (cfg.loop.rounds > 0) {
    run_rounds(cfg, training, evaluation, o.out);
    return;
  }
  const fs::path stage_dir = o.out / "ss";
  // The test split is monitored during training (logged, never used to select anything).
  const ssl::TrainResult result =
      ssl::train_segmenter(cfg.train, training, evaluation.test, stage_dir);
  if (!result.finished) {
    spdlog::info("stopped at step {} of {}; rerun the same command to continue", result.steps,
                 cfg.train.optim.steps);
    return;
  }
  const json test =
      score_test_split(result.checkpoint, cfg.train.device, evaluation.test, stage_dir);
  const json summary = {{"stage", "ss"},
                        {"paradigm", cfg.train.ssl.paradigm},
                        {"steps", result.steps},
                        {"checkpoint", result.checkpoint.string()},
                        {"last_validation", result.last_validation},
                        {"test", test}};
  io::write_text_atomically(o.out / "summary.json", summary.dump(2) + "\n");
  write_run_report(o.out);
  spdlog::info("done: {} (checkpoint {}, summary {})", o.out.string(), result.checkpoint.string(),
               (o.out / "summary.json").string());
}

}  // namespace

void register_train(CLI::App& app, CommandContext& ctx) {
  auto o = std::make_shared<TrainOptions>();
  auto* cmd = app.add_subcommand(
      "train",
      "Train on a dataset folder with few labels: the ASLseg loop. Each round trains the\n"
      "semi-supervised segmentation net SS (supervised | mean_teacher | ua_mt | cps), turns its\n"
      "tumour into prompts for a fine-tuned SAM, refines SAM's masks with the adaptation net,\n"
      "and moves the unlabelled volumes whose refined label agrees with SS into the labelled\n"
      "set. loop.rounds=0 trains SS alone. Resumable: rerun the same command with the same\n"
      "--out to continue at the first unfinished step (RUN/state.json).");
  cmd->add_option("--config", o->config, "JSON configuration (configs/*.json); defaults if omitted")
      ->check(CLI::ExistingFile);
  cmd->add_option("--data", o->data, "Dataset folder (LiTS, nnU-Net raw or images/+labels/)")
      ->required();
  cmd->add_option("--split", o->split,
                  "split.json from 'aslseg dataset split' (default: made "
                  "from the config's split section and kept in RUN)");
  cmd->add_option("--set", o->sets,
                  "Override a config value, e.g. --set optim.steps=500 "
                  "--set ssl.paradigm=cps (repeatable)");
  cmd->add_option("--out", o->out,
                  "Run folder (created; holds config.json, split.json, log.txt, state.json, "
                  "round_K/..., summary.json; ss/ when loop.rounds=0)")
      ->required();
  cmd->add_option("--max-steps-this-run", o->max_steps_this_run,
                  "Stop after this many steps (with a checkpoint); rerun to continue. For "
                  "time-limited job slots")
      ->check(CLI::NonNegativeNumber);
  cmd->footer(
      "Outputs with loop.rounds > 0 (docs/loop.md, docs/run_layout.md):\n"
      "  RUN/round_K/ss/checkpoint.pt   SS of round K ('aslseg infer --model RUN' loads the last)\n"
      "  RUN/sam/, RUN/an/              fine-tuned SAM and the adaptation net (round 1)\n"
      "  RUN/round_K/pl1|pl2|pl3/       pseudo-labels of the unlabelled pool; scores.json\n"
      "  RUN/round_K/selected.json      the volumes selected ('aslseg export --run RUN')\n"
      "  RUN/round_K/test/<stage>/      test split scored for ss, ss_sam, ss_sam_an\n"
      "  RUN/summary.json               per round and stage; the table is printed at the end\n"
      "With loop.rounds=0: RUN/ss/checkpoint.pt, RUN/ss/metrics.jsonl, RUN/ss/test_metrics.json.");
  cmd->callback([o, &ctx] { run_train(*o, ctx); });
}

}  // namespace aslseg::cli
