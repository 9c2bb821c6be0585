// What a phantom looks like: HU of liver and tumours by kind, variety across seeds, a liver
// that changes along z, noise, and the surrounding anatomy.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <vector>

#include "aslseg/synth/phantom.h"

namespace aslseg::synth {
namespace {

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

std::vector<double> values_with_label(const Phantom& ph, uint8_t label) {
  std::vector<double> out;
  for (size_t v = 0; v < ph.ct.voxels.size(); ++v)
    if (ph.labels.voxels[v] == label) out.push_back(ph.ct.voxels[v]);
  return out;
}

// Mean HU of the label-2 voxels of one lesion (those within its bounding sphere).
double lesion_mean(const Phantom& ph, const TumourInfo& t) {
  const Geometry& g = ph.ct.geometry;
  double sum = 0.0;
  int64_t n = 0;
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t j = 0; j < g.size[1]; ++j)
      for (int64_t i = 0; i < g.size[0]; ++i) {
        if (ph.labels.at(i, j, k) != kTumour) continue;
        const double d[3] = {(i - t.centre_index[0]) * g.spacing[0],
                             (j - t.centre_index[1]) * g.spacing[1],
                             (k - t.centre_index[2]) * g.spacing[2]};
        if (std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) > t.max_radius_mm) continue;
        sum += ph.ct.at(i, j, k);
        ++n;
      }
  return n > 0 ? sum / static_cast<double>(n) : NAN;
}

TEST(SynthContent, LiverHuIsInItsDocumentedRange) {
  for (uint64_t seed = 0; seed < 8; ++seed) {
    const Phantom ph = make_phantom(PhantomParams{}, seed);
    EXPECT_GE(ph.info.liver_hu, hu::kLiverMin);
    EXPECT_LE(ph.info.liver_hu, hu::kLiverMax);
    // Measured: noise averages out; the bias field (+-8 HU) and vessels shift it a little.
    const double m = median(values_with_label(ph, kLiver));
    EXPECT_GE(m, hu::kLiverMin - 10.0) << "seed " << seed;
    EXPECT_LE(m, hu::kLiverMax + 10.0) << "seed " << seed;
  }
}

TEST(SynthContent, TumourContrastFollowsItsKind) {
  // Documented (docs/synth.md): lesion mean minus liver median is below -15 HU for
  // hypodense lesions (rims included), above +25 for hyperdense, within [-25, +8] for
  // nearly isodense ones. Checked on lesions large enough for the mean to be stable.
  constexpr int64_t kMinVoxels = 20;
  std::set<TumourKind> seen;
  for (uint64_t seed = 0; seed < 16; ++seed) {
    const Phantom ph = make_phantom(PhantomParams{}, seed);
    const double liver = median(values_with_label(ph, kLiver));
    for (const TumourInfo& t : ph.info.tumours) {
      switch (t.kind) {
        case TumourKind::kHypodense:
          EXPECT_GE(t.contrast_hu, hu::kHypoContrastMin);
          EXPECT_LE(t.contrast_hu, hu::kHypoContrastMax);
          break;
        case TumourKind::kIsodense:
          EXPECT_GE(t.contrast_hu, hu::kIsoContrastMin);
          EXPECT_LE(t.contrast_hu, hu::kIsoContrastMax);
          break;
        case TumourKind::kHyperdense:
          EXPECT_GE(t.contrast_hu, hu::kHyperContrastMin);
          EXPECT_LE(t.contrast_hu, hu::kHyperContrastMax);
          break;
      }
      if (t.voxels < kMinVoxels) continue;
      seen.insert(t.kind);
      const double diff = lesion_mean(ph, t) - liver;
      const std::string where = "seed " + std::to_string(seed) + " " + to_string(t.kind);
      if (t.kind == TumourKind::kHypodense) EXPECT_LT(diff, -15.0) << where;
      if (t.kind == TumourKind::kHyperdense) EXPECT_GT(diff, 25.0) << where;
      if (t.kind == TumourKind::kIsodense) {
        EXPECT_GT(diff, -25.0) << where;
        EXPECT_LT(diff, 8.0) << where;
      }
    }
  }
  EXPECT_EQ(seen.size(), 3u) << "every kind should occur with a measurable lesion";
}

TEST(SynthContent, TumourCountSizeAndPlacementVaryAcrossSeeds) {
  int none = 0, several = 0, tiny = 0, at_edge = 0;
  std::set<size_t> counts;
  double smallest = 1e9, largest = 0.0;
  for (uint64_t seed = 100; seed < 120; ++seed) {
    const Phantom ph = make_phantom(PhantomParams{}, seed);
    const size_t n = ph.info.tumours.size();
    counts.insert(n);
    none += n == 0;
    several += n >= 2;
    if (n == 0) EXPECT_EQ(ph.info.tumour_voxels, 0);
    for (const TumourInfo& t : ph.info.tumours) {
      smallest = std::min(smallest, t.radius_mm);
      largest = std::max(largest, t.radius_mm);
      tiny += t.voxels <= 30;
      at_edge += t.at_edge;
      EXPECT_GT(t.voxels, 0);
    }
  }
  EXPECT_GE(none, 1);
  EXPECT_GE(several, 1);
  EXPECT_GE(counts.size(), 4u);
  EXPECT_GT(largest, 4.0 * smallest);
  EXPECT_GE(tiny, 1) << "tiny lesions make the task hard";
  EXPECT_GE(at_edge, 1);
}

TEST(SynthContent, LiverIsNotACylinder) {
  std::set<int64_t> first_slices;
  for (uint64_t seed = 0; seed < 6; ++seed) {
    const Phantom ph = make_phantom(PhantomParams{}, seed);
    const Geometry& g = ph.labels.geometry;
    // Starts and ends inside the volume.
    EXPECT_GT(ph.info.liver_first_slice, 0);
    EXPECT_LT(ph.info.liver_last_slice, g.size[2] - 1);
    first_slices.insert(ph.info.liver_first_slice);
    std::vector<double> area(static_cast<size_t>(g.size[2]), 0.0), cx(area.size(), 0.0);
    for (int64_t k = 0; k < g.size[2]; ++k)
      for (int64_t j = 0; j < g.size[1]; ++j)
        for (int64_t i = 0; i < g.size[0]; ++i)
          if (ph.labels.at(i, j, k) != kBackground) {
            area[static_cast<size_t>(k)] += 1.0;
            cx[static_cast<size_t>(k)] += static_cast<double>(i);
          }
    const auto f = static_cast<size_t>(ph.info.liver_first_slice);
    const auto l = static_cast<size_t>(ph.info.liver_last_slice);
    const double peak = *std::max_element(area.begin(), area.end());
    EXPECT_GT(peak, 3.0 * area[f]) << "seed " << seed;
    EXPECT_GT(peak, 3.0 * area[l]) << "seed " << seed;
    // The outline moves across slices (lobes at different heights), not just shrinks.
    double lo = 1e9, hi = -1e9;
    for (size_t k = f; k <= l; ++k) {
      if (area[k] < 0.2 * peak) continue;
      lo = std::min(lo, cx[k] / area[k]);
      hi = std::max(hi, cx[k] / area[k]);
    }
    EXPECT_GT(hi - lo, 2.0) << "seed " << seed;
  }
  EXPECT_GE(first_slices.size(), 2u);
}

TEST(SynthContent, NoiseIsPresentAndSizedAsReported) {
  PhantomParams p;
  p.noise_sigma_min = p.noise_sigma_max = 15.0;
  p.bias_hu = 0.0;
  const Phantom ph = make_phantom(p, 21);
  EXPECT_EQ(ph.info.noise_sigma, 15.0);
  // Soft tissue with no structure: the difference of x-neighbours inside the liver has
  // variance 2 sigma^2 plus a little texture and vessel edges.
  const Geometry& g = ph.ct.geometry;
  double sum2 = 0.0;
  int64_t n = 0;
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t j = 0; j < g.size[1]; ++j)
      for (int64_t i = 0; i + 1 < g.size[0]; ++i)
        if (ph.labels.at(i, j, k) == kLiver && ph.labels.at(i + 1, j, k) == kLiver) {
          const double d = ph.ct.at(i + 1, j, k) - ph.ct.at(i, j, k);
          if (std::fabs(d) > 100.0) continue;  // a vessel edge
          sum2 += d * d;
          ++n;
        }
  ASSERT_GT(n, 1000);
  const double sigma = std::sqrt(sum2 / static_cast<double>(n) / 2.0);
  EXPECT_NEAR(sigma, 15.0, 2.0);
}

TEST(SynthContent, AnatomyAroundTheLiverIsCtLike) {
  const Phantom ph = make_phantom(PhantomParams{}, 3);
  const Geometry& g = ph.ct.geometry;
  int64_t air = 0, fat = 0, bone = 0, vessel = 0, body = 0;
  double bone_y = 0.0, liver_x = 0.0;
  int64_t liver_n = 0;
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t j = 0; j < g.size[1]; ++j)
      for (int64_t i = 0; i < g.size[0]; ++i) {
        const float v = ph.ct.at(i, j, k);
        const uint8_t l = ph.labels.at(i, j, k);
        if (v > -2000.0f && v < -900.0f) ++air;
        if (v > -500.0f) ++body;
        if (v > -160.0f && v < -40.0f) ++fat;
        if (v > 300.0f) {
          ++bone;
          bone_y += static_cast<double>(j);
        }
        if (l == kLiver && v > 120.0f) ++vessel;
        if (l != kBackground) {
          liver_x += static_cast<double>(i);
          ++liver_n;
        }
      }
  EXPECT_GT(air, 0);
  EXPECT_GT(fat, body / 20) << "subcutaneous and visceral fat";
  ASSERT_GT(bone, 0);
  // LPS with identity direction: +y is posterior, +x the patient's left.
  EXPECT_GT(bone_y / bone, 0.6 * g.size[1]) << "the spine lies posterior";
  EXPECT_LT(liver_x / liver_n, 0.5 * g.size[0]) << "the liver lies on the patient's right";
  EXPECT_GT(vessel, 10) << "contrast-enhanced vessels inside the liver";
}

}  // namespace
}  // namespace aslseg::synth
