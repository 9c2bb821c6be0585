// `aslseg dataset list|split`: what a dataset folder holds and which cases are labelled,
// unlabelled and held out.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "aslseg/cli/app.h"
#include "aslseg/dataset/dataset.h"
#include "aslseg/dataset/dataset_check.h"
#include "aslseg/dataset/split.h"
#include "aslseg/io/atomic_file.h"

namespace aslseg::cli {

namespace {

struct SplitOptions {
  std::filesystem::path data;
  std::filesystem::path out;
  dataset::SplitParams params;
};

void run_list(const std::filesystem::path& data) {
  const dataset::Dataset ds = dataset::discover(data);
  spdlog::info("{}: {} layout, {} cases, {} with labels", data.string(),
               dataset::layout_name(ds.layout), ds.cases.size(), ds.num_labelled());
  for (const auto& c : ds.cases) {
    std::printf("%s\t%s\t%s\n", c.id.c_str(), c.image.string().c_str(),
                c.label ? c.label->string().c_str() : "-");
  }
}

void run_check(const std::filesystem::path& data, bool headers_only, CommandContext& ctx) {
  const dataset::Dataset ds = dataset::discover(data);
  const auto problems = dataset::check_pairs(
      ds, headers_only ? dataset::CheckDepth::kHeaders : dataset::CheckDepth::kVoxels);
  spdlog::info("{}: {} cases ({} labelled) checked{}, {} with problems", data.string(),
               ds.cases.size(), ds.num_labelled(), headers_only ? " (headers)" : "",
               problems.size());
  if (dataset::log_problems(problems) > 0) ctx.exit_code = kExitBadInput;
}

void run_split(const SplitOptions& o, CommandContext& ctx) {
  const dataset::Dataset ds = dataset::discover(o.data);
  // A pair on two grids would be found only when something trains on it, or never.
  if (dataset::log_problems(dataset::check_pairs(ds, dataset::CheckDepth::kHeaders)) > 0) {
    spdlog::error(
        "{}: no split written; fix those pairs or move them out of the folder "
        "('aslseg dataset check' lists every problem)",
        o.data.string());
    ctx.exit_code = kExitBadInput;
    return;
  }
  const dataset::Split split = dataset::make_split(ds, o.params);
  io::write_text_atomically(o.out, dataset::split_to_json(split));
  spdlog::info("{}: {} labelled, {} unlabelled, {} test ({} layout, seed {}) -> {}",
               o.data.string(), split.labelled.size(), split.unlabelled.size(), split.test.size(),
               dataset::layout_name(ds.layout), o.params.seed, o.out.string());
}

}  // namespace

void register_dataset(CLI::App& app, CommandContext& ctx) {
  auto* cmd = app.add_subcommand("dataset", "Inspect a dataset folder and make split manifests.");
  cmd->require_subcommand(1);
  cmd->footer(
      "Layouts found automatically: LiTS (volume-N.nii[.gz] + segmentation-N.nii[.gz], also one "
      "folder down),\nnnU-Net raw (imagesTr/X_0000.nii.gz + labelsTr/X.nii.gz, imagesTs/), and "
      "images/ + labels/ with equal names.");

  auto data = std::make_shared<std::filesystem::path>();
  auto* list =
      cmd->add_subcommand("list", "List the cases of a dataset folder (id, image, label).");
  list->add_option("--data", *data, "Dataset folder")->required();
  list->callback([data] { run_list(*data); });

  auto check_data = std::make_shared<std::filesystem::path>();
  auto headers_only = std::make_shared<bool>(false);
  auto* check = cmd->add_subcommand(
      "check",
      "Check every image/label pair before training on it (nnU-Net's dataset integrity check):\n"
      "each file readable and 3D, image and label on the same grid (size, spacing, origin,\n"
      "direction within 1e-3), label values 0/1/2; NaN/Inf image voxels are warned about (they\n"
      "are read as outside the field of view). One line per problem\n"
      "naming the files; exit code 2 when there is any. 'dataset split' runs the header part.");
  check->add_option("--data", *check_data, "Dataset folder")->required();
  check->add_flag("--headers-only", *headers_only,
                  "Compare the headers only (fast): grids and header checks, no voxels read");
  check->callback([check_data, headers_only, &ctx] { run_check(*check_data, *headers_only, ctx); });

  auto o = std::make_shared<SplitOptions>();
  auto* split = cmd->add_subcommand(
      "split",
      "Choose labelled, unlabelled and test cases and write split.json.\n"
      "Test cases are drawn from the labelled cases first; of those left, a fraction keeps its\n"
      "labels (at least one case) and the rest become unlabelled: their label files are never\n"
      "read for training, only for evaluation. Refused (exit 2, no split written) when a pair's\n"
      "image and label lie on different grids.");
  split->add_option("--data", o->data, "Dataset folder")->required();
  split
      ->add_option("--labeled-fraction,--labelled-fraction", o->params.labelled_fraction,
                   "Fraction of the non-test cases that keep their labels")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.999999));
  split
      ->add_option("--test-fraction", o->params.test_fraction,
                   "Fraction of the labelled cases held out for testing")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.999999));
  split->add_option("--seed", o->params.seed, "Seed of the shuffle")->capture_default_str();
  split->add_option("--out", o->out, "Output split.json")->required();
  split->callback([o, &ctx] { run_split(*o, ctx); });
}

}  // namespace aslseg::cli
