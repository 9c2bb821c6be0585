#include "aslseg/metrics/report.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

namespace aslseg::metrics {

namespace {

// Keys in the order written (case, pred, gt, ...), not sorted: easier to read.
using Json = nlohmann::ordered_json;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kJsonIndent = 2;
// Column widths of the log table.
constexpr size_t kClassWidth = 8;
constexpr size_t kCountWidth = 5;
constexpr size_t kCellWidth = 28;

// JSON has no NaN: an undefined metric is null.
Json number_or_null(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }

Json metrics_json(const BinaryMetrics& m) {
  return {{"dice", number_or_null(m.dice)}, {"jaccard", number_or_null(m.jaccard)},
          {"hd95", number_or_null(m.hd95)}, {"asd", number_or_null(m.asd)},
          {"pred_voxels", m.pred_voxels},   {"gt_voxels", m.gt_voxels}};
}

Json summary_json(const MetricSummary& s) {
  return {{"mean", number_or_null(s.mean)},
          {"sd", number_or_null(s.sd)},
          {"n", s.n},
          {"n_undefined", s.n_undefined}};
}

std::string csv_number(double v) {
  if (!std::isfinite(v)) return "";
  // The shortest text that reads back as the same double.
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

// RFC 4180 quoting for fields that may hold commas or quotes (file paths).
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

// "0.951±0.012 (n=3, 1 undefined)"
std::string mean_sd(const MetricSummary& s, int precision) {
  if (s.n == 0) return "n/a";
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.*f±%.*f", precision, s.mean, precision, s.sd);
  std::string out = buf;
  if (s.n_undefined > 0) out += " (" + std::to_string(s.n_undefined) + " undefined)";
  return out;
}

// Display width of UTF-8 text ("±" is two bytes, one column).
size_t columns(const std::string& s) {
  constexpr unsigned char kContinuationMask = 0xC0, kContinuation = 0x80;
  size_t n = 0;
  for (unsigned char ch : s) n += (ch & kContinuationMask) != kContinuation;
  return n;
}

std::string pad(const std::string& s, size_t width) {
  return s + std::string(width > columns(s) ? width - columns(s) : 1, ' ');
}

std::string pad_left(const std::string& s, size_t width) {
  return std::string(width > columns(s) ? width - columns(s) : 0, ' ') + s;
}

}  // namespace

MetricSummary summarize_values(const std::vector<double>& values) {
  MetricSummary s;
  double sum = 0.0;
  for (double v : values) {
    if (std::isnan(v)) {
      ++s.n_undefined;
      continue;
    }
    sum += v;
    ++s.n;
  }
  if (s.n == 0) {
    s.mean = kNaN;
    s.sd = kNaN;
    return s;
  }
  s.mean = sum / static_cast<double>(s.n);
  // Two-pass variance: numerically safer than sum of squares minus square of sum.
  double squares = 0.0;
  for (double v : values)
    if (!std::isnan(v)) squares += (v - s.mean) * (v - s.mean);
  s.sd = std::sqrt(squares / static_cast<double>(s.n));
  return s;
}

std::vector<ClassSummary> summarize(const std::vector<CaseResult>& cases) {
  std::vector<ClassSummary> out;
  for (const EvaluatedClass& c : lits_classes()) {
    std::vector<double> dice, jaccard, hd95, asd;
    for (const CaseResult& r : cases) {
      for (const MetricRow& row : r.rows) {
        if (row.class_name != c.name) continue;
        dice.push_back(row.metrics.dice);
        jaccard.push_back(row.metrics.jaccard);
        hd95.push_back(row.metrics.hd95);
        asd.push_back(row.metrics.asd);
      }
    }
    out.push_back(ClassSummary{c.name, summarize_values(dice), summarize_values(jaccard),
                               summarize_values(hd95), summarize_values(asd)});
  }
  return out;
}

std::string report_json(const std::vector<CaseResult>& cases,
                        const std::vector<CaseFailure>& failures) {
  Json j;
  j["cases"] = Json::array();
  for (const CaseResult& r : cases) {
    Json classes = Json::object();
    for (const MetricRow& row : r.rows) classes[row.class_name] = metrics_json(row.metrics);
    j["cases"].push_back({{"case", r.case_id},
                          {"pred", r.pred_path},
                          {"gt", r.gt_path},
                          {"spacing", r.spacing},
                          {"classes", classes}});
  }
  Json summary = Json::object();
  for (const ClassSummary& s : summarize(cases)) {
    summary[s.class_name] = {{"dice", summary_json(s.dice)},
                             {"jaccard", summary_json(s.jaccard)},
                             {"hd95", summary_json(s.hd95)},
                             {"asd", summary_json(s.asd)}};
  }
  j["summary"] = summary;
  j["failures"] = Json::array();
  for (const CaseFailure& f : failures)
    j["failures"].push_back({{"case", f.case_id}, {"file", f.file}, {"error", f.error}});
  return j.dump(kJsonIndent) + "\n";
}

std::string report_csv(const std::vector<CaseResult>& cases) {
  std::ostringstream s;
  s << "case,class,pred,gt,dice,jaccard,hd95,asd,pred_voxels,gt_voxels\n";
  for (const CaseResult& r : cases) {
    for (const MetricRow& row : r.rows) {
      const BinaryMetrics& m = row.metrics;
      s << csv_field(r.case_id) << ',' << csv_field(row.class_name) << ',' << csv_field(r.pred_path)
        << ',' << csv_field(r.gt_path) << ',' << csv_number(m.dice) << ',' << csv_number(m.jaccard)
        << ',' << csv_number(m.hd95) << ',' << csv_number(m.asd) << ',' << m.pred_voxels << ','
        << m.gt_voxels << '\n';
    }
  }
  return s.str();
}

std::string summary_table(const std::vector<ClassSummary>& summary) {
  constexpr int kDicePrecision = 4;
  constexpr int kMmPrecision = 2;
  std::string out = pad("class", kClassWidth) + pad_left("n", kCountWidth) + "  " +
                    pad("Dice", kCellWidth) + pad("HD95 (mm)", kCellWidth) + "ASD (mm)";
  for (const ClassSummary& c : summary) {
    out += "\n" + pad(c.class_name, kClassWidth) +
           pad_left(std::to_string(c.dice.n + c.dice.n_undefined), kCountWidth) + "  " +
           pad(mean_sd(c.dice, kDicePrecision), kCellWidth) +
           pad(mean_sd(c.hd95, kMmPrecision), kCellWidth) + mean_sd(c.asd, kMmPrecision);
  }
  return out;
}

}  // namespace aslseg::metrics
