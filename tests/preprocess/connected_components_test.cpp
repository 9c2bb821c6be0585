#include <gtest/gtest.h>

#include <array>
#include <deque>
#include <random>
#include <stdexcept>
#include <vector>

#include "aslseg/preprocess/connected_components.h"

namespace pp = aslseg::preprocess;
using pp::Connectivity2D;
using pp::Connectivity3D;

namespace {

aslseg::LabelMap make_mask(int64_t nx, int64_t ny, int64_t nz) {
  aslseg::Geometry g;
  g.size = {nx, ny, nz};
  return aslseg::LabelMap(g, 0);
}

int64_t count_ones(const aslseg::LabelMap& m) {
  int64_t n = 0;
  for (uint8_t v : m.voxels) n += v == 1;
  return n;
}

// Reference: breadth-first flood fill over the full neighbourhood, one voxel at a time.
std::vector<int32_t> reference_labels(const aslseg::LabelMap& m, int connectivity, int* count) {
  const auto& s = m.geometry.size;
  std::vector<int32_t> labels(m.voxels.size(), 0);
  *count = 0;
  for (int64_t start = 0; start < static_cast<int64_t>(m.voxels.size()); ++start) {
    if (!m.voxels[start] || labels[start]) continue;
    labels[start] = ++*count;
    std::deque<int64_t> queue{start};
    while (!queue.empty()) {
      const int64_t i = queue.front();
      queue.pop_front();
      const int64_t x = i % s[0], y = (i / s[0]) % s[1], z = i / (s[0] * s[1]);
      for (int dz = -1; dz <= 1; ++dz)
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx) {
            const int order = std::abs(dx) + std::abs(dy) + std::abs(dz);
            if (order == 0) continue;
            if (connectivity == 6 && order > 1) continue;
            if (connectivity == 4 && (order > 1 || dz != 0)) continue;
            if (connectivity == 8 && dz != 0) continue;
            const int64_t X = x + dx, Y = y + dy, Z = z + dz;
            if (X < 0 || Y < 0 || Z < 0 || X >= s[0] || Y >= s[1] || Z >= s[2]) continue;
            const int64_t j = m.index(X, Y, Z);
            if (m.voxels[j] && !labels[j]) {
              labels[j] = *count;
              queue.push_back(j);
            }
          }
    }
  }
  return labels;
}

}  // namespace

TEST(PreprocessComponents, DiagonalNeighboursDependOnConnectivity) {
  aslseg::LabelMap m = make_mask(4, 4, 4);
  m.at(0, 0, 0) = 1;
  m.at(1, 1, 1) = 1;  // corner-diagonal to (0,0,0)
  m.at(3, 0, 0) = 1;
  m.at(3, 1, 1) = 1;  // edge-diagonal to (3,0,0)
  m.at(3, 3, 3) = 1;  // isolated
  EXPECT_EQ(pp::label_components(m, Connectivity3D::k6).count(), 5);
  const pp::Components c26 = pp::label_components(m, Connectivity3D::k26);
  EXPECT_EQ(c26.count(), 3);
  // Labels follow buffer order of each component's first voxel.
  EXPECT_EQ(c26.labels[m.index(0, 0, 0)], 1);
  EXPECT_EQ(c26.labels[m.index(1, 1, 1)], 1);
  EXPECT_EQ(c26.labels[m.index(3, 0, 0)], 2);
  EXPECT_EQ(c26.labels[m.index(3, 3, 3)], 3);
  EXPECT_EQ(c26.sizes, (std::vector<int64_t>{0, 2, 2, 1}));
}

TEST(PreprocessComponents, TwoDimensionalFourVersusEight) {
  // Anti-diagonal: linked only through corners, and only in the (1,-1) direction that a
  // naive backward neighbourhood forgets.
  const std::vector<uint8_t> diag{0, 0, 1,  //
                                  0, 1, 0,  //
                                  1, 0, 0};
  EXPECT_EQ(pp::label_components_2d(diag.data(), 3, 3, Connectivity2D::k4).count(), 3);
  EXPECT_EQ(pp::label_components_2d(diag.data(), 3, 3, Connectivity2D::k8).count(), 1);
}

TEST(PreprocessComponents, BranchesMergedLaterAreOneComponent) {
  // A "U": the two arms get different provisional labels and only meet on the last row.
  const std::vector<uint8_t> u{1, 0, 1,  //
                               1, 0, 1,  //
                               1, 1, 1};
  const pp::Components c = pp::label_components_2d(u.data(), 3, 3, Connectivity2D::k4);
  EXPECT_EQ(c.count(), 1);
  EXPECT_EQ(c.sizes[1], 7);
}

TEST(PreprocessComponents, MatchesFloodFillOnRandomMasks) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 20; ++trial) {
    aslseg::LabelMap m = make_mask(13, 11, 7);
    std::bernoulli_distribution on(trial % 2 ? 0.3 : 0.5);
    for (auto& v : m.voxels) v = on(rng) ? 1 : 0;
    for (const auto [conn, ref_conn] :
         {std::pair{Connectivity3D::k6, 6}, std::pair{Connectivity3D::k26, 26}}) {
      int expected_count = 0;
      const std::vector<int32_t> ref = reference_labels(m, ref_conn, &expected_count);
      const pp::Components c = pp::label_components(m, conn);
      ASSERT_EQ(c.count(), expected_count) << "trial " << trial << " conn " << ref_conn;
      // Same partition: both number components in order of first voxel, so labels agree.
      EXPECT_EQ(c.labels, ref) << "trial " << trial << " conn " << ref_conn;
    }
    // 2D on slice 3 against the same reference restricted to one slice.
    aslseg::LabelMap slice = make_mask(13, 11, 1);
    std::copy(m.slice(3), m.slice(3) + 13 * 11, slice.voxels.begin());
    for (const auto [conn, ref_conn] :
         {std::pair{Connectivity2D::k4, 4}, std::pair{Connectivity2D::k8, 8}}) {
      int expected_count = 0;
      const std::vector<int32_t> ref = reference_labels(slice, ref_conn, &expected_count);
      const pp::Components c = pp::label_components_2d(slice.voxels.data(), 13, 11, conn);
      EXPECT_EQ(c.labels, ref) << "trial " << trial << " conn " << ref_conn;
    }
  }
}

TEST(PreprocessComponents, LargestAndSmallRemoval) {
  aslseg::LabelMap m = make_mask(10, 3, 2);
  m.at(0, 0, 0) = 1;                               // size 1
  for (int x = 2; x < 5; ++x) m.at(x, 1, 0) = 7;   // size 3, any nonzero value counts
  for (int x = 6; x < 10; ++x) m.at(x, 2, 1) = 1;  // size 5 with (9,1,1)
  m.at(9, 1, 1) = 1;

  const aslseg::LabelMap largest = pp::largest_component(m);
  EXPECT_EQ(count_ones(largest), 5);
  EXPECT_EQ(largest.at(9, 1, 1), 1);
  EXPECT_EQ(largest.at(2, 1, 0), 0);

  const aslseg::LabelMap kept = pp::remove_components_smaller_than(m, 3);
  EXPECT_EQ(count_ones(kept), 8);
  EXPECT_EQ(kept.at(0, 0, 0), 0);
  EXPECT_EQ(kept.at(3, 1, 0), 1);  // output is 0/1 even where the input held 7
  EXPECT_EQ(count_ones(pp::remove_components_smaller_than(m, 0)), 9);
  EXPECT_THROW(pp::remove_components_smaller_than(m, -1), std::invalid_argument);

  EXPECT_EQ(count_ones(pp::largest_component(make_mask(4, 4, 4))), 0);
}

TEST(PreprocessComponents, FillHoles2dRingAndOpenShape) {
  // 7x7: a ring with a 3x3 hole (filled) and, in a second image, a "C" whose gap reaches the
  // border through background (stays background).
  std::vector<uint8_t> ring(49, 0);
  for (int y = 1; y <= 5; ++y)
    for (int x = 1; x <= 5; ++x) ring[y * 7 + x] = (x == 1 || x == 5 || y == 1 || y == 5);
  std::vector<uint8_t> c_shape = ring;
  c_shape[3 * 7 + 5] = 0;  // open the right wall at y = 3
  c_shape[3 * 7 + 6] = 0;

  pp::fill_holes_2d(ring.data(), 7, 7);
  for (int y = 1; y <= 5; ++y)
    for (int x = 1; x <= 5; ++x) EXPECT_EQ(ring[y * 7 + x], 1) << x << "," << y;
  EXPECT_EQ(ring[0], 0);

  const std::vector<uint8_t> before = c_shape;
  pp::fill_holes_2d(c_shape.data(), 7, 7);
  EXPECT_EQ(c_shape, before);
}

TEST(PreprocessComponents, FillHolesBackgroundConnectivity) {
  // Ring with one corner pixel missing: the hole leaks through that corner only diagonally.
  std::vector<uint8_t> ring(49, 0);
  for (int y = 1; y <= 5; ++y)
    for (int x = 1; x <= 5; ++x) ring[y * 7 + x] = (x == 1 || x == 5 || y == 1 || y == 5);
  ring[1 * 7 + 1] = 0;
  std::vector<uint8_t> four = ring, eight = ring;
  pp::fill_holes_2d(four.data(), 7, 7, Connectivity2D::k4);
  pp::fill_holes_2d(eight.data(), 7, 7, Connectivity2D::k8);
  EXPECT_EQ(four[3 * 7 + 3], 1);
  EXPECT_EQ(four[1 * 7 + 1], 0);  // the gap itself touches the outside
  EXPECT_EQ(eight, ring);
}

TEST(PreprocessComponents, FillHoles3dVersusPerSlice) {
  // A square tube along z, open at both ends: no 3D hole, but a hole in every slice.
  aslseg::LabelMap tube = make_mask(7, 7, 5);
  for (int z = 0; z < 5; ++z)
    for (int y = 1; y <= 5; ++y)
      for (int x = 1; x <= 5; ++x) tube.at(x, y, z) = (x == 1 || x == 5 || y == 1 || y == 5);
  EXPECT_EQ(pp::fill_holes_3d(tube).voxels, tube.voxels);
  const aslseg::LabelMap per_slice = pp::fill_holes_2d_per_slice(tube);
  EXPECT_EQ(count_ones(per_slice), 25 * 5);

  // Closing both ends turns the inside into a 3D hole.
  aslseg::LabelMap box = tube;
  for (int y = 1; y <= 5; ++y)
    for (int x = 1; x <= 5; ++x) box.at(x, y, 0) = box.at(x, y, 4) = 1;
  const aslseg::LabelMap filled = pp::fill_holes_3d(box);
  EXPECT_EQ(filled.at(3, 3, 2), 1);
  EXPECT_EQ(count_ones(filled), 25 * 5);
  EXPECT_EQ(filled.at(0, 0, 2), 0);
}
