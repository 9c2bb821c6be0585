// Per-case evaluation with the classes the LiTS challenge scores: liver = every label >= 1
// (the tumour is part of the liver), tumour = label 2.
#pragma once

#include <cstdint>
#include <map>
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

// Voxel counts of the values a LiTS label map may not hold (above 2, the tumour), by value;
// empty for a valid map.
std::map<uint8_t, int64_t> unknown_labels(const LabelMap& labels);
// "7 (12 voxels), 9 (1 voxel)".
std::string describe_labels(const std::map<uint8_t, int64_t>& counts);
// Sets every voxel that holds an unknown value in either map to background in both, so that it
// counts in no class (`evaluate --allow-unknown-labels`). The maps must share their size.
// Returns how many voxels were left out.
int64_t drop_unknown_labels(LabelMap& a, LabelMap& b);

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
