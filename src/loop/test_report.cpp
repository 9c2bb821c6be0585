#include "aslseg/loop/test_report.h"

#include <spdlog/spdlog.h>

#include "aslseg/io/atomic_file.h"
#include "aslseg/io/volume_io.h"
#include "aslseg/metrics/lits_metrics.h"

namespace aslseg::loop {

namespace fs = std::filesystem;
using nlohmann::json;

TestReport::TestReport(std::string name, fs::path dir)
    : name_(std::move(name)), dir_(std::move(dir)) {}

void TestReport::add(const std::string& case_id, const LabelMap& prediction, const LabelMap& truth,
                     const fs::path& truth_path) {
  const fs::path out = dir_ / "test_predictions" / (case_id + ".nii.gz");
  io::write_labels(prediction, out);
  results_.push_back({case_id, out.string(), truth_path.string(), prediction.geometry.spacing,
                      metrics::evaluate_case(case_id, prediction, truth)});
}

void TestReport::fail(const std::string& case_id, const std::string& file,
                      const std::string& error) {
  failures_.push_back({case_id, file, error});
}

json TestReport::finish() const {
  if (results_.empty() && failures_.empty()) return json::object();
  const std::string report = metrics::report_json(results_, failures_);
  io::write_text_atomically(dir_ / "test_metrics.json", report);
  io::write_text_atomically(dir_ / "test_metrics.csv", metrics::report_csv(results_));
  spdlog::info("test split, {} ({} cases):\n{}", name_, results_.size(),
               metrics::summary_table(metrics::summarize(results_)));
  return json::parse(report).at("summary");
}

}  // namespace aslseg::loop
