// Dice, Jaccard, HD95 and ASD on small masks whose values are worked out by hand (comments
// show the working), plus the whole pipeline against brute force on random masks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "aslseg/io/error.h"
#include "aslseg/metrics/binary_metrics.h"
#include "metrics/brute_force.h"

namespace aslseg::metrics {
namespace {

constexpr double kTol = 1e-12;

LabelMap empty_map(const std::array<int64_t, 3>& size, const std::array<double, 3>& spacing) {
  Geometry g;
  g.size = size;
  g.spacing = spacing;
  return LabelMap(g, 0);
}

void fill_box(LabelMap& m, const std::array<int64_t, 3>& lo, const std::array<int64_t, 3>& hi,
              uint8_t value = 1) {
  for (int64_t z = lo[2]; z <= hi[2]; ++z)
    for (int64_t y = lo[1]; y <= hi[1]; ++y)
      for (int64_t x = lo[0]; x <= hi[0]; ++x) m.at(x, y, z) = value;
}

TEST(MetricPercentile, LinearInterpolationLikeNumpy) {
  // Sorted 0,10,20,30: rank = 0.95 * 3 = 2.85 -> 20 + 0.85 * 10 = 28.5 (nearest-rank gives 30).
  EXPECT_NEAR(percentile({10, 0, 30, 20}, 95), 28.5, kTol);
  EXPECT_NEAR(percentile({10, 0, 30, 20}, 50), 15.0, kTol);  // rank 1.5
  EXPECT_NEAR(percentile({10, 0, 30, 20}, 10), 3.0, kTol);   // rank 0.3, the t < 0.5 branch
  EXPECT_EQ(percentile({10, 0, 30, 20}, 0), 0.0);
  EXPECT_EQ(percentile({10, 0, 30, 20}, 100), 30.0);
  EXPECT_EQ(percentile({4.5}, 95), 4.5);
  EXPECT_TRUE(std::isnan(percentile({}, 95)));
}

TEST(MetricBinary, CubesOffsetByOneVoxelAnisotropic) {
  // gt = cube x,y,z in [2,5] (64 voxels), pred = the same cube moved +1 in x; spacing x = 2 mm.
  LabelMap gt = empty_map({10, 10, 10}, {2.0, 1.0, 1.0});
  LabelMap pred = gt;
  fill_box(gt, {2, 2, 2}, {5, 5, 5});
  fill_box(pred, {3, 2, 2}, {6, 5, 5});
  const BinaryMetrics m = compare_masks(pred, gt);
  // Overlap x in [3,5]: 3*4*4 = 48. Dice = 2*48/128, Jaccard = 48/(128-48).
  EXPECT_NEAR(m.dice, 0.75, kTol);
  EXPECT_NEAR(dice(pred, gt), 0.75, kTol) << "the Dice-only function agrees";
  EXPECT_EQ(dice(LabelMap(gt.geometry, 0), LabelMap(gt.geometry, 0)), 1.0) << "both empty";
  EXPECT_EQ(dice(pred, LabelMap(gt.geometry, 0)), 0.0) << "one empty";
  EXPECT_NEAR(m.jaccard, 0.6, kTol);
  EXPECT_EQ(m.pred_voxels, 64);
  EXPECT_EQ(m.gt_voxels, 64);

  // Each cube has 64 - 2^3 = 56 surface voxels. pred -> gt: the 16 voxels of pred's x=6 face
  // are 2 mm (one x step) from gt's x=5 face; the 4 face-interior voxels of pred's x=3 face lie
  // inside gt, 1 mm (one y or z step) from gt's y/z faces and 2 mm from its x=2 face; the other
  // 36 are on gt's surface too (distance 0). gt -> pred mirrors this.
  const SurfaceDistances d = surface_distances(pred, gt);
  ASSERT_EQ(d.pred_to_gt.size(), 56u);
  ASSERT_EQ(d.gt_to_pred.size(), 56u);
  std::vector<double> sorted = d.pred_to_gt;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::count(sorted.begin(), sorted.end(), 0.0), 36);
  EXPECT_EQ(std::count(sorted.begin(), sorted.end(), 1.0), 4);
  EXPECT_EQ(std::count(sorted.begin(), sorted.end(), 2.0), 16);
  // HD95: rank 0.95 * 55 = 52.25 falls among the 2 mm values (indices 40..55).
  EXPECT_NEAR(m.hd95, 2.0, kTol);
  // ASD over both sets: (2 * (16 * 2 + 4 * 1)) / 112 = 72 / 112.
  EXPECT_NEAR(m.asd, 72.0 / 112.0, kTol);
}

TEST(MetricBinary, SingleVoxelsThreeApartInZ) {
  // 3 slices apart at 2.5 mm: every distance is 7.5 mm.
  LabelMap gt = empty_map({5, 5, 8}, {0.5, 0.7, 2.5});
  LabelMap pred = gt;
  gt.at(2, 2, 1) = 1;
  pred.at(2, 2, 4) = 1;
  const BinaryMetrics m = compare_masks(pred, gt);
  EXPECT_NEAR(m.hd95, 7.5, kTol);
  EXPECT_NEAR(m.asd, 7.5, kTol);
  EXPECT_EQ(m.dice, 0.0);
  EXPECT_EQ(m.jaccard, 0.0);
}

TEST(MetricBinary, NearestSurfacePointChangesWithSpacing) {
  // pred: one voxel at (5,5,5). gt: (7,5,5) (two x steps) and (5,5,6) (one z step).
  LabelMap iso = empty_map({12, 12, 12}, {1.0, 1.0, 1.0});
  iso.at(7, 5, 5) = 1;
  iso.at(5, 5, 6) = 1;
  LabelMap pred_iso = empty_map({12, 12, 12}, {1.0, 1.0, 1.0});
  pred_iso.at(5, 5, 5) = 1;
  // Isotropic: pred->gt = {1} (the z neighbour); gt->pred = {2, 1}.
  // HD95 = max(1, p95{1,2} = 1 + 0.95) = 1.95; ASD = (1 + 2 + 1) / 3.
  BinaryMetrics m = compare_masks(pred_iso, iso);
  EXPECT_NEAR(m.hd95, 1.95, kTol);
  EXPECT_NEAR(m.asd, 4.0 / 3.0, kTol);

  // z spacing 3 mm: the x voxel (2 mm) becomes the nearest. pred->gt = {2}; gt->pred = {2, 3}.
  // HD95 = max(2, 2 + 0.95) = 2.95; ASD = (2 + 2 + 3) / 3.
  LabelMap aniso = iso, pred_aniso = pred_iso;
  aniso.geometry.spacing = pred_aniso.geometry.spacing = {1.0, 1.0, 3.0};
  m = compare_masks(pred_aniso, aniso);
  EXPECT_NEAR(m.hd95, 2.95, kTol);
  EXPECT_NEAR(m.asd, 7.0 / 3.0, kTol);
  const SurfaceDistances d = surface_distances(pred_aniso, aniso);
  ASSERT_EQ(d.pred_to_gt.size(), 1u);
  EXPECT_NEAR(d.pred_to_gt[0], 2.0, kTol);
}

TEST(MetricBinary, Percentile95BetweenTwoDistances) {
  // pred: a line of 11 voxels x = 0..10 (all surface); gt: the voxel x = 0. With x spacing
  // 0.8 mm, pred->gt = {0, 0.8, ..., 8.0}: rank 0.95 * 10 = 9.5 -> 9.5 * 0.8 = 7.6 mm
  // (nearest-rank would give 8.0 or 7.2). gt->pred = {0}.
  LabelMap gt = empty_map({11, 3, 3}, {0.8, 1.0, 1.0});
  LabelMap pred = gt;
  fill_box(pred, {0, 1, 1}, {10, 1, 1});
  gt.at(0, 1, 1) = 1;
  const BinaryMetrics m = compare_masks(pred, gt);
  EXPECT_NEAR(m.hd95, 7.6, kTol);
  // ASD: (0.8 * (0 + 1 + ... + 10) + 0) / 12 = 0.8 * 55 / 12.
  EXPECT_NEAR(m.asd, 0.8 * 55.0 / 12.0, kTol);
  EXPECT_NEAR(m.dice, 2.0 / 12.0, kTol);
}

TEST(MetricBinary, EmptyMaskConventions) {
  const LabelMap none = empty_map({6, 6, 6}, {1, 1, 1});
  LabelMap some = none;
  fill_box(some, {1, 1, 1}, {2, 2, 2});

  const BinaryMetrics both_empty = compare_masks(none, none);
  EXPECT_EQ(both_empty.dice, 1.0);
  EXPECT_EQ(both_empty.jaccard, 1.0);
  EXPECT_EQ(both_empty.hd95, 0.0);
  EXPECT_EQ(both_empty.asd, 0.0);

  for (const auto& [pred, gt] : {std::make_pair(none, some), std::make_pair(some, none)}) {
    const BinaryMetrics m = compare_masks(pred, gt);
    EXPECT_EQ(m.dice, 0.0);
    EXPECT_EQ(m.jaccard, 0.0);
    EXPECT_TRUE(std::isnan(m.hd95));
    EXPECT_TRUE(std::isnan(m.asd));
    EXPECT_EQ(m.pred_voxels + m.gt_voxels, 8);
  }
}

TEST(MetricBinary, LabelRangeSelectsTheClass) {
  // Same box, but labelled 2 in pred and 1 in gt: identical as foreground, disjoint as label 2.
  LabelMap gt = empty_map({6, 6, 6}, {1, 1, 1});
  LabelMap pred = gt;
  fill_box(gt, {1, 1, 1}, {3, 3, 3}, 1);
  fill_box(pred, {1, 1, 1}, {3, 3, 3}, 2);
  EXPECT_EQ(compare_masks(pred, gt, kForeground).dice, 1.0);
  EXPECT_EQ(compare_masks(pred, gt, LabelRange{2, 2}).dice, 0.0);
}

TEST(MetricBinary, DifferentSizesAreRefused) {
  EXPECT_THROW(compare_masks(empty_map({4, 4, 4}, {1, 1, 1}), empty_map({4, 4, 5}, {1, 1, 1})),
               InputError);
}

// --- the whole pipeline against brute force -------------------------------------------

using testing::is_surface;

std::vector<std::array<int64_t, 3>> surface_list(const LabelMap& m) {
  std::vector<std::array<int64_t, 3>> out;
  const auto& s = m.geometry.size;
  for (int64_t z = 0; z < s[2]; ++z)
    for (int64_t y = 0; y < s[1]; ++y)
      for (int64_t x = 0; x < s[0]; ++x)
        if (is_surface(m, x, y, z)) out.push_back({x, y, z});
  return out;
}

std::vector<double> brute_directed(const LabelMap& from, const LabelMap& to) {
  const auto a = surface_list(from), b = surface_list(to);
  const auto& sp = from.geometry.spacing;
  std::vector<double> out;
  for (const auto& p : a) {
    double best = std::numeric_limits<double>::infinity();
    for (const auto& q : b) {
      double s = 0;
      for (int k = 0; k < 3; ++k) s += std::pow((p[k] - q[k]) * sp[k], 2);
      best = std::min(best, std::sqrt(s));
    }
    out.push_back(best);
  }
  return out;
}

// Sorted-array percentile, written independently of percentile().
double sorted_percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double rank = q / 100.0 * (v.size() - 1);
  const size_t i = static_cast<size_t>(rank);
  if (i + 1 >= v.size()) return v.back();
  return v[i] + (rank - i) * (v[i + 1] - v[i]);
}

// Random blobs: a few random boxes, some touching the volume border.
LabelMap random_blobs(const std::array<int64_t, 3>& size, const std::array<double, 3>& sp,
                      std::mt19937& rng) {
  LabelMap m = empty_map(size, sp);
  for (int b = 0; b < 4; ++b) {
    std::array<int64_t, 3> lo, hi;
    for (int k = 0; k < 3; ++k) {
      std::uniform_int_distribution<int64_t> pos(0, size[k] - 1);
      lo[k] = pos(rng);
      hi[k] = std::min(size[k] - 1, lo[k] + pos(rng) / 2);
    }
    fill_box(m, lo, hi);
  }
  return m;
}

TEST(MetricBinary, MatchesBruteForceOnRandomBlobs) {
  std::mt19937 rng(3);
  const std::array<int64_t, 3> size{13, 11, 9};
  const std::array<double, 3> sp{0.6, 0.9, 2.7};
  for (int trial = 0; trial < 20; ++trial) {
    const LabelMap pred = random_blobs(size, sp, rng), gt = random_blobs(size, sp, rng);
    const auto pg = brute_directed(pred, gt), gp = brute_directed(gt, pred);
    const BinaryMetrics m = compare_masks(pred, gt);
    const double hd95 = std::max(sorted_percentile(pg, 95), sorted_percentile(gp, 95));
    double sum = 0;
    for (double v : pg) sum += v;
    for (double v : gp) sum += v;
    EXPECT_NEAR(m.hd95, hd95, 1e-9) << "trial " << trial;
    EXPECT_NEAR(m.asd, sum / (pg.size() + gp.size()), 1e-9) << "trial " << trial;
    const SurfaceDistances d = surface_distances(pred, gt);
    EXPECT_EQ(d.pred_to_gt.size(), pg.size());
    EXPECT_EQ(d.gt_to_pred.size(), gp.size());
  }
}

TEST(MetricBinary, CropGivesTheFullVolumeResult) {
  // Masks touching the border of a small volume vs the same masks inside a larger volume:
  // border voxels are surface either way, so every metric must agree.
  std::mt19937 rng(5);
  const std::array<double, 3> sp{1.1, 0.7, 1.9};
  const LabelMap pred = random_blobs({8, 8, 8}, sp, rng), gt = random_blobs({8, 8, 8}, sp, rng);
  LabelMap big_pred = empty_map({14, 14, 14}, sp), big_gt = big_pred;
  for (int64_t z = 0; z < 8; ++z)
    for (int64_t y = 0; y < 8; ++y)
      for (int64_t x = 0; x < 8; ++x) {
        big_pred.at(x + 3, y + 3, z + 3) = pred.at(x, y, z);
        big_gt.at(x + 3, y + 3, z + 3) = gt.at(x, y, z);
      }
  const BinaryMetrics a = compare_masks(pred, gt), b = compare_masks(big_pred, big_gt);
  EXPECT_DOUBLE_EQ(a.dice, b.dice);
  EXPECT_NEAR(a.hd95, b.hd95, 1e-12);
  EXPECT_NEAR(a.asd, b.asd, 1e-12);
  EXPECT_NEAR(a.hd95,
              std::max(sorted_percentile(brute_directed(pred, gt), 95),
                       sorted_percentile(brute_directed(gt, pred), 95)),
              1e-9);
}

}  // namespace
}  // namespace aslseg::metrics
