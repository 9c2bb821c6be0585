// Where the loop keeps each round's outputs inside a run folder: the contract between
// `aslseg train` (which writes it) and `aslseg export` (which reads it). docs/run_layout.md.
//
//   RUN/round_K/selected.json              the cases selected in round K (selected_case.h);
//                                          written last and atomically: its presence marks
//                                          round K as finished
//   RUN/round_K/pseudo_labels/<case>.nii.gz  the label a selected case carries from round K on
//                                          (PL3 tumour on PL1 liver, LiTS values)
//   RUN/round_K/scores.json               every pool case's reliability, verdict and reason
//   RUN/round_K/component_filter.json     the filter of PL1's tumour components of round K
//   RUN/round_K/pl1/<case>.nii.gz          PL1 (SSL net), PL2 (SAM), PL3 (adaptation net) of
//   RUN/round_K/pl2/<case>.nii.gz          every case scored in round K, for overlays and
//   RUN/round_K/pl3/<case>.nii.gz          audits
//   RUN/round_K/ss/checkpoint.pt           the segmentation net (SS) of round K; with
//   RUN/round_K/ss_member_J/checkpoint.pt  loop.ss_members > 1, members J = 1 .. n-1 of its
//                                          ensemble (their softmax averaged)
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace aslseg::loop {

// The three pseudo-labels of a round.
enum class Stage { kPL1, kPL2, kPL3 };
const char* stage_name(Stage stage);  // "PL1" ...

inline constexpr const char* kRoundPrefix = "round_";
inline constexpr const char* kSelectedFile = "selected.json";
inline constexpr const char* kScoresFile = "scores.json";
// RUN/round_K/component_filter.json: round K's learned filter of PL1's tumour components
// (postprocess/component_filter.h), fitted on its SS's predictions on the labelled volumes.
inline constexpr const char* kComponentFilterFile = "component_filter.json";
inline constexpr const char* kPseudoLabelFolder = "pseudo_labels";
inline constexpr const char* kLabelExtension = ".nii.gz";
inline constexpr const char* kSsFolder = "ss";
inline constexpr const char* kSsMemberPrefix = "ss_member_";
inline constexpr const char* kSsCheckpointName = "checkpoint.pt";

class RunLayout {
 public:
  explicit RunLayout(std::filesystem::path run) : run_(std::move(run)) {}

  const std::filesystem::path& run() const { return run_; }
  std::filesystem::path round_dir(int round) const;  // RUN/round_K
  std::filesystem::path selected_json(int round) const;
  std::filesystem::path pseudo_label(int round, const std::string& case_id) const;
  std::filesystem::path stage_label(int round, Stage stage, const std::string& case_id) const;
  // Member `member` of round K's SS ensemble: RUN/round_K/ss for member 0, else
  // RUN/round_K/ss_member_<member>.
  std::filesystem::path ss_dir(int round, int member = 0) const;
  // The checkpoints of round K's SS: ss/checkpoint.pt, then ss_member_1/checkpoint.pt, ... up
  // to the first one missing (empty when round K has no SS checkpoint).
  std::vector<std::filesystem::path> ss_checkpoints(int round) const;

  // The round_K folders present (K a non-negative integer without sign or leading zeros),
  // ascending.
  std::vector<int> rounds() const;
  bool is_finished(int round) const;  // selected.json exists
  std::vector<int> finished_rounds() const;

 private:
  std::filesystem::path run_;
};

}  // namespace aslseg::loop
