#include "aslseg/loop/selection.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "aslseg/dataset/case_id.h"
#include "aslseg/io/error.h"
#include "aslseg/metrics/binary_metrics.h"

namespace aslseg::loop {

namespace {

// LiTS classes as scored everywhere else (metrics/lits_metrics): liver = label >= 1.
constexpr metrics::LabelRange kLiverRange{kLiver, metrics::kMaxLabel};
constexpr metrics::LabelRange kTumourRange{kTumour, kTumour};

bool in_unit_interval(double v) { return v >= 0.0 && v <= 1.0; }

int64_t count_in(const LabelMap& m, metrics::LabelRange r) {
  return static_cast<int64_t>(
      std::count_if(m.voxels.begin(), m.voxels.end(), [&](uint8_t v) { return r.contains(v); }));
}

std::string rule_reason(const CaseScore& s, const SelectionParams& p) {
  switch (s.rule) {
    case ReliabilityRule::kDice:
      return fmt::format("tumour Dice {:.3f} of {} and {}", s.tumour_dice, s.first_name,
                         s.second_name);
    case ReliabilityRule::kBothEmpty:
    case ReliabilityRule::kEmptyVsSmall: {
      const std::string what =
          s.rule == ReliabilityRule::kBothEmpty
              ? fmt::format("no tumour in {} or {}", s.first_name, s.second_name)
              : fmt::format("tumour only in {} ({} voxels < small_volume_voxels {})",
                            s.tumour_voxels_pl1 > 0 ? s.first_name : s.second_name,
                            std::max(s.tumour_voxels_pl1, s.tumour_voxels_pl3),
                            p.small_volume_voxels);
      const bool agrees = s.liver_dice >= p.tau_liver;
      return fmt::format("{}, liver Dice {:.3f} {} tau_liver {:.3f}", what, s.liver_dice,
                         agrees ? ">=" : "<", p.tau_liver);
    }
    case ReliabilityRule::kEmptyVsLarge:
      return fmt::format("tumour only in {} ({} voxels >= small_volume_voxels {})",
                         s.tumour_voxels_pl1 > 0 ? s.first_name : s.second_name,
                         std::max(s.tumour_voxels_pl1, s.tumour_voxels_pl3), p.small_volume_voxels);
  }
  return "";
}

}  // namespace

void validate(const SelectionParams& p) {
  auto fail = [](const std::string& what) {
    throw InputError("", "selection parameters: " + what);
  };
  if (!in_unit_interval(p.tau)) fail("tau must be in [0, 1]");
  if (!in_unit_interval(p.tau_liver)) fail("tau_liver must be in [0, 1]");
  if (!in_unit_interval(p.both_empty_reliability)) fail("both_empty_reliability must be in [0, 1]");
  if (!in_unit_interval(p.max_fraction)) fail("max_fraction must be in [0, 1]");
  if (p.min_selected < 0) fail("min_selected must be >= 0");
  if (!in_unit_interval(p.tau_min)) fail("tau_min must be in [0, 1]");
  if (p.small_volume_voxels < 0) fail("small_volume_voxels must be >= 0");
  if (p.max_uncertainty && std::isnan(*p.max_uncertainty)) fail("max_uncertainty is NaN");
}

const char* reliability_source_name(ReliabilitySource source) {
  return source == ReliabilitySource::kMembers ? "members" : "stages";
}

std::optional<ReliabilitySource> parse_reliability_source(const std::string& name) {
  if (name == "stages") return ReliabilitySource::kStages;
  if (name == "members") return ReliabilitySource::kMembers;
  return std::nullopt;
}

const char* rule_name(ReliabilityRule rule) {
  switch (rule) {
    case ReliabilityRule::kDice:
      return "dice";
    case ReliabilityRule::kBothEmpty:
      return "both_empty";
    case ReliabilityRule::kEmptyVsSmall:
      return "empty_vs_small";
    case ReliabilityRule::kEmptyVsLarge:
      return "empty_vs_large";
  }
  return "?";
}

const char* verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::kSelected:
      return "selected";
    case Verdict::kBelowTau:
      return "below_tau";
    case Verdict::kUncertain:
      return "uncertain";
    case Verdict::kMissingUncertainty:
      return "missing_uncertainty";
    case Verdict::kOverCap:
      return "over_cap";
  }
  return "?";
}

CaseScore score_from_counts(const std::string& id, double tumour_dice, int64_t v1, int64_t v3,
                            double liver_dice, std::optional<double> uncertainty,
                            const SelectionParams& p) {
  CaseScore s;
  s.id = id;
  s.tumour_dice = tumour_dice;
  s.liver_dice = liver_dice;
  s.uncertainty = uncertainty;
  s.tumour_voxels_pl1 = v1;
  s.tumour_voxels_pl3 = v3;
  // Nothing to compare on the tumour: the liver (which the exported label takes from PL1) is
  // the evidence left. NaN liver Dice never agrees.
  const double empty_reliability = liver_dice >= p.tau_liver ? p.both_empty_reliability : 0.0;
  if (v1 == 0 && v3 == 0) {
    s.rule = ReliabilityRule::kBothEmpty;
    s.reliability = empty_reliability;
  } else if (v1 == 0 || v3 == 0) {
    const bool small = std::max(v1, v3) < p.small_volume_voxels;
    s.rule = small ? ReliabilityRule::kEmptyVsSmall : ReliabilityRule::kEmptyVsLarge;
    s.reliability = small ? empty_reliability : 0.0;
  } else {
    s.rule = ReliabilityRule::kDice;
    s.reliability = std::isfinite(tumour_dice) ? tumour_dice : 0.0;
  }
  return s;
}

CaseScore score_case(const std::string& id, const LabelMap& pl1, const LabelMap& pl3,
                     std::optional<double> uncertainty, const SelectionParams& p) {
  const std::string diff = pl1.geometry.difference(pl3.geometry);
  if (!diff.empty()) throw InputError(id, "PL1 and PL3 are on different grids: " + diff);
  return score_from_counts(id, metrics::dice(pl3, pl1, kTumourRange), count_in(pl1, kTumourRange),
                           count_in(pl3, kTumourRange), metrics::dice(pl3, pl1, kLiverRange),
                           uncertainty, p);
}

CaseScore score_members(const std::string& id, const std::vector<LabelMap>& members,
                        const SelectionParams& p) {
  if (members.size() < 2)
    throw InputError(id, "member agreement needs at least two ensemble members, got " +
                             std::to_string(members.size()));
  std::optional<CaseScore> worst;
  for (size_t a = 0; a < members.size(); ++a) {
    for (size_t b = a + 1; b < members.size(); ++b) {
      const std::string diff = members[a].geometry.difference(members[b].geometry);
      if (!diff.empty()) throw InputError(id, "ensemble members' labels differ in grid: " + diff);
      CaseScore s = score_case(id, members[a], members[b], std::nullopt, p);
      s.first_name = "member " + std::to_string(a);
      s.second_name = "member " + std::to_string(b);
      if (!worst || s.reliability < worst->reliability) worst = std::move(s);
    }
  }
  return *worst;
}

std::vector<Decision> select(const std::vector<CaseScore>& scores, const SelectionParams& p) {
  validate(p);
  std::set<std::string> ids;
  for (const CaseScore& s : scores)
    if (!ids.insert(s.id).second) throw InputError("", "case '" + s.id + "' is scored twice");

  std::vector<Decision> out;
  out.reserve(scores.size());
  for (const CaseScore& s : scores) out.push_back({s, Verdict::kBelowTau, ""});
  std::sort(out.begin(), out.end(), [](const Decision& a, const Decision& b) {
    if (a.score.reliability != b.score.reliability)
      return a.score.reliability > b.score.reliability;
    return dataset::case_id_less(a.score.id, b.score.id);
  });

  // At least one when any may move at all: with a small pool floor(f * n) would be 0 and the
  // loop would stop although a reliable case exists. The epsilon absorbs 0.3 * 10 = 2.999...
  constexpr double kEps = 1e-9;
  const size_t cap =
      p.max_fraction <= 0.0
          ? 0
          : std::max<size_t>(1, static_cast<size_t>(std::floor(
                                    p.max_fraction * static_cast<double>(scores.size()) + kEps)));
  size_t taken = 0;
  for (Decision& d : out) {
    const CaseScore& s = d.score;
    const std::string why = rule_reason(s, p);
    if (!(s.reliability >= p.tau)) {
      d.verdict = Verdict::kBelowTau;
      d.reason = fmt::format("reliability {:.3f} < tau {:.3f} ({})", s.reliability, p.tau, why);
    } else if (p.max_uncertainty && s.tumour_voxels_pl3 > 0 && !s.uncertainty) {
      d.verdict = Verdict::kMissingUncertainty;
      d.reason = "the uncertainty gate is on and no uncertainty was supplied for PL3's tumour";
    } else if (p.max_uncertainty && s.tumour_voxels_pl3 > 0 &&
               !(*s.uncertainty < *p.max_uncertainty)) {
      d.verdict = Verdict::kUncertain;
      d.reason = fmt::format("uncertainty {:.4f} >= max_uncertainty {:.4f}", *s.uncertainty,
                             *p.max_uncertainty);
    } else if (taken >= cap) {
      d.verdict = Verdict::kOverCap;
      d.reason = fmt::format(
          "reliable ({:.3f}), but this round's cap of {} case(s) "
          "(max_fraction {:.2f} of {}) is reached",
          s.reliability, cap, p.max_fraction, scores.size());
    } else {
      ++taken;
      d.verdict = Verdict::kSelected;
      d.reason = fmt::format("reliability {:.3f} >= tau {:.3f} ({})", s.reliability, p.tau, why);
    }
  }
  // Fill up to min_selected with the most reliable cases below tau (out is sorted by
  // reliability, so they come in order).
  const size_t wanted = std::min(cap, static_cast<size_t>(p.min_selected));
  for (Decision& d : out) {
    if (taken >= wanted) break;
    const CaseScore& s = d.score;
    if (d.verdict != Verdict::kBelowTau || !(s.reliability >= p.tau_min)) continue;
    const bool gated = p.max_uncertainty && s.tumour_voxels_pl3 > 0 &&
                       !(s.uncertainty && *s.uncertainty < *p.max_uncertainty);
    if (gated) continue;
    ++taken;
    d.verdict = Verdict::kSelected;
    d.reason = fmt::format(
        "reliability {:.3f} < tau {:.3f} but >= tau_min {:.3f}, among the min_selected {} most "
        "reliable ({})",
        s.reliability, p.tau, p.tau_min, p.min_selected, rule_reason(s, p));
  }
  return out;
}

}  // namespace aslseg::loop
