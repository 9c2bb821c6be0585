#include "aslseg/dataset/dataset_check.h"

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
      const Geometry label = io::read_geometry(*c.label);
      const std::string diff = image.difference(label);
      if (!diff.empty()) {
        problems.push_back({c.id, pair, "image and label grids differ: " + diff});
        continue;
      }
      if (depth == CheckDepth::kVoxels) {
        const std::string bad =
            metrics::describe_labels(metrics::unknown_labels(io::read_labels(*c.label)));
        if (!bad.empty())
          problems.push_back(
              {c.id, pair, "label values outside 0 (background), 1 (liver), 2 (tumour): " + bad});
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

}  // namespace aslseg::dataset
