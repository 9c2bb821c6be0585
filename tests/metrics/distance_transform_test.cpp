// The exact EDT and surface extraction against brute force on random anisotropic masks.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "aslseg/metrics/distance_transform.h"

namespace aslseg::metrics {
namespace {

constexpr double kExact = 1e-9;  // mm; exact up to floating-point round-off

LabelMap random_mask(const std::array<int64_t, 3>& size, const std::array<double, 3>& spacing,
                     double density, std::mt19937& rng) {
  Geometry g;
  g.size = size;
  g.spacing = spacing;
  LabelMap m(g, 0);
  std::bernoulli_distribution on(density);
  for (auto& v : m.voxels) v = on(rng) ? 1 : 0;
  return m;
}

double brute_distance(const LabelMap& features, int64_t x, int64_t y, int64_t z) {
  const auto& g = features.geometry;
  double best = std::numeric_limits<double>::infinity();
  for (int64_t c = 0; c < g.size[2]; ++c)
    for (int64_t b = 0; b < g.size[1]; ++b)
      for (int64_t a = 0; a < g.size[0]; ++a) {
        if (!features.at(a, b, c)) continue;
        const double dx = (a - x) * g.spacing[0], dy = (b - y) * g.spacing[1],
                     dz = (c - z) * g.spacing[2];
        best = std::min(best, std::sqrt(dx * dx + dy * dy + dz * dz));
      }
  return best;
}

bool brute_is_surface(const LabelMap& m, int64_t x, int64_t y, int64_t z) {
  if (!m.at(x, y, z)) return false;
  const auto& s = m.geometry.size;
  const int64_t nb[6][3] = {{x - 1, y, z}, {x + 1, y, z}, {x, y - 1, z},
                            {x, y + 1, z}, {x, y, z - 1}, {x, y, z + 1}};
  for (const auto& n : nb) {
    const bool inside =
        n[0] >= 0 && n[0] < s[0] && n[1] >= 0 && n[1] < s[1] && n[2] >= 0 && n[2] < s[2];
    if (!inside || !m.at(n[0], n[1], n[2])) return true;
  }
  return false;
}

TEST(MetricDistanceTransform, MatchesBruteForceOnRandomAnisotropicMasks) {
  std::mt19937 rng(7);
  const std::array<double, 3> spacings[] = {{0.7, 1.3, 2.9}, {2.5, 0.5, 0.8}, {1, 1, 1}};
  const double densities[] = {0.01, 0.05, 0.3};
  int checked = 0;
  for (const auto& spacing : spacings) {
    for (double density : densities) {
      const LabelMap features = random_mask({9, 7, 6}, spacing, density, rng);
      const Volume<double> d = euclidean_distance_to(features);
      for (int64_t z = 0; z < 6; ++z)
        for (int64_t y = 0; y < 7; ++y)
          for (int64_t x = 0; x < 9; ++x) {
            const double want = brute_distance(features, x, y, z);
            if (std::isinf(want)) {
              EXPECT_TRUE(std::isinf(d.at(x, y, z)));
            } else {
              EXPECT_NEAR(d.at(x, y, z), want, kExact) << x << "," << y << "," << z;
              ++checked;
            }
          }
    }
  }
  EXPECT_GT(checked, 1000);
}

TEST(MetricDistanceTransform, LongLineWhereTheNearestFeatureDependsOnSpacing) {
  // Features at (0,0,0) and (0,0,4) in a 12x1x5 line-ish grid with anisotropic spacing:
  // the voxel (3,0,2) is 3*0.4=1.2 mm from both in x and 2*1.5=3 mm in z -> sqrt(1.44+9).
  Geometry g;
  g.size = {12, 1, 5};
  g.spacing = {0.4, 1.0, 1.5};
  LabelMap f(g, 0);
  f.at(0, 0, 0) = 1;
  f.at(11, 0, 4) = 1;
  const Volume<double> d = euclidean_distance_to(f);
  EXPECT_NEAR(d.at(3, 0, 2), std::sqrt(1.2 * 1.2 + 3.0 * 3.0), kExact);
  // (9,0,2): to (11,0,4) is sqrt(0.8^2 + 3^2); to (0,0,0) sqrt(3.6^2 + 3^2).
  EXPECT_NEAR(d.at(9, 0, 2), std::sqrt(0.8 * 0.8 + 3.0 * 3.0), kExact);
  EXPECT_DOUBLE_EQ(d.at(0, 0, 0), 0.0);
}

TEST(MetricDistanceTransform, NoFeaturesIsInfinite) {
  Geometry g;
  g.size = {4, 3, 2};
  const Volume<double> d = euclidean_distance_to(LabelMap(g, 0));
  for (double v : d.voxels) EXPECT_TRUE(std::isinf(v));
}

TEST(MetricSurface, MatchesDefinitionOnRandomMasks) {
  std::mt19937 rng(11);
  for (double density : {0.3, 0.7, 0.95}) {
    const LabelMap m = random_mask({8, 9, 7}, {1, 1, 1}, density, rng);
    const LabelMap s = surface_voxels(m);
    int64_t interior = 0;
    for (int64_t z = 0; z < 7; ++z)
      for (int64_t y = 0; y < 9; ++y)
        for (int64_t x = 0; x < 8; ++x) {
          EXPECT_EQ(s.at(x, y, z) != 0, brute_is_surface(m, x, y, z));
          interior += m.at(x, y, z) && !s.at(x, y, z);
        }
    if (density > 0.9) EXPECT_GT(interior, 0);  // the test must see interior voxels too
  }
}

TEST(MetricSurface, FullVolumeKeepsOnlyTheBorderShell) {
  // Outside the volume is background (border_value = 0): a full 5x6x7 volume has the
  // 3x4x5 core as interior, everything else as surface.
  Geometry g;
  g.size = {5, 6, 7};
  const LabelMap s = surface_voxels(LabelMap(g, 1));
  int64_t n = 0;
  for (auto v : s.voxels) n += v;
  EXPECT_EQ(n, 5 * 6 * 7 - 3 * 4 * 5);
  EXPECT_EQ(s.at(0, 3, 3), 1);
  EXPECT_EQ(s.at(2, 3, 3), 0);
}

TEST(MetricSurface, SingleSliceIsAllSurface) {
  // A depth-1 volume: every foreground voxel touches the outside in z.
  Geometry g;
  g.size = {6, 6, 1};
  LabelMap m(g, 0);
  for (int64_t y = 1; y < 5; ++y)
    for (int64_t x = 1; x < 5; ++x) m.at(x, y, 0) = 1;
  const LabelMap s = surface_voxels(m);
  EXPECT_EQ(s.voxels, m.voxels);
}

}  // namespace
}  // namespace aslseg::metrics
