// make_phantom: determinism, label consistency, scan field, geometry and physical scale.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "aslseg/io/error.h"
#include "aslseg/synth/phantom.h"
#include "aslseg/synth/rng.h"

namespace aslseg::synth {
namespace {

PhantomParams small_params() {
  PhantomParams p;
  p.size = {64, 56, 32};
  return p;
}

uint64_t fnv1a(const void* data, size_t bytes, uint64_t h = 1469598103934665603ULL) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

uint64_t checksum(const Phantom& ph) {
  const uint64_t h = fnv1a(ph.ct.voxels.data(), ph.ct.voxels.size() * sizeof(float));
  return fnv1a(ph.labels.voxels.data(), ph.labels.voxels.size(), h);
}

std::array<double, 3> world(const Geometry& g, int64_t i, int64_t j, int64_t k) {
  const double v[3] = {i * g.spacing[0], j * g.spacing[1], k * g.spacing[2]};
  std::array<double, 3> w{};
  for (int r = 0; r < 3; ++r)
    w[r] = g.origin[r] + g.direction[3 * r] * v[0] + g.direction[3 * r + 1] * v[1] +
           g.direction[3 * r + 2] * v[2];
  return w;
}

// Liver (label 1 or 2) centroid in world coordinates.
std::array<double, 3> liver_centroid(const Phantom& ph) {
  const Geometry& g = ph.labels.geometry;
  std::array<double, 3> sum{0, 0, 0};
  int64_t n = 0;
  for (int64_t k = 0; k < g.size[2]; ++k)
    for (int64_t j = 0; j < g.size[1]; ++j)
      for (int64_t i = 0; i < g.size[0]; ++i)
        if (ph.labels.at(i, j, k) != kBackground) {
          const auto w = world(g, i, j, k);
          for (int a = 0; a < 3; ++a) sum[a] += w[a];
          ++n;
        }
  for (double& s : sum) s /= static_cast<double>(n);
  return sum;
}

TEST(SynthPhantom, SameSeedGivesIdenticalVoxelsAndLabels) {
  const Phantom a = make_phantom(small_params(), 11);
  const Phantom b = make_phantom(small_params(), 11);
  ASSERT_EQ(a.ct.voxels.size(), b.ct.voxels.size());
  EXPECT_EQ(
      0, std::memcmp(a.ct.voxels.data(), b.ct.voxels.data(), a.ct.voxels.size() * sizeof(float)));
  EXPECT_EQ(a.labels.voxels, b.labels.voxels);
  EXPECT_EQ(a.info.tumours.size(), b.info.tumours.size());
}

TEST(SynthPhantom, DifferentSeedsDiffer) {
  const Phantom a = make_phantom(small_params(), 11);
  const Phantom b = make_phantom(small_params(), 12);
  EXPECT_NE(a.labels.voxels, b.labels.voxels);
  int64_t different = 0;
  for (size_t v = 0; v < a.ct.voxels.size(); ++v) different += a.ct.voxels[v] != b.ct.voxels[v];
  EXPECT_GT(different, static_cast<int64_t>(a.ct.voxels.size() / 4));  // noise alone differs
  EXPECT_NE(a.info.liver_voxels, b.info.liver_voxels);
}

TEST(SynthPhantom, CaseOfASetDependsOnSeedAndIndexOnly) {
  const PhantomParams p = small_params();
  const Phantom direct = make_phantom(p, case_seed(5, 3));
  const Phantom via_case = make_case(p, 5, 3);
  EXPECT_EQ(checksum(direct), checksum(via_case));
  EXPECT_NE(checksum(via_case), checksum(make_case(p, 5, 2)));
  EXPECT_NE(checksum(via_case), checksum(make_case(p, 6, 3)));
}

TEST(SynthPhantom, OutputIsPinnedAcrossMachines) {
  // A checksum of one small phantom. It changes when the generator is changed on purpose
  // (then update it); it must not change with the compiler, libm, CPU or thread count.
  PhantomParams p;
  p.size = {32, 32, 16};
  const Phantom ph = make_phantom(p, 42);
  EXPECT_EQ(checksum(ph), 0x4964df88099b3fc9ULL) << std::hex << "0x" << checksum(ph);
}

TEST(SynthPhantom, VoxelsAreWholeHuInTheCtRange) {
  const Phantom ph = make_phantom(small_params(), 3);
  for (float v : ph.ct.voxels) {
    ASSERT_EQ(v, std::floor(v));
    ASSERT_TRUE(v == hu::kOutOfFov || (v >= hu::kMinWritten && v <= hu::kMaxWritten)) << v;
  }
}

TEST(SynthPhantom, LabelsAreLitsValuesAndStayInsideTheBody) {
  for (uint64_t seed : {1ULL, 2ULL, 3ULL, 4ULL}) {
    const Phantom ph = make_phantom(small_params(), seed);
    const Geometry& g = ph.ct.geometry;
    int64_t liver = 0, tumour = 0;
    for (int64_t k = 0; k < g.size[2]; ++k) {
      for (int64_t j = 0; j < g.size[1]; ++j) {
        // The body along this row: from the first to the last voxel denser than air.
        int64_t first = -1, last = -1;
        for (int64_t i = 0; i < g.size[0]; ++i)
          if (ph.ct.at(i, j, k) > -500.0f) {
            if (first < 0) first = i;
            last = i;
          }
        for (int64_t i = 0; i < g.size[0]; ++i) {
          const uint8_t l = ph.labels.at(i, j, k);
          ASSERT_LE(l, kTumour);
          if (l == kBackground) continue;
          (l == kLiver ? liver : tumour) += 1;
          // Labelled voxels are tissue, well inside the skin line.
          ASSERT_GT(ph.ct.at(i, j, k), -500.0f) << seed << " " << i << "," << j << "," << k;
          ASSERT_GE(i, first + 2) << "label outside the body, seed " << seed;
          ASSERT_LE(i, last - 2) << "label outside the body, seed " << seed;
        }
      }
    }
    EXPECT_EQ(liver, ph.info.liver_voxels);
    EXPECT_EQ(tumour, ph.info.tumour_voxels);
    EXPECT_GT(liver, 0);
  }
}

TEST(SynthPhantom, EveryTumourVoxelBelongsToADescribedLesionInsideTheLiver) {
  for (uint64_t seed : {1ULL, 8ULL, 12ULL, 23ULL}) {
    const Phantom ph = make_phantom(PhantomParams{}, seed);
    const Geometry& g = ph.ct.geometry;
    std::vector<int64_t> per_lesion(ph.info.tumours.size(), 0);
    std::vector<bool> touches_liver(ph.info.tumours.size(), false);
    for (int64_t k = 0; k < g.size[2]; ++k)
      for (int64_t j = 0; j < g.size[1]; ++j)
        for (int64_t i = 0; i < g.size[0]; ++i) {
          if (ph.labels.at(i, j, k) != kTumour) continue;
          const auto w = world(g, i, j, k);
          int owner = -1;
          for (size_t t = 0; t < ph.info.tumours.size(); ++t) {
            const TumourInfo& tu = ph.info.tumours[t];
            double d2 = 0;
            for (int a = 0; a < 3; ++a) d2 += (w[a] - tu.centre_mm[a]) * (w[a] - tu.centre_mm[a]);
            if (std::sqrt(d2) <= tu.max_radius_mm + 1e-6) owner = static_cast<int>(t);
          }
          ASSERT_GE(owner, 0) << "tumour voxel " << i << "," << j << "," << k
                              << " is in no described lesion, seed " << seed;
          ++per_lesion[static_cast<size_t>(owner)];
          // A lesion grows inside the liver: some of its voxels border liver voxels.
          for (const auto& d : {std::array<int64_t, 3>{1, 0, 0},
                                {-1, 0, 0},
                                {0, 1, 0},
                                {0, -1, 0},
                                {0, 0, 1},
                                {0, 0, -1}}) {
            const int64_t x = i + d[0], y = j + d[1], z = k + d[2];
            if (x < 0 || y < 0 || z < 0 || x >= g.size[0] || y >= g.size[1] || z >= g.size[2])
              continue;
            if (ph.labels.at(x, y, z) == kLiver) touches_liver[static_cast<size_t>(owner)] = true;
          }
        }
    for (size_t t = 0; t < ph.info.tumours.size(); ++t) {
      EXPECT_EQ(per_lesion[t], ph.info.tumours[t].voxels) << "seed " << seed << " lesion " << t;
      EXPECT_TRUE(touches_liver[t]) << "seed " << seed << " lesion " << t;
    }
  }
}

TEST(SynthPhantom, TumoursOnlyRelabelLiverVoxels) {
  // Lesions are clipped to the liver: with or without them, the liver-or-tumour region is
  // the same voxel set (edge lesions included: every case gets some here).
  PhantomParams with = PhantomParams{};
  with.tumours_min = 4;
  with.tumours_max = 6;
  with.edge_tumour_probability = 0.7;
  PhantomParams without = with;
  without.tumours_min = without.tumours_max = 0;
  for (uint64_t seed : {4ULL, 5ULL}) {
    const Phantom a = make_phantom(with, seed);
    const Phantom b = make_phantom(without, seed);
    ASSERT_GT(a.info.tumour_voxels, 0);
    EXPECT_EQ(b.info.tumour_voxels, 0);
    bool any_edge = false;
    for (const TumourInfo& t : a.info.tumours) any_edge = any_edge || t.at_edge;
    EXPECT_TRUE(any_edge);
    for (size_t v = 0; v < a.labels.voxels.size(); ++v)
      ASSERT_EQ(a.labels.voxels[v] != kBackground, b.labels.voxels[v] != kBackground) << v;
  }
}

TEST(SynthPhantom, OutsideTheScanFieldIsPaddingAndNeverLabelled) {
  const Phantom ph = make_phantom(small_params(), 5);
  const Geometry& g = ph.ct.geometry;
  const int64_t nx = g.size[0] - 1, ny = g.size[1] - 1;
  for (int64_t k = 0; k < g.size[2]; ++k) {
    for (const auto& c : {std::array<int64_t, 2>{0, 0}, {nx, 0}, {0, ny}, {nx, ny}})
      EXPECT_LE(ph.ct.at(c[0], c[1], k), -2000.0f);
    EXPECT_GT(ph.ct.at(nx / 2, ny / 2, k), -2000.0f);  // the centre is in the field
  }
  int64_t padding = 0;
  for (size_t v = 0; v < ph.ct.voxels.size(); ++v)
    if (ph.ct.voxels[v] <= -2000.0f) {
      ++padding;
      ASSERT_EQ(ph.labels.voxels[v], kBackground);
      ASSERT_EQ(ph.ct.voxels[v], hu::kOutOfFov);
    }
  EXPECT_GT(padding, 0);

  PhantomParams wide = small_params();
  wide.fov_fraction = 1.5;  // the circle contains the whole square: no padding
  const Phantom full = make_phantom(wide, 5);
  for (float v : full.ct.voxels) ASSERT_GT(v, -2000.0f);
}

TEST(SynthPhantom, LiverVolumeIsPhysicalNotPerVoxel) {
  // Same seed and body width on two grids: the anatomy is drawn in millimetres.
  PhantomParams fine;
  fine.body_width_mm = 90.0;
  PhantomParams coarse = fine;
  coarse.spacing = {1.0, 1.0, 2.0};
  for (uint64_t seed : {2ULL, 9ULL}) {
    const Phantom a = make_phantom(fine, seed);
    const Phantom b = make_phantom(coarse, seed);
    const double ml_a = a.info.liver_ml + a.info.tumour_ml;
    const double ml_b = b.info.liver_ml + b.info.tumour_ml;
    EXPECT_NEAR(ml_b / ml_a, 1.0, 0.03) << ml_a << " mL vs " << ml_b << " mL, seed " << seed;
    // Voxel counts differ a lot (the voxels are 28% larger), so this is not trivially true.
    EXPECT_LT(static_cast<double>(b.info.liver_voxels), 0.85 * a.info.liver_voxels);
  }
}

TEST(SynthPhantom, DirectionRotatesTheGridNotThePatient) {
  PhantomParams p = small_params();
  const Phantom straight = make_phantom(p, 4);
  p.rotate_z_deg = 30.0;
  const Phantom turned = make_phantom(p, 4);
  const Geometry& g = turned.ct.geometry;
  const double c = std::cos(M_PI / 6), s = std::sin(M_PI / 6);
  const std::array<double, 9> expected{c, -s, 0, s, c, 0, 0, 0, 1};
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(g.direction[i], expected[i], 1e-12);
  EXPECT_NE(straight.labels.voxels, turned.labels.voxels);
  // The volume stays centred on world 0 and the liver stays on the patient's right (-x).
  const auto a = liver_centroid(straight), b = liver_centroid(turned);
  EXPECT_LT(a[0], 0.0);
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(a[k], b[k], 2.0) << k;
  EXPECT_NEAR(turned.info.liver_ml / straight.info.liver_ml, 1.0, 0.05);

  PhantomParams flipped = small_params();
  flipped.flip = {true, false, false};
  const Phantom f = make_phantom(flipped, 4);
  EXPECT_EQ(f.ct.geometry.direction[0], -1.0);
  const auto cf = liver_centroid(f);
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(cf[k], a[k], 1.0) << k;

  PhantomParams quarter = small_params();
  quarter.rotate_z_deg = 90.0;
  const Geometry q = phantom_geometry(quarter);
  const std::array<double, 9> exact{0, -1, 0, 1, 0, 0, 0, 0, 1};
  for (int i = 0; i < 9; ++i) EXPECT_EQ(q.direction[i], exact[i]) << i;
}

TEST(SynthPhantom, DefaultGridIsCentredOnWorldOrigin) {
  const Geometry g = phantom_geometry(PhantomParams{});
  EXPECT_EQ(g.size, (std::array<int64_t, 3>{128, 128, 64}));
  EXPECT_EQ(g.spacing, (std::array<double, 3>{0.8, 0.8, 2.5}));
  const auto far = world(g, 127, 127, 63);
  for (int a = 0; a < 3; ++a) EXPECT_NEAR(g.origin[a] + far[a], 0.0, 1e-9);
}

TEST(SynthPhantom, BadParametersNameTheOption) {
  auto message = [](const PhantomParams& p) -> std::string {
    try {
      validate(p);
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  };
  PhantomParams p;
  p.size = {128, 4, 64};
  EXPECT_NE(message(p).find("--size"), std::string::npos) << message(p);
  p = PhantomParams{};
  p.spacing = {0.8, 0.0, 2.5};
  EXPECT_NE(message(p).find("--spacing"), std::string::npos);
  p.spacing = {0.8, NAN, 2.5};
  EXPECT_NE(message(p).find("--spacing"), std::string::npos);
  p = PhantomParams{};
  p.tumours_min = 3;
  p.tumours_max = 2;
  EXPECT_NE(message(p).find("--tumours"), std::string::npos);
  p = PhantomParams{};
  p.noise_sigma_min = -1;
  EXPECT_NE(message(p).find("--noise"), std::string::npos);
  EXPECT_EQ(message(PhantomParams{}), "");
  p = PhantomParams{};
  p.size = {4, 4, 4};
  EXPECT_THROW(make_phantom(p, 1), InputError);
}

}  // namespace
}  // namespace aslseg::synth
