#include "aslseg/metrics/binary_metrics.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "aslseg/io/error.h"
#include "aslseg/metrics/distance_transform.h"

namespace aslseg::metrics {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
// Background voxels kept around the bounding box, as MONAI crops. The result does not depend
// on it: every voxel just outside the box is background in both masks, exactly what the
// erosion assumes beyond the crop or the volume; the margin only makes that explicit.
constexpr int64_t kCropMargin = 1;
constexpr double kPercentScale = 100.0;
// numpy/torch switch their lerp formula at this weight to stay exact at both ends.
constexpr double kLerpSwitch = 0.5;

struct Counts {
  int64_t pred = 0;
  int64_t gt = 0;
  int64_t both = 0;
  std::array<int64_t, 3> lo{0, 0, 0};  // bounding box of pred ∪ gt, inclusive
  std::array<int64_t, 3> hi{-1, -1, -1};
};

void check_same_grid(const LabelMap& pred, const LabelMap& gt) {
  if (pred.geometry.size != gt.geometry.size ||
      pred.voxels.size() != static_cast<size_t>(gt.geometry.num_voxels()) ||
      gt.voxels.size() != static_cast<size_t>(gt.geometry.num_voxels()))
    throw InputError("", "prediction and ground truth grids differ: " + pred.geometry.describe() +
                             " vs " + gt.geometry.describe());
}

Counts count(const LabelMap& pred, const LabelMap& gt, LabelRange range) {
  Counts c;
  const auto& size = gt.geometry.size;
  for (int64_t z = 0; z < size[2]; ++z) {
    for (int64_t y = 0; y < size[1]; ++y) {
      const int64_t row = gt.index(0, y, z);
      for (int64_t x = 0; x < size[0]; ++x) {
        const bool p = range.contains(pred.voxels[row + x]);
        const bool g = range.contains(gt.voxels[row + x]);
        if (!p && !g) continue;
        c.pred += p;
        c.gt += g;
        c.both += p && g;
        const std::array<int64_t, 3> at{x, y, z};
        if (c.hi[0] < 0) {
          c.lo = at;
          c.hi = at;
        }
        for (int a = 0; a < 3; ++a) {
          c.lo[a] = std::min(c.lo[a], at[a]);
          c.hi[a] = std::max(c.hi[a], at[a]);
        }
      }
    }
  }
  return c;
}

// The class mask of `labels` inside the box lo..hi, padded by kCropMargin background voxels.
LabelMap crop(const LabelMap& labels, LabelRange range, const std::array<int64_t, 3>& lo,
              const std::array<int64_t, 3>& hi) {
  Geometry g = labels.geometry;
  for (int a = 0; a < 3; ++a) g.size[a] = hi[a] - lo[a] + 1 + 2 * kCropMargin;
  LabelMap out(g, 0);
  for (int64_t z = lo[2]; z <= hi[2]; ++z)
    for (int64_t y = lo[1]; y <= hi[1]; ++y)
      for (int64_t x = lo[0]; x <= hi[0]; ++x)
        if (range.contains(labels.at(x, y, z)))
          out.at(x - lo[0] + kCropMargin, y - lo[1] + kCropMargin, z - lo[2] + kCropMargin) = 1;
  return out;
}

// Distances (mm) from every surface voxel of `from` to the nearest surface voxel of `to`.
std::vector<double> directed(const LabelMap& from_surface, const LabelMap& to_surface) {
  const Volume<double> dist = euclidean_distance_to(to_surface);
  std::vector<double> out;
  for (size_t i = 0; i < from_surface.voxels.size(); ++i)
    if (from_surface.voxels[i]) out.push_back(dist.voxels[i]);
  return out;
}

double mean(const std::vector<double>& a, const std::vector<double>& b) {
  double sum = 0.0;
  for (double v : a) sum += v;
  for (double v : b) sum += v;
  return sum / static_cast<double>(a.size() + b.size());
}

SurfaceDistances distances_in_box(const LabelMap& pred, const LabelMap& gt, LabelRange range,
                                  const Counts& c) {
  SurfaceDistances out;
  if (c.pred == 0 && c.gt == 0) return out;
  const LabelMap pred_surface = surface_voxels(crop(pred, range, c.lo, c.hi));
  const LabelMap gt_surface = surface_voxels(crop(gt, range, c.lo, c.hi));
  if (c.gt == 0) {
    out.pred_to_gt.assign(
        static_cast<size_t>(std::count(pred_surface.voxels.begin(), pred_surface.voxels.end(), 1)),
        kInf);
    return out;
  }
  if (c.pred == 0) {
    out.gt_to_pred.assign(
        static_cast<size_t>(std::count(gt_surface.voxels.begin(), gt_surface.voxels.end(), 1)),
        kInf);
    return out;
  }
  out.pred_to_gt = directed(pred_surface, gt_surface);
  out.gt_to_pred = directed(gt_surface, pred_surface);
  return out;
}

}  // namespace

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return kNaN;
  // Clamped so that a q outside [0, 100] cannot index outside the data.
  const double fraction = std::clamp(q / kPercentScale, 0.0, 1.0);
  const double rank = fraction * static_cast<double>(values.size() - 1);
  const auto below = static_cast<size_t>(std::floor(rank));
  const size_t above = std::min(below + 1, values.size() - 1);
  std::nth_element(values.begin(), values.begin() + below, values.end());
  const double a = values[below];
  const double b = above == below ? a : *std::min_element(values.begin() + above, values.end());
  const double t = rank - static_cast<double>(below);
  if (t == 0.0) return a;
  const double diff = b - a;
  return t < kLerpSwitch ? a + diff * t : b - diff * (1.0 - t);
}

SurfaceDistances surface_distances(const LabelMap& pred, const LabelMap& gt, LabelRange range) {
  check_same_grid(pred, gt);
  return distances_in_box(pred, gt, range, count(pred, gt, range));
}

double dice(const LabelMap& pred, const LabelMap& gt, LabelRange range) {
  check_same_grid(pred, gt);
  const Counts c = count(pred, gt, range);
  if (c.pred == 0 && c.gt == 0) return 1.0;
  return 2.0 * static_cast<double>(c.both) / static_cast<double>(c.pred + c.gt);
}

BinaryMetrics compare_masks(const LabelMap& pred, const LabelMap& gt, LabelRange range) {
  check_same_grid(pred, gt);
  const Counts c = count(pred, gt, range);
  BinaryMetrics m;
  m.pred_voxels = c.pred;
  m.gt_voxels = c.gt;
  if (c.pred == 0 && c.gt == 0) {
    m.dice = 1.0;
    m.jaccard = 1.0;
    m.hd95 = 0.0;
    m.asd = 0.0;
    return m;
  }
  const auto both = static_cast<double>(c.both);
  m.dice = 2.0 * both / static_cast<double>(c.pred + c.gt);
  m.jaccard = both / static_cast<double>(c.pred + c.gt - c.both);
  if (c.pred == 0 || c.gt == 0) {
    m.hd95 = kNaN;
    m.asd = kNaN;
    return m;
  }
  const SurfaceDistances d = distances_in_box(pred, gt, range, c);
  m.hd95 = std::max(percentile(d.pred_to_gt, kHausdorffPercentile),
                    percentile(d.gt_to_pred, kHausdorffPercentile));
  m.asd = mean(d.pred_to_gt, d.gt_to_pred);
  return m;
}

}  // namespace aslseg::metrics
