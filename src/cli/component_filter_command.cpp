// `aslseg component-filter`: fits the learned filter of tumour components
// (postprocess/component_filter.h) for any trained segmentation net on labelled volumes, the
// post-processing the loop fits each round; `aslseg infer --component-filter FILE` applies it.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "aslseg/cli/app.h"
#include "aslseg/dataset/dataset.h"
#include "aslseg/dataset/split.h"
#include "aslseg/infer/inputs.h"
#include "aslseg/infer/predictor.h"
#include "aslseg/io/atomic_file.h"
#include "aslseg/io/error.h"
#include "aslseg/loop/component_filter_fit.h"

namespace aslseg::cli {

namespace {

namespace fs = std::filesystem;

struct Options {
  std::vector<std::string> models;
  fs::path data;
  fs::path split;  // empty: every labelled case of the data folder
  fs::path out;
  std::string device = "auto";
  loop::ComponentFilterLoopParams params;
};

void run_component_filter(const Options& o) {
  if (!(o.params.threshold > 0.0 && o.params.threshold < 1.0))
    throw InputError("",
                     "--threshold must be in (0, 1), got " + std::to_string(o.params.threshold));
  std::vector<fs::path> checkpoints;
  for (const std::string& m : o.models)
    for (const fs::path& c : infer::resolve_checkpoints(m)) checkpoints.push_back(c);
  const dataset::Dataset ds = dataset::discover(o.data);
  std::vector<dataset::LabelledCase> labelled;
  if (!o.split.empty()) {
    labelled = dataset::load_split(o.split, ds).training_set(ds).labelled;
  } else {
    for (const dataset::Case& c : ds.cases)
      if (c.label) labelled.push_back({c.id, c.image, *c.label});
  }
  if (labelled.empty())
    throw InputError(o.data.string(), "no labelled case to fit the component filter on");
  infer::Predictor ss =
      infer::Predictor::from_checkpoints(checkpoints, infer::parse_device(o.device));
  spdlog::info("component filter: {} net(s) on {} labelled case(s)", checkpoints.size(),
               labelled.size());
  const loop::ComponentFilterFit fit = loop::fit_component_filter(ss, labelled, o.params);
  if (!o.out.parent_path().empty()) fs::create_directories(o.out.parent_path());
  io::write_text_atomically(o.out, fit.to_json().dump(2) + "\n");
  if (fit.filter.enabled())
    spdlog::info("component filter: {} -> {}", fit.summary(), o.out.string());
  else
    spdlog::warn("component filter: {}; written as such to {}", fit.summary(), o.out.string());
}

}  // namespace

void register_component_filter(CLI::App& app, CommandContext& /*ctx: failures throw*/) {
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "component-filter",
      "Fit the learned filter of predicted tumour components on labelled volumes, for "
      "'aslseg infer --component-filter FILE'.");
  cmd->description(
      "Fit the learned filter of predicted tumour components for a trained segmentation net: "
      "the net\nruns on the labelled volumes; each 3D tumour component it predicts (size, "
      "mean and max P(tumour),\nmembers' agreement, contrast to the surrounding liver, slices) "
      "is true when it touches labelled\ntumour; a logistic regression learns which are which "
      "(docs/loop.md, \"Component filter\"). The loop\nfits one per round by itself; this is "
      "the same for a net trained with 'train' alone:\n"
      "  aslseg component-filter --model runs/ss --data data --split runs/ss/split.json "
      "--out filter.json\n"
      "  aslseg infer --model runs/ss --component-filter filter.json --input new --output masks");
  cmd->add_option("--model", opt->models,
                  "Checkpoint file or run folder; several (repeated or comma-separated): an "
                  "ensemble, as in 'infer'")
      ->required()
      ->delimiter(',');
  cmd->add_option("--data", opt->data, "Dataset folder holding the labelled volumes")->required();
  cmd->add_option("--split", opt->split,
                  "split.json: fit on its labelled cases only (default: every labelled case of "
                  "--data; never fit on your test cases)");
  cmd->add_option("--out", opt->out, "JSON file to write")->required();
  cmd->add_option("--threshold", opt->params.threshold,
                  "P(true component) below which infer removes a component")
      ->capture_default_str();
  cmd->add_option("--min-examples", opt->params.min_examples,
                  "True and false components each needed to fit; fewer: the filter is off")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--device", opt->device, "auto | cpu | cuda | cuda:N")->capture_default_str();
  cmd->callback([opt] { run_component_filter(*opt); });
}

}  // namespace aslseg::cli
