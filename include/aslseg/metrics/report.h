// The evaluation report: per-case rows, per-class summaries (mean, sd, n, n_undefined) and
// failed cases, rendered as JSON, CSV and a short log table.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "aslseg/metrics/lits_metrics.h"

namespace aslseg::metrics {

// A case that was evaluated: where its two masks came from and one row per class.
struct CaseResult {
  std::string case_id;
  std::string pred_path;
  std::string gt_path;
  std::array<double, 3> spacing{1.0, 1.0, 1.0};
  std::vector<MetricRow> rows;
};

// A case that could not be evaluated: the file at fault and what is wrong with it.
struct CaseFailure {
  std::string case_id;
  std::string file;
  std::string error;
};

// Statistics of one metric of one class over the cases where it is defined (not NaN).
struct MetricSummary {
  double mean = 0.0;        // NaN when n == 0
  double sd = 0.0;          // population sd (numpy.std, ddof = 0); NaN when n == 0
  int64_t n = 0;            // cases that entered the mean
  int64_t n_undefined = 0;  // cases left out because the metric was NaN
};

struct ClassSummary {
  std::string class_name;
  MetricSummary dice, jaccard, hd95, asd;
};

// One summary per class of lits_classes(), in that order.
std::vector<ClassSummary> summarize(const std::vector<CaseResult>& cases);

// Mean and population sd of the finite values; NaN entries are only counted.
MetricSummary summarize_values(const std::vector<double>& values);

// {"cases": [...], "summary": {...}, "failures": [...]}, NaN written as null; see
// docs/metrics.md for the fields.
std::string report_json(const std::vector<CaseResult>& cases,
                        const std::vector<CaseFailure>& failures);

// One line per case and class: case,class,pred,gt,dice,jaccard,hd95,asd,pred_voxels,gt_voxels;
// an undefined metric is an empty cell.
std::string report_csv(const std::vector<CaseResult>& cases);

// A few lines for the log: per class, Dice mean±sd, HD95 and ASD mean±sd (mm).
std::string summary_table(const std::vector<ClassSummary>& summary);

}  // namespace aslseg::metrics
