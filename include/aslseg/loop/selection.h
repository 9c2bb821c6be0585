// Step 4 of the loop (DESIGN.md): which unlabelled volumes move to the labelled set, with PL3
// (tumour) + PL1 (liver) as their label. A volume is reliable when the adaptation net's tumour
// (PL3) agrees with the SSL net's (PL1): reliability = Dice(PL3 tumour, PL1 tumour), with the
// empty-mask cases decided on purpose (below; docs/run_layout.md, "Selection"). With an
// ensemble as SS (loop.ss_members > 1) the second opinion can instead be the members: every
// pair of them must agree (reliability "members": the lowest pairwise score).
//
// Edge cases (voxel counts of the tumour class, label 2):
//   both empty              -> reliability = both_empty_reliability when the liver agrees
//                              (liver Dice >= tau_liver), else 0: nothing to compare on the
//                              tumour, so the liver is the only evidence the label is right;
//   one empty, other small  -> treated like both empty (< small_volume_voxels: a speck one net
//                              kept and the other removed is noise, not disagreement);
//   one empty, other large  -> 0 (one net sees a lesion the other misses entirely).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aslseg/io/volume.h"

namespace aslseg::loop {

// Named defaults (the choice is explained in docs/run_layout.md, "Selection").
inline constexpr double kDefaultTau = 0.8;
inline constexpr double kDefaultTauLiver = 0.9;
inline constexpr double kDefaultMaxFraction = 0.5;
inline constexpr int64_t kDefaultSmallVolumeVoxels = 50;

// Which two label maps the reliability compares.
enum class ReliabilitySource {
  kStages,   // "stages": PL3 against PL1 (the paper's rule)
  kMembers,  // "members": the SS ensemble's members against each other (their own labels)
};
const char* reliability_source_name(ReliabilitySource source);
// nullopt for an unknown name.
std::optional<ReliabilitySource> parse_reliability_source(const std::string& name);

struct SelectionParams {
  ReliabilitySource reliability = ReliabilitySource::kStages;
  double tau = kDefaultTau;  // reliability >= tau is selected (inclusive)
  // Share of the unlabelled pool that may move per round: at most max(1, floor(f * pool)).
  double max_fraction = kDefaultMaxFraction;
  // When fewer than this many cases reach tau, the most reliable of the others fill up to it
  // (still under the cap and the uncertainty gate) if their reliability is >= tau_min: a round
  // whose best case falls just short of tau then still moves its best pseudo-label instead of
  // stopping the loop. 0: tau alone decides.
  int64_t min_selected = 0;
  double tau_min = 0.5;
  double tau_liver = kDefaultTauLiver;  // liver Dice the empty cases need
  double both_empty_reliability = 1.0;  // reliability of an agreeing tumour-free volume
  int64_t small_volume_voxels = kDefaultSmallVolumeVoxels;  // 0: any tumour is "large"
  // Optional gate: a case whose PL3 has tumour is selected only when its uncertainty (mean
  // entropy inside the tumour) is strictly below this. A case without tumour has no such
  // number and passes; a case with tumour but without the number is rejected.
  std::optional<double> max_uncertainty;
};

// Throws InputError (no path) naming the field: tau, tau_liver, both_empty_reliability or
// max_fraction outside [0, 1], negative small_volume_voxels, NaN max_uncertainty.
void validate(const SelectionParams& params);

// How the reliability was obtained.
enum class ReliabilityRule { kDice, kBothEmpty, kEmptyVsSmall, kEmptyVsLarge };
const char* rule_name(ReliabilityRule rule);

struct CaseScore {
  std::string id;
  double reliability = 0.0;
  double tumour_dice = 0.0;  // plain Dice(PL3, PL1) of the tumour (1 when both are empty)
  double liver_dice = 0.0;   // Dice of the liver (label >= 1, LiTS) of the two label maps
  std::optional<double> uncertainty;
  int64_t tumour_voxels_pl1 = 0;
  int64_t tumour_voxels_pl3 = 0;
  ReliabilityRule rule = ReliabilityRule::kDice;
  // What was compared, for the log's reasons: "PL1" / "PL3", or two members' names.
  std::string first_name = "PL1";
  std::string second_name = "PL3";
};

// The rule, from numbers: tumour_dice and liver_dice as measured, voxel counts of PL1 and PL3.
CaseScore score_from_counts(const std::string& id, double tumour_dice, int64_t tumour_voxels_pl1,
                            int64_t tumour_voxels_pl3, double liver_dice,
                            std::optional<double> uncertainty, const SelectionParams& params);

// From the label maps: PL1 (the SSL net's, liver + tumour) and PL3 (the candidate label:
// PL3's tumour on the liver it carries). Throws InputError naming the case when the grids
// differ.
CaseScore score_case(const std::string& id, const LabelMap& pl1, const LabelMap& pl3,
                     std::optional<double> uncertainty, const SelectionParams& params);

// From the label maps of the SS ensemble's members (post-processed like PL1), at least two:
// score_case for every pair, and the pair that agrees least decides (every pair must agree for
// a volume to be reliable). tumour_voxels_pl1 / _pl3 are that pair's. Throws InputError naming
// the case for fewer than two members or grids that differ.
CaseScore score_members(const std::string& id, const std::vector<LabelMap>& members,
                        const SelectionParams& params);

enum class Verdict {
  kSelected,
  kBelowTau,            // reliability < tau (including the rule's 0)
  kUncertain,           // uncertainty >= max_uncertainty
  kMissingUncertainty,  // the gate is on, PL3 has tumour, no number was supplied
  kOverCap,             // reliable, but the round's max_fraction is used up
};
const char* verdict_name(Verdict verdict);

struct Decision {
  CaseScore score;
  Verdict verdict = Verdict::kBelowTau;
  std::string reason;  // one line for the log: why it was (not) selected
  bool selected() const { return verdict == Verdict::kSelected; }
};

// One decision per score, in rank order: highest reliability first, ties by case id in
// natural order (dataset::case_id_less). The pool is `scores` (the unlabelled cases of this
// round); an empty pool gives no decisions. Throws InputError when two scores share an id.
std::vector<Decision> select(const std::vector<CaseScore>& scores, const SelectionParams& params);

}  // namespace aslseg::loop
