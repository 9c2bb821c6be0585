// `aslseg export`: the pseudo-labelled volumes the loop selected, as a LiTS, nnU-Net v2 raw or
// images/ + labels/ dataset with manifest.json and an overlay PNG per case (docs/export.md).
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <filesystem>
#include <memory>
#include <string>

#include "aslseg/cli/app.h"
#include "aslseg/cli/progress.h"
#include "aslseg/export/exporter.h"
#include "aslseg/io/error.h"
#include "aslseg/loop/run_layout.h"

namespace aslseg::cli {

namespace {

namespace fs = std::filesystem;

struct Options {
  fs::path run;
  int round = -1;  // -1: every finished round
  fs::path out;
  std::string format;
  bool no_overlays = false;
};

void run_export(const Options& o, CommandContext& ctx) {
  exporting::ExportOptions opt;
  opt.run = o.run;
  if (o.round >= 0) opt.round = o.round;
  opt.out = o.out;
  opt.format = exporting::parse_export_format(o.format);
  opt.overlays = !o.no_overlays;
  if (fs::is_directory(o.run)) {
    // The run's log collects every stage, export included; a read-only run still exports.
    try {
      add_log_file(o.run / "log.txt");
    } catch (const std::exception& e) {
      spdlog::warn("{}: cannot append to the log ({})", (o.run / "log.txt").string(), e.what());
    }
  }

  const loop::RunLayout layout(o.run);
  int64_t total = 0;
  try {
    for (int k : opt.round ? std::vector<int>{*opt.round} : layout.finished_rounds())
      total += static_cast<int64_t>(loop::load_selected(layout.selected_json(k), k).size());
  } catch (const InputError&) {
    total = 0;  // export_run reports the problem properly
  }
  Progress progress("export", total);
  const exporting::ExportReport report = exporting::export_run(opt, [&] { progress.tick(); });
  progress.finish();

  std::string rounds;
  for (int k : report.rounds) rounds += (rounds.empty() ? "" : ",") + std::to_string(k);
  spdlog::info("exported {} case(s) from round(s) {} as {} into {}; {} failed", report.cases.size(),
               rounds, o.format, o.out.string(), report.failures.size());
  if (!report.failures.empty()) {
    bool internal = false;
    for (const auto& f : report.failures) {
      spdlog::error("  skipped case '{}': {}: {}", f.case_id, f.file, f.problem);
      internal = internal || f.internal;
    }
    ctx.exit_code = internal ? kExitInternal : kExitBadInput;
  }
}

}  // namespace

void register_export(CLI::App& app, CommandContext& ctx) {
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "export",
      "Export the volumes the loop selected, with their pseudo-labels, as a dataset.\n"
      "Reads RUN/round_K/selected.json and RUN/round_K/pseudo_labels/<case>.nii.gz "
      "(docs/run_layout.md). Without --round: every finished round's selections, each case "
      "with the label of the round that selected it; with --round K: round K's only.\n"
      "Formats: lits (volume-N.nii.gz + segmentation-N.nii.gz; non-numeric case ids get "
      "numbers, listed in manifest.json), nnunet (nnU-Net v2 raw: imagesTr/<case>_0000.nii.gz, "
      "labelsTr/<case>.nii.gz, dataset.json), plain (images/ + labels/ with equal names).\n"
      "Also writes manifest.json (case, round, reliability, liver Dice, uncertainty, source "
      "stages, paths) and overlays/<case>.png: the slice with the most PL3 tumour, CT window "
      "60/400, tumour outlines of PL1 orange, PL2 sky blue, PL3 green (needs "
      "RUN/round_K/pl1|pl2|pl3/<case>.nii.gz; --no-overlays skips them).\n"
      "Images are copied (.nii.gz), gzipped (.nii) or converted (other formats) with their "
      "geometry untouched; labels are uint8 on the image's grid. --out must be new or empty.\n"
      "A missing or corrupt file of a case is named in one line and the case skipped; the "
      "others are exported and the exit code is 2.");
  cmd->add_option("--run", opt->run, "Run folder written by 'aslseg train'")->required();
  cmd->add_option("--round", opt->round, "Export only the cases selected in round K")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--out", opt->out, "Folder to write (new or empty)")->required();
  cmd->add_option("--format", opt->format, "lits | nnunet | plain")
      ->required()
      ->check(CLI::IsMember({"lits", "nnunet", "plain"}));
  cmd->add_flag("--no-overlays", opt->no_overlays, "Do not draw the overlay PNGs");
  cmd->callback([opt, &ctx] { run_export(*opt, ctx); });
}

}  // namespace aslseg::cli
