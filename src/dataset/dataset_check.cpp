#include "aslseg/dataset/dataset_check.h"

#include <spdlog/spdlog.h>

#include <optional>

#include "aslseg/io/error.h"
#include "aslseg/io/volume_io.h"
#include "aslseg/metrics/lits_metrics.h"

namespace aslseg::dataset {

std::vector<PairProblem> check_pairs(const Dataset& ds, CheckDepth depth) {
  std::vector<PairProblem> problems;
  for (const Case& c : ds.cases) {
    const std::string image_name = c.image.filename().string();
    if (!c.label && depth == CheckDepth::kHeaders) continue;
    const std::string pair =
        c.label ? image_name + " + " + c.label->filename().string() : image_name;
    try {
      const Geometry image = depth == CheckDepth::kVoxels ? io::read_image(c.image).geometry
                                                          : io::read_geometry(c.image);
      if (!c.label) continue;
      std::optional<LabelMap> labels;  // the full check reads the label once: grid and values
      if (depth == CheckDepth::kVoxels) labels = io::read_labels(*c.label);
      const std::string diff =
          image.difference(labels ? labels->geometry : io::read_geometry(*c.label));
      if (!diff.empty()) {
        problems.push_back({c.id, pair, "image and label grids differ: " + diff});
        continue;
      }
      if (labels) {
        const std::string bad = metrics::unknown_labels_problem(*labels);
        if (!bad.empty()) problems.push_back({c.id, pair, bad});
      }
    } catch (const InputError& e) {
      problems.push_back({c.id, pair, e.what()});
    }
  }
  return problems;
}

std::string describe(const PairProblem& p) {
  return "case " + p.case_id + " (" + p.files + "): " + p.problem;
}

size_t log_problems(const std::vector<PairProblem>& problems) {
  for (const auto& p : problems) spdlog::error("{}", describe(p));
  return problems.size();
}

}  // namespace aslseg::dataset
