// Scoring the test split of a run, one report per stage (SS alone, SS -> SAM,
// SS -> SAM -> AN): each case's prediction is written under DIR/test_predictions/ and scored
// against the ground truth with the metrics of `aslseg evaluate`; finish() writes
// DIR/test_metrics.json and .csv and returns the per-class summary.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aslseg/io/volume.h"
#include "aslseg/metrics/report.h"

namespace aslseg::loop {

class TestReport {
 public:
  TestReport(std::string name, std::filesystem::path dir);

  void add(const std::string& case_id, const LabelMap& prediction, const LabelMap& truth,
           const std::filesystem::path& truth_path);
  void fail(const std::string& case_id, const std::string& file, const std::string& error);

  // Writes the report files and returns its "summary" object ({} with no case at all).
  nlohmann::json finish() const;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::filesystem::path dir_;
  std::vector<metrics::CaseResult> results_;
  std::vector<metrics::CaseFailure> failures_;
};

}  // namespace aslseg::loop
