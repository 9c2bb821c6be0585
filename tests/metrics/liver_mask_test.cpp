// A real liver mask (pydicom's liver_1frame.dcm, one 512x512 DICOM SEG slice), shifted and
// eroded, against values computed here by brute force from the same arrays.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>

#include "aslseg/io/volume_io.h"
#include "aslseg/metrics/binary_metrics.h"
#include "common/test_util.h"
#include "metrics/brute_force.h"

namespace aslseg::metrics {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kPydicomForeground = 36233;  // foreground pixels as pydicom reads them
constexpr double kExact = 1e-9;

fs::path liver_path() { return testing::pydicom_data() / "liver_1frame.dcm"; }

int64_t count(const LabelMap& m) {
  int64_t n = 0;
  for (auto v : m.voxels) n += v != 0;
  return n;
}

LabelMap shifted(const LabelMap& m, int64_t dx, int64_t dy) {
  LabelMap out(m.geometry, 0);
  const auto& s = m.geometry.size;
  for (int64_t z = 0; z < s[2]; ++z)
    for (int64_t y = 0; y < s[1]; ++y)
      for (int64_t x = 0; x < s[0]; ++x)
        if (x + dx >= 0 && x + dx < s[0] && y + dy >= 0 && y + dy < s[1])
          out.at(x + dx, y + dy, z) = m.at(x, y, z);
  return out;
}

// In-plane erosion by one pixel with the 4-connected cross; outside the image is background.
LabelMap eroded(const LabelMap& m) {
  LabelMap out(m.geometry, 0);
  const auto& s = m.geometry.size;
  for (int64_t y = 1; y + 1 < s[1]; ++y)
    for (int64_t x = 1; x + 1 < s[0]; ++x)
      out.at(x, y, 0) = m.at(x, y, 0) && m.at(x - 1, y, 0) && m.at(x + 1, y, 0) &&
                        m.at(x, y - 1, 0) && m.at(x, y + 1, 0);
  return out;
}

using testing::is_surface;

// Surface by definition (foreground with a 6-neighbour that is background or outside: in a
// one-slice volume that is every foreground pixel), distances by exhaustive search over the
// other surface, column by column outwards in x, stopping once a column's x offset alone is
// no closer than the best found (nothing further out can be). A voxel on the other surface is
// at distance 0 without a search.
std::vector<double> brute_directed(const LabelMap& a, const LabelMap& b) {
  const auto& s = a.geometry.size;
  const auto& sp = a.geometry.spacing;
  std::vector<std::vector<std::array<int64_t, 2>>> columns(static_cast<size_t>(s[0]));
  for (int64_t z = 0; z < s[2]; ++z)
    for (int64_t y = 0; y < s[1]; ++y)
      for (int64_t x = 0; x < s[0]; ++x)
        if (is_surface(b, x, y, z)) columns[x].push_back({y, z});
  std::vector<double> out;
  for (int64_t z = 0; z < s[2]; ++z)
    for (int64_t y = 0; y < s[1]; ++y)
      for (int64_t x = 0; x < s[0]; ++x) {
        if (!is_surface(a, x, y, z)) continue;
        if (is_surface(b, x, y, z)) {
          out.push_back(0.0);
          continue;
        }
        double best = std::numeric_limits<double>::infinity();
        for (int64_t k = 0; k < s[0]; ++k) {
          const double dx = k * sp[0];
          if (dx * dx >= best) break;
          for (const int64_t qx : {x - k, x + k}) {
            if (qx < 0 || qx >= s[0]) continue;
            for (const auto& q : columns[qx]) {
              const double dy = (q[0] - y) * sp[1], dz = (q[1] - z) * sp[2];
              best = std::min(best, dx * dx + dy * dy + dz * dz);
            }
            if (k == 0) break;
          }
        }
        out.push_back(std::sqrt(best));
      }
  return out;
}

// The slice repeated `depth` times: a slab whose middle slices have rim-only surfaces.
LabelMap stacked(const LabelMap& slice, int64_t depth) {
  Geometry g = slice.geometry;
  g.size[2] = depth;
  LabelMap out(g, 0);
  for (int64_t z = 0; z < depth; ++z)
    std::copy(slice.voxels.begin(), slice.voxels.end(), out.slice(z));
  return out;
}

double sorted_p95(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const double rank = 0.95 * (v.size() - 1);
  const size_t i = static_cast<size_t>(rank);
  return i + 1 < v.size() ? v[i] + (rank - i) * (v[i + 1] - v[i]) : v.back();
}

void expect_matches_brute_force(const LabelMap& pred, const LabelMap& gt) {
  int64_t both = 0;
  for (size_t i = 0; i < gt.voxels.size(); ++i) both += pred.voxels[i] && gt.voxels[i];
  const auto pg = brute_directed(pred, gt), gp = brute_directed(gt, pred);
  double sum = 0;
  for (double v : pg) sum += v;
  for (double v : gp) sum += v;
  const BinaryMetrics m = compare_masks(pred, gt);
  // The whole distance multisets, not only their summaries, must be the brute-force ones.
  const SurfaceDistances d = surface_distances(pred, gt);
  for (const auto& [mine, want] :
       {std::make_pair(d.pred_to_gt, pg), std::make_pair(d.gt_to_pred, gp)}) {
    std::vector<double> a = mine, b = want;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], kExact) << i;
  }
  EXPECT_NEAR(m.dice, 2.0 * both / (count(pred) + count(gt)), kExact);
  EXPECT_NEAR(m.jaccard, static_cast<double>(both) / (count(pred) + count(gt) - both), kExact);
  EXPECT_NEAR(m.hd95, std::max(sorted_p95(pg), sorted_p95(gp)), kExact);
  EXPECT_NEAR(m.asd, sum / (pg.size() + gp.size()), kExact);
}

class MetricLiverMask : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path path = liver_path();
    if (!fs::exists(path)) GTEST_SKIP() << path << " missing (Debian package python3-pydicom)";
    liver_ = io::read_labels(path, /*allow_single_slice=*/true);
  }
  LabelMap liver_;
};

TEST_F(MetricLiverMask, ReadsAsPydicomDoes) {
  EXPECT_EQ(liver_.geometry.size, (std::array<int64_t, 3>{512, 512, 1}));
  EXPECT_EQ(count(liver_), kPydicomForeground);
  // Binary: one foreground value. (pydicom unpacks the 1-bit SEG to 1; the metrics only need
  // "nonzero", so the value itself is the reader's business.)
  std::vector<uint8_t> values(liver_.voxels.begin(), liver_.voxels.end());
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  EXPECT_EQ(values.size(), 2u);
}

TEST_F(MetricLiverMask, ShiftedThreePixelsInX) {
  const LabelMap pred = shifted(liver_, 3, 0);
  ASSERT_EQ(count(pred), kPydicomForeground);  // the liver does not touch the image border
  const double shift_mm = 3 * liver_.geometry.spacing[0];
  // No surface pixel can be farther than the shift from the other surface. In a one-slice
  // volume every pixel is surface and the 3-pixel band of non-overlap is under 5% of them, so
  // HD95 is 0; the largest distance is exactly the shift: pred's rightmost column lies three
  // columns right of every gt pixel, and each pred pixel has its source pixel in gt.
  EXPECT_LE(compare_masks(pred, liver_).hd95, shift_mm + kExact);
  const SurfaceDistances d = surface_distances(pred, liver_);
  EXPECT_NEAR(*std::max_element(d.pred_to_gt.begin(), d.pred_to_gt.end()), shift_mm, kExact);
  EXPECT_NEAR(percentile(d.pred_to_gt, 100), shift_mm, kExact);
  expect_matches_brute_force(pred, liver_);
}

TEST_F(MetricLiverMask, ShiftedTwoPixelsInYWithAnisotropicSpacing) {
  LabelMap gt = liver_;
  gt.geometry.spacing = {0.6, 1.1, 3.0};
  const LabelMap pred = shifted(gt, 0, 2);
  EXPECT_LE(compare_masks(pred, gt).hd95, 2 * 1.1 + kExact);
  expect_matches_brute_force(pred, gt);
}

TEST_F(MetricLiverMask, StackedSlabShiftedThreePixels) {
  // Five copies of the slice at 2.5 mm: the middle slices only keep their rim as surface, so
  // rim distances (and the slab faces) decide HD95, which is no longer 0 here.
  constexpr int64_t kDepth = 40;
  LabelMap gt = stacked(liver_, kDepth);
  gt.geometry.spacing = {0.7, 0.7, 2.5};
  const LabelMap pred = shifted(gt, 3, 0);
  const BinaryMetrics m = compare_masks(pred, gt);
  EXPECT_GT(m.hd95, 0.0);
  EXPECT_LE(m.hd95, 3 * 0.7 + kExact);
  expect_matches_brute_force(pred, gt);
}

TEST_F(MetricLiverMask, ErodedByOnePixel) {
  LabelMap gt = liver_;
  gt.geometry.spacing = {0.8, 0.5, 2.0};
  const LabelMap pred = eroded(gt);
  ASSERT_LT(count(pred), count(gt));
  // pred lies inside gt, and in a one-slice volume every gt pixel is a surface pixel.
  const SurfaceDistances d = surface_distances(pred, gt);
  EXPECT_EQ(*std::max_element(d.pred_to_gt.begin(), d.pred_to_gt.end()), 0.0);
  EXPECT_EQ(static_cast<int64_t>(d.gt_to_pred.size()), count(gt));
  expect_matches_brute_force(pred, gt);
}

}  // namespace
}  // namespace aslseg::metrics
