// Per-case evaluation with the classes the LiTS challenge scores: liver = every label >= 1
// (the tumour is part of the liver), tumour = label 2.
#pragma once

#include <string>
#include <vector>

#include "aslseg/io/volume.h"
#include "aslseg/metrics/binary_metrics.h"

namespace aslseg::metrics {

struct EvaluatedClass {
  const char* name;
  LabelRange labels;
};

// The two LiTS classes as label ranges.
inline constexpr LabelRange kLitsLiver{kLiver, kMaxLabel};
inline constexpr LabelRange kLitsTumour{kTumour, kTumour};

// The classes every report holds, in report order: {"liver", >= 1}, {"tumour", == 2}.
const std::vector<EvaluatedClass>& lits_classes();

// Empty for a valid LiTS label map; else "label values outside LiTS's 0 (background), 1 (liver),
// 2 (tumour): 7 (12 voxels), 9 (1 voxel)" (`evaluate`, `dataset check`).
std::string unknown_labels_problem(const LabelMap& labels);
// Sets every voxel that holds an unknown value in either map to background in both, so that it
// counts in no class (`evaluate --allow-unknown-labels`). The maps must share their size.
void drop_unknown_labels(LabelMap& a, LabelMap& b);

// One row of a report: one class of one case.
struct MetricRow {
  std::string case_id;
  std::string class_name;
  BinaryMetrics metrics;
};

// One row per class of lits_classes(), in that order. pred and gt must share a grid (the
// caller checks the full geometry with Geometry::difference; this checks the size).
std::vector<MetricRow> evaluate_case(const std::string& case_id, const LabelMap& pred,
                                     const LabelMap& gt);

}  // namespace aslseg::metrics
