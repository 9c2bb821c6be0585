// One entry of RUN/round_K/selected.json (run_layout.h): a volume that moved from the
// unlabelled to the labelled set in round K, with the scores that got it selected and where its
// label came from. The file is a JSON array of these; docs/run_layout.md has an example.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "aslseg/loop/selection.h"

namespace aslseg::loop {

// Which stage's output each class of the exported label comes from.
struct SourceStage {
  std::string tumour = "PL3";
  std::string liver = "PL1";
};

struct SelectedCase {
  std::string id;
  std::filesystem::path image;  // absolute, or relative to the run folder
  int round = 0;
  double reliability = 0.0;
  double liver_dice = 0.0;
  std::optional<double> uncertainty;  // null in JSON when not measured
  SourceStage source;
};

// From a selection decision.
SelectedCase selected_case(const CaseScore& score, const std::filesystem::path& image, int round);

std::string selected_to_json(const std::vector<SelectedCase>& cases);

// Reads selected.json. Throws InputError naming the file: not JSON, not an array, a missing
// or mistyped field, an empty or duplicate case id, or a "round" other than expected_round
// (the folder it lies in). Fields the reader does not know are ignored (the loop may add
// more scores).
std::vector<SelectedCase> load_selected(const std::filesystem::path& file, int expected_round);

}  // namespace aslseg::loop
