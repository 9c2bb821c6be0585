#include "aslseg/loop/run_layout.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace aslseg::loop {

namespace fs = std::filesystem;

namespace {

// Largest round number accepted from a folder name (keeps std::stoi in range).
constexpr size_t kMaxRoundDigits = 6;

const char* stage_folder(Stage stage) {
  switch (stage) {
    case Stage::kPL1:
      return "pl1";
    case Stage::kPL2:
      return "pl2";
    case Stage::kPL3:
      return "pl3";
  }
  return "?";
}

}  // namespace

const char* stage_name(Stage stage) {
  switch (stage) {
    case Stage::kPL1:
      return "PL1";
    case Stage::kPL2:
      return "PL2";
    case Stage::kPL3:
      return "PL3";
  }
  return "?";
}

fs::path RunLayout::round_dir(int round) const {
  return run_ / (kRoundPrefix + std::to_string(round));
}

fs::path RunLayout::selected_json(int round) const { return round_dir(round) / kSelectedFile; }

fs::path RunLayout::pseudo_label(int round, const std::string& case_id) const {
  return round_dir(round) / kPseudoLabelFolder / (case_id + kLabelExtension);
}

fs::path RunLayout::stage_label(int round, Stage stage, const std::string& case_id) const {
  return round_dir(round) / stage_folder(stage) / (case_id + kLabelExtension);
}

fs::path RunLayout::ss_dir(int round, int member) const {
  if (member == 0) return round_dir(round) / kSsFolder;
  return round_dir(round) / (kSsMemberPrefix + std::to_string(member));
}

std::vector<fs::path> RunLayout::ss_checkpoints(int round) const {
  std::vector<fs::path> out;
  std::error_code ec;
  for (int member = 0;; ++member) {
    const fs::path checkpoint = ss_dir(round, member) / kSsCheckpointName;
    if (!fs::is_regular_file(checkpoint, ec)) return out;
    out.push_back(checkpoint);
  }
}

std::vector<int> RunLayout::rounds() const {
  std::vector<int> out;
  std::error_code ec;
  if (!fs::is_directory(run_, ec)) return out;
  const std::string prefix = kRoundPrefix;
  for (const auto& entry : fs::directory_iterator(run_, ec)) {
    if (!entry.is_directory()) continue;
    const std::string name = entry.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    const bool ok = !digits.empty() && digits.size() <= kMaxRoundDigits &&
                    (digits == "0" || digits[0] != '0') &&
                    std::all_of(digits.begin(), digits.end(),
                                [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    if (ok) out.push_back(std::stoi(digits));
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool RunLayout::is_finished(int round) const {
  std::error_code ec;
  return fs::is_regular_file(selected_json(round), ec);
}

std::vector<int> RunLayout::finished_rounds() const {
  std::vector<int> out;
  for (int k : rounds())
    if (is_finished(k)) out.push_back(k);
  return out;
}

}  // namespace aslseg::loop
