// `aslseg evaluate`: Dice, Jaccard, HD95 and ASD of a folder of predicted label maps against
// the ground truth, per case and LiTS class, written as JSON and CSV (docs/metrics.md).
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "aslseg/cli/app.h"
#include "aslseg/cli/progress.h"
#include "aslseg/dataset/case_id.h"
#include "aslseg/io/atomic_file.h"
#include "aslseg/io/error.h"
#include "aslseg/io/volume_io.h"
#include "aslseg/metrics/lits_metrics.h"
#include "aslseg/metrics/report.h"

namespace aslseg::cli {

namespace {

namespace fs = std::filesystem;

// Ground-truth sub-folders looked for when --gt names a dataset root rather than the label
// folder itself (nnU-Net raw, then images/ + labels/).
const std::vector<std::string> kLabelSubfolders{"labelsTr", "labels"};
// LiTS keeps volume-N and segmentation-N side by side; the segmentation is the mask.
constexpr const char* kLitsLabelPrefix = "segmentation-";
constexpr const char* kLitsImagePrefix = "volume-";

struct Options {
  fs::path pred_dir;
  fs::path gt_dir;
  fs::path out_json;
  fs::path out_csv;
  bool allow_unknown_labels = false;
};

// LiTS labels are 0/1/2: another value is refused with the file and the values, or with
// --allow-unknown-labels left out of every class with a warning.
void check_label_values(const LabelMap& labels, const fs::path& path, bool allow) {
  const std::string problem = metrics::unknown_labels_problem(labels);
  if (problem.empty()) return;
  if (!allow)
    throw InputError(path.string(), "holds " + problem +
                                        "; fix the labels, or pass --allow-unknown-labels to "
                                        "leave those voxels out of every class");
  spdlog::warn("{}: {}; those voxels are left out of every class", path.string(), problem);
}

struct Listing {
  std::map<std::string, fs::path> by_case;
  std::vector<metrics::CaseFailure> ambiguous;  // one per case id with several files
};

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

fs::path label_folder(const fs::path& gt_dir) {
  for (const std::string& sub : kLabelSubfolders)
    if (fs::is_directory(gt_dir / sub)) return gt_dir / sub;
  return gt_dir;
}

// Every volume file of `dir` by case id; hidden files (an interrupted atomic write leaves
// ".x.tmp-...") are skipped, and so are the LiTS images (volume-N) of a folder that holds
// segmentation-N files (a LiTS dataset given as --gt, or as --pred to score it against itself). Two
// files with one case id are a failure of that case.
Listing list_cases(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw InputError(dir.string(), "not a folder");
  std::vector<fs::path> files;
  bool has_lits_labels = false;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || !io::is_volume_path(entry.path())) continue;
    files.push_back(entry.path());
    has_lits_labels = has_lits_labels || starts_with(name, kLitsLabelPrefix);
  }
  if (has_lits_labels) {
    files.erase(std::remove_if(files.begin(), files.end(),
                               [](const fs::path& f) {
                                 return starts_with(f.filename().string(), kLitsImagePrefix);
                               }),
                files.end());
  }
  std::sort(files.begin(), files.end());
  Listing out;
  std::map<std::string, std::vector<fs::path>> groups;
  for (const fs::path& f : files) groups[dataset::case_id(f)].push_back(f);
  for (auto& [id, paths] : groups) {
    if (paths.size() == 1) {
      out.by_case[id] = paths.front();
      continue;
    }
    std::string names;
    for (const fs::path& p : paths) names += (names.empty() ? "" : ", ") + p.filename().string();
    out.ambiguous.push_back(
        {id, paths.front().string(), "case '" + id + "' matches several files: " + names});
  }
  return out;
}

void record_failure(std::vector<metrics::CaseFailure>& failures, metrics::CaseFailure f) {
  spdlog::error("{}: {}", f.file, f.error);
  failures.push_back(std::move(f));
}

void run_evaluate(const Options& opt, CommandContext& ctx) {
  const fs::path gt_dir = label_folder(opt.gt_dir);
  Listing preds = list_cases(opt.pred_dir);
  Listing gts = list_cases(gt_dir);
  if (preds.by_case.empty() && preds.ambiguous.empty())
    throw InputError(opt.pred_dir.string(), "no label files (.nii, .nii.gz, .mha, .nrrd ...)");
  spdlog::info("evaluate: {} predictions in {}, {} ground truths in {}", preds.by_case.size(),
               opt.pred_dir.string(), gts.by_case.size(), gt_dir.string());

  std::vector<metrics::CaseFailure> failures;
  std::set<std::string> ambiguous;  // already failed: no second "missing partner" failure
  for (const Listing* l : {&preds, &gts}) {
    for (const metrics::CaseFailure& f : l->ambiguous) {
      record_failure(failures, f);
      ambiguous.insert(f.case_id);
    }
  }

  std::set<std::string> unique_ids;
  for (const Listing* l : {&preds, &gts})
    for (const auto& [id, path] : l->by_case)
      if (!ambiguous.count(id)) unique_ids.insert(id);
  std::vector<std::string> ids(unique_ids.begin(), unique_ids.end());
  std::sort(ids.begin(), ids.end(), dataset::case_id_less);

  std::vector<metrics::CaseResult> results;
  bool internal_error = false;
  Progress progress("evaluate", static_cast<int64_t>(ids.size()));
  for (const std::string& id : ids) {
    const auto p = preds.by_case.find(id);
    const auto g = gts.by_case.find(id);
    if (g == gts.by_case.end()) {
      record_failure(failures, {id, p->second.string(),
                                "no ground truth for case '" + id + "' in " + gt_dir.string()});
    } else if (p == preds.by_case.end()) {
      record_failure(failures, {id, g->second.string(),
                                "no prediction for case '" + id + "' in " + opt.pred_dir.string()});
    } else {
      try {
        LabelMap pred = io::read_labels(p->second);
        LabelMap gt = io::read_labels(g->second);
        // Voxel-wise metrics are meaningless across grids, and resampling would hide the
        // mistake. Which file is wrong is unknowable: the failure is filed under the ground
        // truth and its message names the prediction.
        const std::string diff = gt.geometry.difference(pred.geometry);
        if (!diff.empty())
          throw InputError(g->second.string(), "geometry differs from the prediction " +
                                                   p->second.filename().string() + ": " + diff);
        check_label_values(pred, p->second, opt.allow_unknown_labels);
        check_label_values(gt, g->second, opt.allow_unknown_labels);
        if (opt.allow_unknown_labels) metrics::drop_unknown_labels(pred, gt);
        results.push_back({id, p->second.string(), g->second.string(), gt.geometry.spacing,
                           metrics::evaluate_case(id, pred, gt)});
      } catch (const InputError& e) {
        record_failure(failures,
                       {id, e.path().empty() ? p->second.string() : e.path(), e.problem()});
      } catch (const std::bad_alloc&) {
        throw;
      } catch (const std::exception& e) {
        // Not the input's fault, but one odd case must not cost the whole batch.
        internal_error = true;
        record_failure(failures,
                       {id, p->second.string(), std::string("internal error: ") + e.what()});
      }
    }
    progress.tick();
  }
  progress.finish();

  io::write_text_atomically(opt.out_json, metrics::report_json(results, failures));
  io::write_text_atomically(opt.out_csv, metrics::report_csv(results));
  spdlog::info("evaluated {} cases, {} failures; wrote {} and {}", results.size(), failures.size(),
               opt.out_json.string(), opt.out_csv.string());
  spdlog::info("summary:\n{}", metrics::summary_table(metrics::summarize(results)));
  if (!failures.empty()) ctx.exit_code = internal_error ? kExitInternal : kExitBadInput;
}

}  // namespace

void register_evaluate(CLI::App& app, CommandContext& ctx) {
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "evaluate",
      "Dice, Jaccard, HD95 and ASD per case and class, written as JSON and CSV.\n"
      "Classes as LiTS scores them: liver = label >= 1 (tumour included), tumour = label 2.\n"
      "Predictions and ground truths are paired by case id (volume-7.nii.gz <-> "
      "segmentation-7.nii, liver_007_0000 <-> liver_007, equal names); --gt may be a LiTS "
      "folder, an nnU-Net labelsTr folder (or its dataset root), a labels/ folder or plain "
      "names.\n"
      "HD95 and ASD are in mm and match MONAI (surface = mask minus its 6-connected erosion, "
      "exact Euclidean distances with the voxel spacing, HD95 = max of the two directed 95th "
      "percentiles, ASD = mean of both directed distance sets).\n"
      "Empty masks: both empty -> Dice 1, HD95 0, ASD 0; one empty -> Dice 0, HD95/ASD "
      "undefined (null in JSON, empty in CSV, left out of the means and counted as "
      "n_undefined).\n"
      "A case without its partner, an unreadable file, a ground truth whose geometry differs "
      "from the prediction, or a label value other than 0/1/2 (unless --allow-unknown-labels) "
      "is logged, listed under \"failures\", and makes the exit code 2.");
  cmd->add_option("--pred", opt->pred_dir, "Folder of predicted label maps")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--gt", opt->gt_dir, "Folder of ground-truth label maps")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--out", opt->out_json, "Report to write (JSON)")->required();
  cmd->add_option("--csv", opt->out_csv, "Per-case CSV (default: --out with .csv)");
  cmd->add_flag("--allow-unknown-labels", opt->allow_unknown_labels,
                "Label values other than 0/1/2: warn and leave those voxels (in either map) out "
                "of every class, instead of failing the case");
  cmd->callback([opt, &ctx] {
    if (opt->out_csv.empty()) opt->out_csv = fs::path(opt->out_json).replace_extension(".csv");
    if (fs::absolute(opt->out_csv).lexically_normal() ==
        fs::absolute(opt->out_json).lexically_normal())
      throw InputError(opt->out_csv.string(), "--csv and --out name the same file");
    run_evaluate(*opt, ctx);
  });
}

}  // namespace aslseg::cli
