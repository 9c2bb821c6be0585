// Selection of reliable pseudo-labels (loop/selection.h): every edge case of the reliability
// rule, the threshold, the per-round cap with ties, the uncertainty gate.
#include "aslseg/loop/selection.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "aslseg/io/error.h"

namespace aslseg::loop {
namespace {

constexpr double kLiverOk = 0.95;
constexpr double kLiverBad = 0.5;

CaseScore dice_score(const std::string& id, double reliability,
                     std::optional<double> uncertainty = {}) {
  return score_from_counts(id, reliability, 1000, 1000, kLiverOk, uncertainty, SelectionParams{});
}

const Decision& find(const std::vector<Decision>& ds, const std::string& id) {
  for (const Decision& d : ds)
    if (d.score.id == id) return d;
  throw std::runtime_error("no decision for " + id);
}

TEST(Selection, BothEmptyDependsOnTheLiver) {
  const SelectionParams p;
  const CaseScore agree = score_from_counts("a", 1.0, 0, 0, kLiverOk, {}, p);
  EXPECT_EQ(agree.rule, ReliabilityRule::kBothEmpty);
  EXPECT_EQ(agree.reliability, 1.0);
  const CaseScore disagree = score_from_counts("b", 1.0, 0, 0, kLiverBad, {}, p);
  EXPECT_EQ(disagree.reliability, 0.0);
  const CaseScore nan_liver =
      score_from_counts("c", 1.0, 0, 0, std::numeric_limits<double>::quiet_NaN(), {}, p);
  EXPECT_EQ(nan_liver.reliability, 0.0);
  SelectionParams q;
  q.both_empty_reliability = 0.85;
  EXPECT_EQ(score_from_counts("d", 1.0, 0, 0, kLiverOk, {}, q).reliability, 0.85);

  const auto ds = select({agree, disagree}, p);
  EXPECT_TRUE(find(ds, "a").selected());
  EXPECT_EQ(find(ds, "b").verdict, Verdict::kBelowTau);
  EXPECT_NE(find(ds, "b").reason.find("liver Dice 0.500 < tau_liver"), std::string::npos)
      << find(ds, "b").reason;
}

TEST(Selection, EmptyVersusSmallIsAgreement) {
  SelectionParams p;
  p.small_volume_voxels = 50;
  for (auto [v1, v3] : {std::pair<int64_t, int64_t>{0, 49}, {49, 0}}) {
    const CaseScore s = score_from_counts("x", 0.0, v1, v3, kLiverOk, {}, p);
    EXPECT_EQ(s.rule, ReliabilityRule::kEmptyVsSmall) << v1 << " " << v3;
    EXPECT_EQ(s.reliability, 1.0);
    EXPECT_EQ(score_from_counts("x", 0.0, v1, v3, kLiverBad, {}, p).reliability, 0.0);
  }
  // small_volume_voxels = 0: any tumour is large.
  p.small_volume_voxels = 0;
  EXPECT_EQ(score_from_counts("x", 0.0, 0, 1, kLiverOk, {}, p).rule,
            ReliabilityRule::kEmptyVsLarge);
}

TEST(Selection, EmptyVersusLargeIsZero) {
  SelectionParams p;
  p.small_volume_voxels = 50;
  for (auto [v1, v3] : {std::pair<int64_t, int64_t>{0, 50}, {5000, 0}}) {
    const CaseScore s = score_from_counts("x", 0.0, v1, v3, kLiverOk, {}, p);
    EXPECT_EQ(s.rule, ReliabilityRule::kEmptyVsLarge);
    EXPECT_EQ(s.reliability, 0.0);
    const auto ds = select({s}, p);
    EXPECT_FALSE(ds[0].selected());
    EXPECT_NE(ds[0].reason.find(v1 > 0 ? "tumour only in PL1" : "tumour only in PL3"),
              std::string::npos)
        << ds[0].reason;
  }
}

TEST(Selection, ExactlyTauIsSelected) {
  SelectionParams p;
  p.tau = 0.8;
  p.max_fraction = 1.0;
  const auto ds = select({dice_score("at", 0.8), dice_score("below", std::nextafter(0.8, 0.0))}, p);
  EXPECT_TRUE(find(ds, "at").selected());
  EXPECT_EQ(find(ds, "below").verdict, Verdict::kBelowTau);
}

TEST(Selection, FractionCapTakesTheBestAndBreaksTiesByNaturalId) {
  SelectionParams p;
  p.tau = 0.5;
  p.max_fraction = 0.3;  // 10 cases -> 3
  std::vector<CaseScore> pool = {
      dice_score("c10", 0.9), dice_score("c2", 0.9), dice_score("c1", 0.95), dice_score("c3", 0.9),
      dice_score("c4", 0.6),  dice_score("c5", 0.2), dice_score("c6", 0.1),  dice_score("c7", 0.3),
      dice_score("c8", 0.4),  dice_score("c9", 0.45)};
  const auto ds = select(pool, p);
  ASSERT_EQ(ds.size(), pool.size());
  // Rank order: c1 (0.95), then the 0.9 tie in natural order c2 < c3 < c10.
  EXPECT_EQ(ds[0].score.id, "c1");
  EXPECT_EQ(ds[1].score.id, "c2");
  EXPECT_EQ(ds[2].score.id, "c3");
  EXPECT_EQ(ds[3].score.id, "c10");
  EXPECT_TRUE(ds[0].selected() && ds[1].selected() && ds[2].selected());
  EXPECT_EQ(find(ds, "c10").verdict, Verdict::kOverCap);
  EXPECT_EQ(find(ds, "c4").verdict, Verdict::kOverCap);
  EXPECT_EQ(find(ds, "c5").verdict, Verdict::kBelowTau);
  int selected = 0;
  for (const Decision& d : ds) selected += d.selected();
  EXPECT_EQ(selected, 3);
}

TEST(Selection, CapIsAtLeastOneAndZeroFractionSelectsNothing) {
  SelectionParams p;
  p.max_fraction = 0.2;  // 3 cases -> floor(0.6) = 0, raised to 1
  const auto ds = select({dice_score("1", 0.9), dice_score("2", 0.95), dice_score("3", 0.85)}, p);
  EXPECT_TRUE(find(ds, "2").selected());
  EXPECT_EQ(find(ds, "1").verdict, Verdict::kOverCap);
  p.max_fraction = 0.0;
  for (const Decision& d : select({dice_score("1", 0.99)}, p)) EXPECT_FALSE(d.selected());
}

TEST(Selection, MinSelectedFillsUpWithTheMostReliableAboveTauMin) {
  SelectionParams p;
  p.tau = 0.7;
  p.max_fraction = 1.0;
  p.min_selected = 2;
  p.tau_min = 0.5;
  // One case reaches tau; the next most reliable (0.69) fills up; 0.6 would too, but two are
  // enough; 0.45 is below tau_min.
  auto ds = select(
      {dice_score("a", 0.9), dice_score("b", 0.6), dice_score("c", 0.69), dice_score("d", 0.45)},
      p);
  EXPECT_TRUE(find(ds, "a").selected());
  EXPECT_TRUE(find(ds, "c").selected());
  EXPECT_NE(find(ds, "c").reason.find("tau_min"), std::string::npos) << find(ds, "c").reason;
  EXPECT_EQ(find(ds, "b").verdict, Verdict::kBelowTau);
  EXPECT_EQ(find(ds, "d").verdict, Verdict::kBelowTau);
  // Nothing at tau: the best one above tau_min; none when all are below it.
  ds = select({dice_score("x", 0.55), dice_score("y", 0.4)}, p);
  EXPECT_TRUE(find(ds, "x").selected());
  EXPECT_FALSE(find(ds, "y").selected());
  for (const Decision& d : select({dice_score("z", 0.49)}, p)) EXPECT_FALSE(d.selected());
  // The cap still holds (2 cases at 0.5 -> 1), and enough at tau need no filling.
  p.max_fraction = 0.5;
  ds = select({dice_score("u", 0.6), dice_score("v", 0.65)}, p);
  EXPECT_TRUE(find(ds, "v").selected());
  EXPECT_FALSE(find(ds, "u").selected());
  p.max_fraction = 1.0;
  ds = select({dice_score("s", 0.8), dice_score("t", 0.75), dice_score("w", 0.6)}, p);
  EXPECT_FALSE(find(ds, "w").selected());
  // The uncertainty gate applies to the filling too.
  p.max_uncertainty = 0.2;
  ds = select({dice_score("g", 0.6, 0.5), dice_score("h", 0.55, 0.1)}, p);
  EXPECT_FALSE(find(ds, "g").selected());
  EXPECT_TRUE(find(ds, "h").selected());
}

TEST(Selection, UncertaintyGate) {
  SelectionParams p;
  p.max_fraction = 1.0;
  p.max_uncertainty = 0.2;
  const CaseScore empty = score_from_counts("empty", 1.0, 0, 0, kLiverOk, {}, p);
  const auto ds = select({dice_score("low", 0.9, 0.1), dice_score("equal", 0.9, 0.2),
                          dice_score("high", 0.9, 0.5), dice_score("none", 0.9), empty},
                         p);
  EXPECT_TRUE(find(ds, "low").selected());
  EXPECT_EQ(find(ds, "equal").verdict, Verdict::kUncertain);  // strictly below
  EXPECT_EQ(find(ds, "high").verdict, Verdict::kUncertain);
  EXPECT_EQ(find(ds, "none").verdict, Verdict::kMissingUncertainty);
  EXPECT_TRUE(find(ds, "empty").selected()) << "no tumour, no tumour entropy to gate on";
  // Gated cases do not use up the cap.
  p.max_fraction = 0.2;  // 5 cases -> 1
  const auto capped =
      select({dice_score("a", 0.99, 0.9), dice_score("b", 0.9, 0.1), dice_score("c", 0.8, 0.1),
              dice_score("d", 0.1), dice_score("e", 0.1)},
             p);
  EXPECT_EQ(find(capped, "a").verdict, Verdict::kUncertain);
  EXPECT_TRUE(find(capped, "b").selected());
  EXPECT_EQ(find(capped, "c").verdict, Verdict::kOverCap);
  // Without the gate the number is ignored.
  p.max_uncertainty.reset();
  p.max_fraction = 1.0;
  EXPECT_TRUE(select({dice_score("x", 0.9, 5.0)}, p)[0].selected());
}

TEST(Selection, NoCandidates) {
  const SelectionParams p;
  EXPECT_TRUE(select({}, p).empty());
  const auto ds = select({dice_score("a", 0.1), dice_score("b", 0.79)}, p);
  for (const Decision& d : ds) EXPECT_EQ(d.verdict, Verdict::kBelowTau);
  EXPECT_THROW(select({dice_score("a", 0.9), dice_score("a", 0.8)}, p), InputError);
}

TEST(Selection, ScoreCaseFromLabelMaps) {
  Geometry g;
  g.size = {10, 10, 2};
  LabelMap pl1(g, kBackground), pl3(g, kBackground);
  for (int64_t x = 0; x < 10; ++x)
    for (int64_t y = 0; y < 10; ++y) {
      pl1.at(x, y, 0) = kLiver;
      pl3.at(x, y, 0) = kLiver;
    }
  for (int64_t x = 2; x < 6; ++x) pl1.at(x, 5, 0) = kTumour;  // 4 voxels
  for (int64_t x = 4; x < 8; ++x) pl3.at(x, 5, 0) = kTumour;  // 4 voxels, 2 shared
  pl3.at(0, 0, 1) = kLiver;                                   // liver 101 vs 100
  SelectionParams p;
  p.small_volume_voxels = 2;
  const CaseScore s = score_case("7", pl1, pl3, 0.3, p);
  EXPECT_EQ(s.rule, ReliabilityRule::kDice);
  EXPECT_DOUBLE_EQ(s.reliability, 0.5);
  EXPECT_DOUBLE_EQ(s.liver_dice, 2.0 * 100 / 201);
  EXPECT_EQ(s.tumour_voxels_pl1, 4);
  EXPECT_EQ(s.tumour_voxels_pl3, 4);
  EXPECT_EQ(*s.uncertainty, 0.3);
  Geometry other = g;
  other.spacing[2] = 2.0;
  EXPECT_THROW(score_case("7", pl1, LabelMap(other), {}, p), InputError);
}

// Member agreement: the pair of ensemble members that agrees least decides, with the same
// rule as PL3 against PL1, and the reason names the members.
TEST(Selection, MembersScoreIsTheLeastAgreeingPair) {
  Geometry g;
  g.size = {10, 10, 1};
  LabelMap a(g, kLiver), b(g, kLiver), c(g, kLiver);
  for (int64_t x = 0; x < 4; ++x) a.at(x, 5, 0) = kTumour;  // a: x 0-3
  for (int64_t x = 0; x < 4; ++x) b.at(x, 5, 0) = kTumour;  // b = a: Dice 1
  for (int64_t x = 2; x < 6; ++x) c.at(x, 5, 0) = kTumour;  // c: 2 of 4 shared with a and b
  SelectionParams p;
  p.small_volume_voxels = 2;
  const CaseScore two = score_members("9", {a, b}, p);
  EXPECT_DOUBLE_EQ(two.reliability, 1.0);
  const CaseScore three = score_members("9", {a, b, c}, p);
  EXPECT_DOUBLE_EQ(three.reliability, 0.5);
  EXPECT_EQ(three.rule, ReliabilityRule::kDice);
  EXPECT_EQ(three.first_name, "member 0");
  EXPECT_EQ(three.second_name, "member 2");
  const std::vector<Decision> ds = select({three}, p);
  EXPECT_NE(ds[0].reason.find("member 0 and member 2"), std::string::npos) << ds[0].reason;
  // One member sees a large lesion the other does not: 0, as for PL1 against PL3.
  LabelMap empty(g, kLiver);
  p.small_volume_voxels = 3;
  EXPECT_EQ(score_members("9", {a, empty}, p).rule, ReliabilityRule::kEmptyVsLarge);
  EXPECT_DOUBLE_EQ(score_members("9", {a, empty}, p).reliability, 0.0);
  EXPECT_THROW(score_members("9", {a}, p), InputError);
  Geometry other = g;
  other.size = {10, 10, 2};
  EXPECT_THROW(score_members("9", {a, LabelMap(other, kLiver)}, p), InputError);
}

TEST(Selection, RejectsImpossibleParams) {
  SelectionParams p;
  p.tau = 1.2;
  EXPECT_THROW(select({}, p), InputError);
  p = SelectionParams{};
  p.max_fraction = -0.1;
  EXPECT_THROW(validate(p), InputError);
  p = SelectionParams{};
  p.max_uncertainty = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(validate(p), InputError);
}

}  // namespace
}  // namespace aslseg::loop
