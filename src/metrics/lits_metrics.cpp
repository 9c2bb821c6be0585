#include "aslseg/metrics/lits_metrics.h"

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

std::map<uint8_t, int64_t> unknown_labels(const LabelMap& labels) {
  std::map<uint8_t, int64_t> counts;
  for (const uint8_t v : labels.voxels)
    if (v > kTumour) ++counts[v];
  return counts;
}

std::string describe_labels(const std::map<uint8_t, int64_t>& counts) {
  std::string out;
  for (const auto& [value, n] : counts)
    out += (out.empty() ? "" : ", ") + std::to_string(value) + " (" + std::to_string(n) +
           (n == 1 ? " voxel)" : " voxels)");
  return out;
}

int64_t drop_unknown_labels(LabelMap& a, LabelMap& b) {
  if (a.voxels.size() != b.voxels.size())
    throw std::invalid_argument("drop_unknown_labels: the label maps differ in size");
  int64_t dropped = 0;
  for (size_t i = 0; i < a.voxels.size(); ++i) {
    if (a.voxels[i] <= kTumour && b.voxels[i] <= kTumour) continue;
    a.voxels[i] = kBackground;
    b.voxels[i] = kBackground;
    ++dropped;
  }
  return dropped;
}

}  // namespace aslseg::metrics
