// `aslseg report`: one self-contained HTML page (inline SVG charts and PNG pictures, no
// network) showing what a run of `aslseg train` did: the test split per round and stage, the
// learning curves of every trained stage, the selection with its hidden-label quality, and the
// pseudo-labels of each scored case over its CT. docs/report.md.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace aslseg::report {

struct ReportParams {
  int max_cases = 12;          // scored cases pictured (selected first), of the last round
  int slices_per_case = 3;     // axial slices per case: those with the most tumour
  int max_curve_points = 400;  // per series; longer logs are thinned evenly
  // The data folder (CTs and labels for the pictures); empty: the one split.json names, taken
  // relative to the working directory when relative, as `train` was given it.
  std::filesystem::path data;
};

struct ReportContents {
  int images = 0;                  // <img> elements (case slices)
  int charts = 0;                  // <svg> charts
  int cases = 0;                   // cases pictured
  std::vector<std::string> notes;  // what could not be shown, and why
};

// Reads RUN (summary.json or, for a run without rounds, ss/; split.json and the data folder it
// names; round_K/; */metrics.jsonl) and writes `out` atomically. Throws InputError naming the
// file when RUN is not a run folder; a missing part (a deleted data folder, say) becomes a note
// in the page instead.
ReportContents write_report(const std::filesystem::path& run, const std::filesystem::path& out,
                            const ReportParams& params = {});

}  // namespace aslseg::report
