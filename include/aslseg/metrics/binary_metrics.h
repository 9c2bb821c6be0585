// Overlap and surface-distance metrics for one pair of 3D binary masks (Dice, Jaccard, HD95,
// ASD), numerically the same as MONAI's DiceMetric, compute_hausdorff_distance(percentile=95)
// and compute_average_surface_distance(symmetric=True), with distances in mm.
#pragma once

#include <cstdint>
#include <vector>

#include "aslseg/io/volume.h"

namespace aslseg::metrics {

// Largest value a label map can hold.
inline constexpr uint8_t kMaxLabel = 255;

// The label values that make up a class: a voxel belongs to it when lo <= value <= hi.
struct LabelRange {
  uint8_t lo = 1;
  uint8_t hi = kMaxLabel;
  bool contains(uint8_t value) const { return value >= lo && value <= hi; }
};

// Any nonzero value: a plain binary mask.
inline constexpr LabelRange kForeground{1, kMaxLabel};

// The percentile HD95 takes of each directed distance set.
inline constexpr double kHausdorffPercentile = 95.0;

// Metrics of one class in one case. Empty-mask conventions (docs/metrics.md):
//  - both masks empty: dice = jaccard = 1, hd95 = asd = 0 (a correct "nothing here");
//  - exactly one empty: dice = jaccard = 0, hd95 = asd = NaN (no surface to measure to;
//    MONAI returns inf/nan). Reports write NaN as null (JSON) or an empty cell (CSV) and
//    summaries leave it out of the mean while counting it.
struct BinaryMetrics {
  double dice = 0.0;
  double jaccard = 0.0;
  double hd95 = 0.0;  // mm
  double asd = 0.0;   // mm
  int64_t pred_voxels = 0;
  int64_t gt_voxels = 0;
};

// The two directed surface-distance sets (mm): from each surface voxel of pred to the nearest
// surface voxel of gt, and the reverse. Empty when the source mask is empty; +inf entries when
// only the target is empty.
struct SurfaceDistances {
  std::vector<double> pred_to_gt;
  std::vector<double> gt_to_pred;
};

// Works on the bounding box of pred ∪ gt plus a one-voxel background margin, which gives
// exactly the full-volume result (outside the box both masks are background) at a fraction
// of the cost. Both maps must have the same size; spacing is taken from gt. Throws
// InputError (no path) when the sizes differ.
SurfaceDistances surface_distances(const LabelMap& pred, const LabelMap& gt,
                                   LabelRange range = kForeground);

// Dice alone (no surface distances: cheap enough for validation during training), with the
// same both-empty convention as compare_masks (1).
double dice(const LabelMap& pred, const LabelMap& gt, LabelRange range = kForeground);

BinaryMetrics compare_masks(const LabelMap& pred, const LabelMap& gt,
                            LabelRange range = kForeground);

// numpy.percentile(values, q) / torch.quantile(values, q / 100) with linear interpolation:
// rank = q/100 * (n - 1), interpolated between the two neighbouring order statistics.
// NaN for an empty set. q in [0, 100].
double percentile(std::vector<double> values, double q);

}  // namespace aslseg::metrics
