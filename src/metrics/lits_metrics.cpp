#include "aslseg/metrics/lits_metrics.h"

#include <cstdint>
#include <map>
#include <stdexcept>

namespace aslseg::metrics {

const std::vector<EvaluatedClass>& lits_classes() {
  // LiTS scores the liver as the whole organ, tumours included, and the tumour on its own.
  static const std::vector<EvaluatedClass> classes{
      {"liver", kLitsLiver},
      {"tumour", kLitsTumour},
  };
  return classes;
}

std::vector<MetricRow> evaluate_case(const std::string& case_id, const LabelMap& pred,
                                     const LabelMap& gt) {
  std::vector<MetricRow> rows;
  for (const EvaluatedClass& c : lits_classes())
    rows.push_back(MetricRow{case_id, c.name, compare_masks(pred, gt, c.labels)});
  return rows;
}

std::string unknown_labels_problem(const LabelMap& labels) {
  std::map<uint8_t, int64_t> counts;
  for (const uint8_t v : labels.voxels)
    if (v > kTumour) ++counts[v];
  if (counts.empty()) return "";
  std::string out = "label values outside LiTS's 0 (background), 1 (liver), 2 (tumour): ";
  bool first = true;
  for (const auto& [value, n] : counts) {
    out += (first ? "" : ", ") + std::to_string(value) + " (" + std::to_string(n) +
           (n == 1 ? " voxel)" : " voxels)");
    first = false;
  }
  return out;
}

void drop_unknown_labels(LabelMap& a, LabelMap& b) {
  if (a.voxels.size() != b.voxels.size())
    throw std::invalid_argument("drop_unknown_labels: the label maps differ in size");
  for (size_t i = 0; i < a.voxels.size(); ++i) {
    if (a.voxels[i] <= kTumour && b.voxels[i] <= kTumour) continue;
    a.voxels[i] = kBackground;
    b.voxels[i] = kBackground;
  }
}

}  // namespace aslseg::metrics
