// `aslseg report`: one self-contained HTML page of a run (report/run_report.h, docs/report.md).
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <filesystem>
#include <memory>

#include "aslseg/cli/app.h"
#include "aslseg/report/run_report.h"

namespace aslseg::cli {

namespace {

namespace fs = std::filesystem;

struct Options {
  fs::path run;
  fs::path out;  // default RUN/report.html
  report::ReportParams params;
};

void run_report(const Options& o) {
  const fs::path out = o.out.empty() ? o.run / "report.html" : o.out;
  const report::ReportContents c = report::write_report(o.run, out, o.params);
  spdlog::info("report: {} ({} chart(s), {} case(s) in {} picture(s){})", out.string(), c.charts,
               c.cases, c.images,
               c.notes.empty() ? "" : ", " + std::to_string(c.notes.size()) + " note(s)");
}

}  // namespace

void register_report(CLI::App& app, CommandContext& /*ctx: failures throw*/) {
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "report",
      "Write one self-contained HTML page showing what a run of 'aslseg train' did (open it in "
      "any browser; no network, pictures inline).\n"
      "It holds: the test split's Dice, HD95 and ASD per round and stage (SS, SS->SAM, "
      "SS->SAM->AN) with a chart of the tumour Dice per round; the learning curves of every "
      "trained net (from RUN/**/metrics.jsonl; SS members and rounds on one chart); the "
      "selection of every round (reliability, verdict and why, and the tumour Dice of PL1 and "
      "PL3 against the case's hidden label when the data folder has one: evaluation only); and, "
      "for the last round's scored cases (selected first), the axial slices with the most "
      "tumour, CT window 60/400, tumour outlines of the label yellow, PL1 orange, PL2 sky "
      "blue, PL3 green.\n"
      "'aslseg train' writes RUN/report.html at its end; run this to remake it, e.g. with more "
      "cases:\n"
      "  aslseg report --run runs/demo --cases 40 --out demo.html");
  cmd->add_option("--run", opt->run, "Run folder written by 'aslseg train'")->required();
  cmd->add_option("--out", opt->out, "HTML file to write (default RUN/report.html)");
  cmd->add_option("--data", opt->params.data,
                  "Data folder of the run, for the pictures (default: the one RUN/split.json "
                  "names; a relative one is taken from the working directory)");
  cmd->add_option("--cases", opt->params.max_cases, "Cases pictured")
      ->default_val(opt->params.max_cases)
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--slices", opt->params.slices_per_case, "Axial slices per case")
      ->default_val(opt->params.slices_per_case)
      ->check(CLI::PositiveNumber);
  cmd->callback([opt] { run_report(*opt); });
}

}  // namespace aslseg::cli
