// Prompts from a pseudo-label (sam/prompts.h) on hand-made masks: exact boxes, central points
// that stay on the component (rectangle, ring, L), spread-out multipoints, negative points on
// background only, specks and empty slices skipped.
#include "aslseg/sam/prompts.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "aslseg/io/error.h"
#include "aslseg/synth/rng.h"

namespace aslseg::sam {
namespace {

struct Slice {
  int64_t w, h;
  std::vector<uint8_t> m;
  Slice(int64_t width, int64_t height)
      : w(width), h(height), m(static_cast<size_t>(width * height), 0) {}
  void fill(int64_t x0, int64_t y0, int64_t x1, int64_t y1, uint8_t v = 1) {
    for (int64_t y = y0; y <= y1; ++y)
      for (int64_t x = x0; x <= x1; ++x) m[static_cast<size_t>(x + w * y)] = v;
  }
  uint8_t at(int64_t x, int64_t y) const { return m[static_cast<size_t>(x + w * y)]; }
};

PromptParams params(PromptMode mode, int64_t margin = 0) {
  PromptParams p;
  p.mode = mode;
  p.box_margin = margin;
  return p;
}

// Brute force: distance from (x, y) to the nearest pixel outside the mask, the slice's
// outside included.
double brute_depth(const Slice& s, int64_t x, int64_t y) {
  double best = std::numeric_limits<double>::infinity();
  for (int64_t v = -1; v <= s.h; ++v)
    for (int64_t u = -1; u <= s.w; ++u) {
      const bool outside = u < 0 || v < 0 || u >= s.w || v >= s.h;
      if (outside || !s.at(u, v)) best = std::min(best, std::hypot(double(u - x), double(v - y)));
    }
  return best;
}

TEST(Prompts, ParseModes) {
  EXPECT_EQ(parse_prompt_mode("box"), PromptMode::kBox);
  EXPECT_EQ(parse_prompt_mode("point"), PromptMode::kPoint);
  EXPECT_EQ(parse_prompt_mode("multipoint"), PromptMode::kMultipoint);
  EXPECT_EQ(parse_prompt_mode("box+point"), PromptMode::kBoxPoint);
  for (PromptMode m :
       {PromptMode::kBox, PromptMode::kPoint, PromptMode::kMultipoint, PromptMode::kBoxPoint})
    EXPECT_EQ(parse_prompt_mode(prompt_mode_name(m)), m);
  EXPECT_THROW(parse_prompt_mode("boxes"), InputError);
  EXPECT_THROW(parse_prompt_mode("Box"), InputError);
}

TEST(Prompts, BoxBoundsAreExactAndMarginIsClipped) {
  Slice s(20, 16);
  s.fill(5, 3, 11, 7);
  auto sets = slice_prompts(s.m.data(), s.w, s.h, params(PromptMode::kBox, 0));
  ASSERT_EQ(sets.size(), 1u);
  ASSERT_TRUE(sets[0].box);
  EXPECT_EQ(sets[0].box->x0, 5);
  EXPECT_EQ(sets[0].box->y0, 3);
  EXPECT_EQ(sets[0].box->x1, 11);
  EXPECT_EQ(sets[0].box->y1, 7);
  EXPECT_EQ(sets[0].pixels, 7 * 5);
  EXPECT_TRUE(sets[0].points.empty());

  sets = slice_prompts(s.m.data(), s.w, s.h, params(PromptMode::kBox, 2));
  EXPECT_EQ(sets[0].box->x0, 3);
  EXPECT_EQ(sets[0].box->y0, 1);
  EXPECT_EQ(sets[0].box->x1, 13);
  EXPECT_EQ(sets[0].box->y1, 9);
  EXPECT_EQ(sets[0].bounds.x0, 5);  // the tight bounds stay tight

  // At the slice's corner the margin is clipped, on both sides that touch it.
  Slice c(20, 16);
  c.fill(0, 12, 4, 15);
  sets = slice_prompts(c.m.data(), c.w, c.h, params(PromptMode::kBox, 3));
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0].box->x0, 0);
  EXPECT_EQ(sets[0].box->y0, 9);
  EXPECT_EQ(sets[0].box->x1, 7);
  EXPECT_EQ(sets[0].box->y1, 15);
}

TEST(Prompts, CentralPointOfRectangleIsItsCentre) {
  Slice s(20, 20);
  s.fill(4, 6, 10, 10);  // 7 x 5, centre (7, 8)
  const PromptPoint p = central_point(s.m.data(), s.w, s.h);
  EXPECT_EQ(p.x, 7);
  EXPECT_EQ(p.y, 8);
  auto sets = slice_prompts(s.m.data(), s.w, s.h, params(PromptMode::kPoint));
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_FALSE(sets[0].box);
  ASSERT_EQ(sets[0].points.size(), 1u);
  EXPECT_EQ(sets[0].points[0].x, 7);
  EXPECT_EQ(sets[0].points[0].y, 8);
  EXPECT_EQ(sets[0].points[0].label, PointLabel::kPositive);

  // Touching the slice edge: the edge is a border too, so the point is not dragged onto it.
  Slice e(12, 12);
  e.fill(0, 0, 6, 4);
  const PromptPoint q = central_point(e.m.data(), e.w, e.h);
  EXPECT_EQ(q.x, 3);
  EXPECT_EQ(q.y, 2);
}

TEST(Prompts, CentralPointOfRingLiesOnTheRing) {
  Slice s(31, 31);
  for (int64_t y = 0; y < 31; ++y)
    for (int64_t x = 0; x < 31; ++x) {
      const double r = std::hypot(double(x - 15), double(y - 15));
      if (r >= 5.0 && r <= 10.0) s.m[static_cast<size_t>(x + 31 * y)] = 1;
    }
  const PromptPoint p = central_point(s.m.data(), s.w, s.h);
  EXPECT_EQ(s.at(p.x, p.y), 1) << "the centre of a ring is its hole";
  const double r = std::hypot(double(p.x - 15), double(p.y - 15));
  EXPECT_GT(r, 6.0);
  EXPECT_LT(r, 9.0);
}

TEST(Prompts, CentralPointOfLShapeIsInsideAndDeepest) {
  Slice s(24, 24);
  s.fill(2, 2, 6, 21);    // vertical bar, 5 wide
  s.fill(2, 17, 21, 21);  // horizontal bar, 5 tall
  const PromptPoint p = central_point(s.m.data(), s.w, s.h);
  EXPECT_EQ(s.at(p.x, p.y), 1);
  EXPECT_EQ(s.at(11, 11), 0) << "test premise: the bounding-box centre is outside the L";
  double max_depth = 0.0;
  for (int64_t y = 0; y < s.h; ++y)
    for (int64_t x = 0; x < s.w; ++x)
      if (s.at(x, y)) max_depth = std::max(max_depth, brute_depth(s, x, y));
  EXPECT_DOUBLE_EQ(brute_depth(s, p.x, p.y), max_depth);
}

TEST(Prompts, CentralPointIsDeepestOnRandomBlobs) {
  synth::Rng rng(11);
  int checked = 0;
  for (int trial = 0; trial < 30; ++trial) {
    // Overlapping discs around one centre: irregular, almost always one component.
    Slice s(32, 28);
    const double cx0 = rng.uniform(10, 22), cy0 = rng.uniform(10, 18);
    const int discs = rng.uniform_int(1, 4);
    for (int d = 0; d < discs; ++d) {
      const double cx = cx0 + rng.uniform(-4, 4), cy = cy0 + rng.uniform(-4, 4);
      const double r = rng.uniform(2, 7);
      for (int64_t y = 0; y < s.h; ++y)
        for (int64_t x = 0; x < s.w; ++x)
          if (std::hypot(x - cx, y - cy) <= r) s.m[static_cast<size_t>(x + s.w * y)] = 1;
    }
    PromptParams p = params(PromptMode::kPoint);
    p.min_component_pixels = 1;
    const auto sets = slice_prompts(s.m.data(), s.w, s.h, p);
    const auto total = std::count(s.m.begin(), s.m.end(), 1);
    if (sets.size() != 1 || sets[0].pixels != total) continue;
    const PromptPoint& q = sets[0].points.at(0);
    ASSERT_EQ(s.at(q.x, q.y), 1);
    double max_depth = 0.0;
    for (int64_t y = 0; y < s.h; ++y)
      for (int64_t x = 0; x < s.w; ++x)
        if (s.at(x, y)) max_depth = std::max(max_depth, brute_depth(s, x, y));
    EXPECT_DOUBLE_EQ(brute_depth(s, q.x, q.y), max_depth) << trial;
    ++checked;
  }
  EXPECT_GE(checked, 20);
}

TEST(Prompts, MultipointsAreInsideAndFarApart) {
  Slice s(40, 20);
  s.fill(5, 5, 34, 14);  // 30 x 10
  PromptParams p = params(PromptMode::kMultipoint);
  p.num_points = 3;
  const auto sets = slice_prompts(s.m.data(), s.w, s.h, p);
  ASSERT_EQ(sets.size(), 1u);
  const auto& pts = sets[0].points;
  ASSERT_EQ(pts.size(), 3u);
  const PromptPoint centre = central_point(s.m.data(), s.w, s.h);
  EXPECT_EQ(pts[0].x, centre.x);
  EXPECT_EQ(pts[0].y, centre.y);
  for (const auto& q : pts) {
    EXPECT_EQ(s.at(q.x, q.y), 1);
    EXPECT_EQ(q.label, PointLabel::kPositive);
    // interior_depth 0.5 of the maximal depth 5: never on the outline.
    EXPECT_GE(brute_depth(s, q.x, q.y), 2.5);
  }
  for (size_t i = 0; i < pts.size(); ++i)
    for (size_t j = i + 1; j < pts.size(); ++j)
      EXPECT_GE(std::hypot(double(pts[i].x - pts[j].x), double(pts[i].y - pts[j].y)), 10.0);
  // The two extra points go to opposite ends of the bar, not both to one side.
  EXPECT_LT(std::min(pts[1].x, pts[2].x), 12);
  EXPECT_GT(std::max(pts[1].x, pts[2].x), 27);
}

TEST(Prompts, BoxPointCarriesBoxAndCentre) {
  Slice s(20, 20);
  s.fill(4, 6, 10, 10);
  const auto sets = slice_prompts(s.m.data(), s.w, s.h, params(PromptMode::kBoxPoint, 1));
  ASSERT_EQ(sets.size(), 1u);
  ASSERT_TRUE(sets[0].box);
  EXPECT_EQ(sets[0].box->x0, 3);
  ASSERT_EQ(sets[0].points.size(), 1u);
  EXPECT_EQ(sets[0].points[0].x, 7);
  EXPECT_EQ(sets[0].points[0].y, 8);
}

TEST(Prompts, SpecksAreDroppedAndComponentsGetOneSetEach) {
  Slice s(30, 20);
  s.fill(2, 2, 7, 7);      // 36 px
  s.fill(15, 10, 24, 16);  // 70 px
  s.fill(27, 2, 28, 3);    // 4 px speck
  PromptParams p = params(PromptMode::kBox);
  p.min_component_pixels = 10;
  const auto sets = slice_prompts(s.m.data(), s.w, s.h, p);
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(sets[0].pixels, 36);
  EXPECT_EQ(sets[1].pixels, 70);
  EXPECT_EQ(sets[1].box->x0, 15);
  p.min_component_pixels = 37;
  EXPECT_EQ(slice_prompts(s.m.data(), s.w, s.h, p).size(), 1u);
  // Diagonal contact joins (8-connectivity).
  Slice d(10, 10);
  d.fill(1, 1, 3, 3);
  d.fill(4, 4, 6, 6);
  p.min_component_pixels = 1;
  EXPECT_EQ(slice_prompts(d.m.data(), d.w, d.h, p).size(), 1u);
}

TEST(Prompts, VolumeSkipsSlicesWithoutCandidates) {
  Geometry g;
  g.size = {16, 16, 4};
  LabelMap labels(g, kBackground);
  for (int64_t y = 4; y < 9; ++y)
    for (int64_t x = 4; x < 9; ++x) {
      labels.at(x, y, 1) = kTumour;
      labels.at(x, y, 2) = kLiver;  // liver only: no tumour prompt
      labels.at(x, y, 3) = kTumour;
    }
  labels.at(0, 0, 3) = kTumour;  // a speck, dropped; slice 3 still has the big one
  const auto out = volume_prompts(labels, params(PromptMode::kBox));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].slice, 1);
  EXPECT_EQ(out[1].slice, 3);
  EXPECT_EQ(out[1].sets.size(), 1u);
  // A slice whose only candidate is a speck is not listed.
  LabelMap specks(g, kBackground);
  specks.at(3, 3, 0) = kTumour;
  EXPECT_TRUE(volume_prompts(specks, params(PromptMode::kBox)).empty());
}

TEST(Prompts, NegativePointsLieOnNearbyBackgroundOnly) {
  Geometry g;
  g.size = {40, 40, 1};
  LabelMap labels(g, kLiver);
  for (int64_t y = 12; y < 22; ++y)
    for (int64_t x = 12; x < 22; ++x) labels.at(x, y, 0) = kTumour;
  for (int64_t y = 12; y < 22; ++y)
    for (int64_t x = 26; x < 30; ++x) labels.at(x, y, 0) = kTumour;  // a second lesion close by
  PromptParams p = params(PromptMode::kPoint);
  p.num_negative = 5;
  p.ring_inner = 2;
  p.ring_outer = 6;
  p.seed = 7;
  const auto out = volume_prompts(labels, p);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].sets.size(), 2u);
  std::vector<PromptPoint> first_negatives;
  for (const PromptSet& set : out[0].sets) {
    ASSERT_EQ(set.points.size(), 6u);
    EXPECT_EQ(set.points[0].label, PointLabel::kPositive);
    for (size_t i = 1; i < set.points.size(); ++i) {
      const PromptPoint& q = set.points[i];
      EXPECT_EQ(q.label, PointLabel::kNegative);
      ASSERT_TRUE(q.x >= 0 && q.y >= 0 && q.x < 40 && q.y < 40);
      EXPECT_NE(labels.at(q.x, q.y, 0), kTumour);
      // Within ring_outer of its own lesion, at least ring_inner from every tumour pixel.
      double own = 1e9, any = 1e9;
      for (int64_t y = 0; y < 40; ++y)
        for (int64_t x = 0; x < 40; ++x) {
          if (labels.at(x, y, 0) != kTumour) continue;
          const double d = std::hypot(double(x - q.x), double(y - q.y));
          any = std::min(any, d);
          if (x >= set.bounds.x0 && x <= set.bounds.x1 && y >= set.bounds.y0 && y <= set.bounds.y1)
            own = std::min(own, d);
        }
      EXPECT_GE(any, 2.0);
      EXPECT_LE(own, 6.0);
      if (&set == &out[0].sets[0]) first_negatives.push_back(q);
    }
  }
  // Spread out, not clumped: distinct points.
  for (size_t i = 0; i < first_negatives.size(); ++i)
    for (size_t j = i + 1; j < first_negatives.size(); ++j)
      EXPECT_FALSE(first_negatives[i].x == first_negatives[j].x &&
                   first_negatives[i].y == first_negatives[j].y);
  // Deterministic for a seed; another seed draws another first point.
  const auto again = volume_prompts(labels, p);
  for (size_t i = 0; i < again[0].sets[0].points.size(); ++i) {
    EXPECT_EQ(again[0].sets[0].points[i].x, out[0].sets[0].points[i].x);
    EXPECT_EQ(again[0].sets[0].points[i].y, out[0].sets[0].points[i].y);
  }
  bool differs = false;
  for (uint64_t seed = 8; seed < 12 && !differs; ++seed) {
    p.seed = seed;
    const auto other = volume_prompts(labels, p);
    for (size_t i = 1; i < other[0].sets[0].points.size(); ++i)
      differs = differs || other[0].sets[0].points[i].x != out[0].sets[0].points[i].x ||
                other[0].sets[0].points[i].y != out[0].sets[0].points[i].y;
  }
  EXPECT_TRUE(differs);
}

TEST(Prompts, RejectsImpossibleParams) {
  Slice s(8, 8);
  PromptParams p;
  p.num_points = 0;
  EXPECT_THROW(slice_prompts(s.m.data(), s.w, s.h, p), InputError);
  p = PromptParams{};
  p.ring_inner = 5;
  p.ring_outer = 4;
  EXPECT_THROW(slice_prompts(s.m.data(), s.w, s.h, p), InputError);
  p = PromptParams{};
  p.box_margin = -1;
  EXPECT_THROW(validate(p), InputError);
  EXPECT_THROW(central_point(s.m.data(), s.w, s.h), InputError);  // empty mask
}

}  // namespace
}  // namespace aslseg::sam
