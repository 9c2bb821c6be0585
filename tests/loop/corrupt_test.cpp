// Pseudo-label corruptions (loop/corrupt.h) on hand-made masks: each kind does what it says
// and nothing else, and the mix is deterministic in (seed, case, slice).
#include "aslseg/loop/corrupt.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "aslseg/io/error.h"
#include "aslseg/preprocess/connected_components.h"

namespace aslseg::loop {
namespace {

Mask2D disc(int64_t w, int64_t h, double cx, double cy, double r, Mask2D m = {}) {
  if (m.width == 0) m = Mask2D(w, h);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      if (std::hypot(x - cx, y - cy) <= r) m.set(x, y, 1);
  return m;
}

int32_t components(const Mask2D& m) {
  return preprocess::label_components_2d(m.pixels.data(), m.width, m.height,
                                         preprocess::Connectivity2D::k8)
      .count();
}

bool subset(const Mask2D& a, const Mask2D& b) {  // a ⊆ b
  for (size_t i = 0; i < a.pixels.size(); ++i)
    if (a.pixels[i] && !b.pixels[i]) return false;
  return true;
}

double dice(const Mask2D& a, const Mask2D& b) {
  int64_t both = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) both += a.pixels[i] && b.pixels[i];
  return 2.0 * static_cast<double>(both) / static_cast<double>(a.count() + b.count());
}

std::pair<double, double> centroid(const Mask2D& m) {
  double sx = 0, sy = 0;
  for (int64_t y = 0; y < m.height; ++y)
    for (int64_t x = 0; x < m.width; ++x)
      if (m.at(x, y)) {
        sx += static_cast<double>(x);
        sy += static_cast<double>(y);
      }
  return {sx / static_cast<double>(m.count()), sy / static_cast<double>(m.count())};
}

CorruptionParams none() {
  CorruptionParams p;
  p.p_drop = p.p_split = p.p_merge = p.p_erode = p.p_dilate = p.p_elastic = p.p_shift = p.p_blob =
      0.0;
  return p;
}

TEST(Corrupt, ErodeShrinksAndStaysInside) {
  const Mask2D m = disc(40, 40, 20, 20, 8);
  const Mask2D e = erode(m, 2);
  EXPECT_TRUE(subset(e, m));
  EXPECT_LT(e.count(), m.count());
  EXPECT_GT(e.count(), 0);
  // The Euclidean disc of radius 1 is the cross: a 3x3 square erodes to its centre only.
  Mask2D sq(7, 7);
  for (int64_t y = 2; y <= 4; ++y)
    for (int64_t x = 2; x <= 4; ++x) sq.set(x, y, 1);
  const Mask2D c = erode(sq, 1);
  EXPECT_EQ(c.count(), 1);
  EXPECT_EQ(c.at(3, 3), 1);
  EXPECT_EQ(erode(sq, 0).pixels, sq.pixels);
  // The slice edge counts as background.
  Mask2D full(5, 5, 1);
  EXPECT_EQ(erode(full, 1).count(), 9);
}

TEST(Corrupt, DilateGrowsAndContains) {
  const Mask2D m = disc(40, 40, 20, 20, 6);
  const Mask2D d = dilate(m, 2);
  EXPECT_TRUE(subset(m, d));
  EXPECT_GT(d.count(), m.count());
  Mask2D dot(9, 9);
  dot.set(4, 4, 1);
  EXPECT_EQ(dilate(dot, 1).count(), 5);    // cross
  EXPECT_EQ(dilate(dot, 1.5).count(), 9);  // 3x3
  EXPECT_EQ(dilate(dot, 2).count(), 13);
}

TEST(Corrupt, ShiftMovesTheCentroidByTheAmount) {
  const Mask2D m = disc(40, 40, 18, 21, 5);
  const Mask2D s = shift(m, 3, -2);
  EXPECT_EQ(s.count(), m.count());
  const auto [x0, y0] = centroid(m);
  const auto [x1, y1] = centroid(s);
  EXPECT_DOUBLE_EQ(x1 - x0, 3.0);
  EXPECT_DOUBLE_EQ(y1 - y0, -2.0);
  // What leaves the slice is lost, nothing wraps around.
  const Mask2D out = shift(m, 30, 0);
  EXPECT_LT(out.count(), m.count());
  for (int64_t y = 0; y < 40; ++y)
    for (int64_t x = 0; x < 20; ++x) EXPECT_EQ(out.at(x, y), 0);
}

TEST(Corrupt, ElasticChangesTheBoundaryWithinTheDiceBand) {
  const Mask2D m = disc(48, 48, 24, 24, 10);
  const CorruptionParams p;
  for (uint64_t key = 1; key <= 20; ++key) {
    const Mask2D e = elastic(m, p.elastic_amplitude, p.elastic_grid, key);
    EXPECT_NE(e.pixels, m.pixels) << key;
    const double d = dice(e, m);
    // The band documented in docs/corruptions.md for the default amplitude on a lesion of
    // radius 10 px.
    EXPECT_GE(d, 0.80) << key;
    EXPECT_LE(d, 0.99) << key;
    EXPECT_EQ(elastic(m, p.elastic_amplitude, p.elastic_grid, key).pixels, e.pixels);
  }
  EXPECT_EQ(elastic(m, 0.0, 8, 3).pixels, m.pixels);  // no amplitude, no change
}

TEST(Corrupt, DropRemovesExactlyOneComponent) {
  Mask2D m = disc(60, 30, 10, 15, 4);
  m = disc(60, 30, 30, 15, 5, m);
  m = disc(60, 30, 50, 15, 3, m);
  std::set<int64_t> sizes;
  for (uint64_t seed = 0; seed < 12; ++seed) {
    Mask2D d = m;
    synth::Rng rng(seed);
    ASSERT_TRUE(drop_component(d, rng));
    EXPECT_EQ(components(d), 2);
    EXPECT_TRUE(subset(d, m));
    sizes.insert(m.count() - d.count());
  }
  EXPECT_EQ(sizes.size(), 3u) << "each of the three lesions gets dropped for some seed";
  Mask2D empty(10, 10);
  synth::Rng rng(0);
  EXPECT_FALSE(drop_component(empty, rng));
}

TEST(Corrupt, BlobAddsOneSeparateComponentInTheLiver) {
  Mask2D m = disc(64, 64, 20, 20, 5);
  const Mask2D liver = disc(64, 64, 32, 32, 22);
  const CorruptionParams p;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    Mask2D b = m;
    synth::Rng rng(seed);
    ASSERT_TRUE(add_blob(b, &liver, p, rng));
    EXPECT_EQ(components(b), 2) << seed;
    EXPECT_TRUE(subset(m, b));
    bool centre_in_liver = false;
    for (size_t i = 0; i < b.pixels.size(); ++i)
      if (b.pixels[i] && !m.pixels[i]) centre_in_liver = centre_in_liver || liver.pixels[i];
    EXPECT_TRUE(centre_in_liver);
  }
  // A slice without liver gets no false blob; without a liver mask it goes near a lesion.
  Mask2D b = m;
  synth::Rng rng(1);
  const Mask2D no_liver(64, 64);
  EXPECT_FALSE(add_blob(b, &no_liver, p, rng));
  EXPECT_EQ(b.pixels, m.pixels);
  ASSERT_TRUE(add_blob(b, nullptr, p, rng));
  EXPECT_EQ(components(b), 2);
}

TEST(Corrupt, MergeReducesTheComponentCount) {
  Mask2D m = disc(60, 30, 15, 15, 6);
  m = disc(60, 30, 30, 15, 6, m);  // gap of 3 px
  const CorruptionParams p;
  Mask2D merged = m;
  synth::Rng rng(0);
  ASSERT_TRUE(merge_components(merged, p, rng));
  EXPECT_EQ(components(merged), 1);
  EXPECT_TRUE(subset(m, merged));
  // Lesions farther apart than merge_max_gap stay apart.
  Mask2D far = disc(80, 30, 10, 15, 4);
  far = disc(80, 30, 60, 15, 4, far);
  const Mask2D before = far;
  EXPECT_FALSE(merge_components(far, p, rng));
  EXPECT_EQ(far.pixels, before.pixels);
}

TEST(Corrupt, SplitIncreasesTheComponentCount) {
  const Mask2D m = disc(40, 40, 20, 20, 8);
  const CorruptionParams p;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    Mask2D s = m;
    synth::Rng rng(seed);
    ASSERT_TRUE(split_component(s, p, rng));
    EXPECT_GE(components(s), 2);
    EXPECT_TRUE(subset(s, m));
    EXPECT_GT(s.count(), m.count() * 3 / 4) << "a cut, not a removal";
  }
  Mask2D small = disc(20, 20, 10, 10, 2);  // below split_min_pixels
  synth::Rng rng(0);
  EXPECT_FALSE(split_component(small, p, rng));
}

TEST(Corrupt, SameKeySameOutputOtherKeyOtherOutput) {
  Mask2D m = disc(64, 64, 24, 30, 7);
  m = disc(64, 64, 42, 30, 5, m);
  const Mask2D liver = disc(64, 64, 32, 32, 25);
  const CorruptionParams p;
  const uint64_t key = corruption_key(3, "case_7", 12);
  const CorruptionResult a = corrupt_slice(m, &liver, p, key);
  const CorruptionResult b = corrupt_slice(m, &liver, p, key);
  EXPECT_EQ(a.mask.pixels, b.mask.pixels);
  EXPECT_EQ(a.applied, b.applied);
  EXPECT_NE(corruption_key(3, "case_7", 12), corruption_key(4, "case_7", 12));
  EXPECT_NE(corruption_key(3, "case_7", 12), corruption_key(3, "case_8", 12));
  EXPECT_NE(corruption_key(3, "case_7", 12), corruption_key(3, "case_7", 13));
  int differing = 0;
  std::set<int> kinds_seen;
  for (int64_t slice = 0; slice < 40; ++slice) {
    const CorruptionResult c = corrupt_slice(m, &liver, p, corruption_key(3, "case_7", slice));
    differing += c.mask.pixels != a.mask.pixels;
    for (CorruptionKind k : c.applied) kinds_seen.insert(static_cast<int>(k));
  }
  EXPECT_GE(differing, 35);
  EXPECT_EQ(kinds_seen.size(), static_cast<size_t>(kNumCorruptionKinds))
      << "with the default mix every kind shows up within 40 slices";
  // Probability 0 everywhere: the ground truth comes back untouched.
  const CorruptionResult id = corrupt_slice(m, &liver, none(), key);
  EXPECT_EQ(id.mask.pixels, m.pixels);
  EXPECT_TRUE(id.applied.empty());
}

TEST(Corrupt, OneKindsProbabilityDoesNotChangeAnother) {
  const Mask2D m = disc(64, 64, 30, 30, 9);
  CorruptionParams only_shift = none();
  only_shift.p_shift = 1.0;
  CorruptionParams shift_and_blob = only_shift;
  shift_and_blob.p_blob = 1.0;
  const Mask2D liver = disc(64, 64, 30, 30, 28);
  for (int64_t slice = 0; slice < 5; ++slice) {
    const uint64_t key = corruption_key(1, "a", slice);
    const Mask2D s1 = corrupt_slice(m, &liver, only_shift, key).mask;
    const Mask2D s2 = corrupt_slice(m, &liver, shift_and_blob, key).mask;
    EXPECT_TRUE(subset(s1, s2)) << "the shift is the same; the blob only adds";
  }
}

TEST(Corrupt, VolumeKeepsLiverAndLitsValues) {
  Geometry g;
  g.size = {48, 48, 6};
  LabelMap gt(g, kBackground);
  for (int64_t z = 0; z < 6; ++z)
    for (int64_t y = 0; y < 48; ++y)
      for (int64_t x = 0; x < 48; ++x) {
        if (std::hypot(x - 24.0, y - 24.0) <= 18) gt.at(x, y, z) = kLiver;
        if (z >= 1 && z <= 4 && std::hypot(x - 20.0, y - 22.0) <= 6) gt.at(x, y, z) = kTumour;
      }
  const CorruptionParams p;
  const LabelMap a = corrupt_volume(gt, p, 5, "7");
  EXPECT_EQ(a.geometry.size, g.size);
  bool tumour_changed = false;
  for (size_t i = 0; i < a.voxels.size(); ++i) {
    ASSERT_LE(a.voxels[i], kTumour);
    if (gt.voxels[i] >= kLiver) {
      EXPECT_GE(a.voxels[i], kLiver);
    }
    tumour_changed = tumour_changed || ((a.voxels[i] == kTumour) != (gt.voxels[i] == kTumour));
  }
  EXPECT_TRUE(tumour_changed);
  EXPECT_EQ(corrupt_volume(gt, p, 5, "7").voxels, a.voxels);
  EXPECT_NE(corrupt_volume(gt, p, 6, "7").voxels, a.voxels);
  EXPECT_NE(corrupt_volume(gt, p, 5, "8").voxels, a.voxels);
}

TEST(Corrupt, RejectsImpossibleParams) {
  CorruptionParams p;
  p.p_drop = 1.5;
  EXPECT_THROW(validate(p), InputError);
  p = CorruptionParams{};
  p.p_erode = 0.7;
  p.p_dilate = 0.7;
  EXPECT_THROW(validate(p), InputError);
  p = CorruptionParams{};
  p.dilate_min = 4;
  p.dilate_max = 2;
  EXPECT_THROW(validate(p), InputError);
  p = CorruptionParams{};
  p.cut_half_width = 0.5;
  EXPECT_THROW(validate(p), InputError);
  EXPECT_NO_THROW(validate(CorruptionParams{}));
}

}  // namespace
}  // namespace aslseg::loop
