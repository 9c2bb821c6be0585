// Valid-voxel mask: flags the out-of-field-of-view padding that CT scanners write outside the
// reconstruction circle, so that losses, statistics and thresholds can ignore it.
#pragma once

#include <cmath>
#include <optional>

#include "aslseg/io/volume.h"

namespace aslseg::preprocess {

// Real tissue and air never go below about -1024 HU; scanners pad with -2000, -2048, -3024 or
// -32768. Anything at or below -2000 HU is therefore padding, not anatomy.
constexpr float kPaddingThresholdHu = -2000.0f;

// Mask values (a LabelMap): 1 = valid voxel, 0 = padding / not measured.
constexpr uint8_t kInvalid = 0;
constexpr uint8_t kValid = 1;

struct InvalidMaskParams {
  // Voxels <= this value are invalid.
  float threshold_hu = kPaddingThresholdHu;
  // DICOM Pixel Padding Value (0028,0120) converted to HU (after RescaleSlope/Intercept):
  // voxels exactly equal to it are invalid too. Some scanners pad with a value above
  // -2000 (e.g. -1024), which the threshold alone would keep.
  std::optional<float> padding_value_hu;
};

// True when `hu` is a measured voxel. NaN (seen in float NIfTI exports) is invalid.
inline bool is_valid_hu(float hu, const InvalidMaskParams& p = {}) {
  if (std::isnan(hu) || hu <= p.threshold_hu) return false;
  return !(p.padding_value_hu && hu == *p.padding_value_hu);
}

// 1 where the voxel is valid, 0 where it is padding; same geometry as `hu`.
LabelMap valid_mask(const Image& hu, const InvalidMaskParams& p = {});

// Number of valid voxels (mask value != 0).
int64_t count_valid(const LabelMap& valid);

}  // namespace aslseg::preprocess
