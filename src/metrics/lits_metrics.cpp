#include "aslseg/metrics/lits_metrics.h"

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

}  // namespace aslseg::metrics
