// `aslseg export`: the volumes the loop selected, each with its pseudo-label, written as a
// dataset another tool can train on (LiTS, nnU-Net v2 raw, images/ + labels/), with
// manifest.json (case, round, scores, source stages, output paths) and an overlay PNG per
// case. Reads the run folder described in loop/run_layout.h. docs/export.md.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "aslseg/export/export_format.h"
#include "aslseg/loop/selected_case.h"

namespace aslseg::exporting {

struct ExportOptions {
  std::filesystem::path run;
  // Only the cases selected in this round; unset: every finished round's selections (a case
  // keeps the label of the round that selected it).
  std::optional<int> round;
  std::filesystem::path out;
  ExportFormat format = ExportFormat::kNnUnet;
  bool overlays = true;
};

struct ExportedCase {
  loop::SelectedCase selection;
  std::string output_id;  // the case id, or its LiTS number
  std::filesystem::path source_image, source_label;
  // Relative to the export folder; overlay empty without overlays.
  std::filesystem::path image, label, overlay;
  int64_t overlay_slice = -1;
};

struct ExportFailure {
  std::string case_id;
  std::string file;
  std::string problem;
  bool internal = false;  // not the input's fault (exit code 1 rather than 2)
};

struct ExportReport {
  std::vector<int> rounds;  // the rounds whose selections were exported
  std::vector<ExportedCase> cases;
  std::vector<ExportFailure> failures;
};

// Exports every case it can. A missing or corrupt per-case file (image, pseudo-label, or with
// overlays PL1/PL2/PL3) is logged in one line naming the file, recorded in the report and the
// case skipped, with nothing of it left in `out`. Throws InputError for what stops the whole
// export: no such run, no finished round (or --round not finished), a corrupt selected.json,
// an `out` that exists and is not empty. `on_case` is called after each case (progress).
ExportReport export_run(const ExportOptions& options,
                        const std::function<void()>& on_case = nullptr);

// manifest.json as written into `out` by export_run (exposed for tests and docs).
std::string manifest_json(const ExportOptions& options, const ExportReport& report);

}  // namespace aslseg::exporting
