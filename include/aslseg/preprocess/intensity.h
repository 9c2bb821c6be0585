// CT intensity normalisation: HU windowing to [0, 1] and z-score normalisation with statistics
// taken over a mask (foreground, valid voxels only).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aslseg/io/volume.h"

namespace aslseg::preprocess {

// Default (liver) window: level 60 HU, width 400 HU, i.e. [-140, 260] HU. Wide enough to keep
// fat (~-100), hypo-dense tumours (~10-40) and contrast-enhanced vessels (~150-250) apart, and
// close to the clip ranges used by LiTS entries ([-200, 250], [-100, 240]).
constexpr float kLiverWindowLevel = 60.0f;
constexpr float kLiverWindowWidth = 400.0f;
// Radiology's standard abdominal soft-tissue window: level 50, width 400 -> [-150, 250].
constexpr float kAbdomenWindowLevel = 50.0f;
constexpr float kAbdomenWindowWidth = 400.0f;
// Air; value given to invalid (padding) voxels before z-scoring.
constexpr float kAirHu = -1000.0f;

struct WindowParams {
  float level = kLiverWindowLevel;
  float width = kLiverWindowWidth;

  float lower() const { return level - 0.5f * width; }
  float upper() const { return level + 0.5f * width; }
};

// Throws std::invalid_argument unless level is finite and width finite and > 0.
void validate(const WindowParams& w);

// Named presets, for configs ("window": "liver"). Throws std::invalid_argument listing the
// known names when `name` is unknown.
WindowParams window_preset(std::string_view name);
std::vector<std::string> window_preset_names();

// One voxel: lower() -> 0, level -> 0.5, upper() -> 1, clipped outside; NaN -> 0 (air).
// `w` must be valid (see validate); hot loops check it once instead of per voxel.
inline float window_value(float hu, const WindowParams& w) {
  const float lo = w.lower();
  if (!(hu > lo)) return 0.0f;  // also catches NaN
  if (hu >= w.upper()) return 1.0f;
  return (hu - lo) / w.width;
}

// Buffer version: out[i] = window_value(hu[i]), or 0 (the window's lower bound: air) where
// valid[i] == 0. `valid` may be null (every voxel valid). `out` may alias `hu`.
void apply_window(const float* hu, const uint8_t* valid, float* out, size_t n,
                  const WindowParams& w);

// Windowed copy in [0, 1] with the same geometry. Without a mask, padding still ends at 0
// because it lies below any sensible window; the mask also catches a padding value inside it.
Image apply_window(const Image& hu, const WindowParams& w = {});
Image apply_window(const Image& hu, const LabelMap& valid, const WindowParams& w = {});

// Mean and population standard deviation (divide by N) over the voxels of a mask.
struct MaskedStats {
  double mean = 0.0;
  double std = 0.0;
  int64_t count = 0;
};

// Guards the division on a (near-)constant region; same floor as nnU-Net's normalisation.
constexpr double kZScoreMinStd = 1e-8;

struct ZScoreParams {
  // (x - mean) / max(std, min_std).
  double min_std = kZScoreMinStd;
  // Invalid voxels are normalised as if they held this value (air), so that padding ends up
  // as dark as air instead of far below it.
  float invalid_hu = kAirHu;
};

// Statistics over voxels where `mask` != 0 (and `valid` != 0 in the second form).
// Throws std::invalid_argument when sizes differ or no voxel is selected.
MaskedStats masked_mean_std(const Image& image, const LabelMap& mask);
MaskedStats masked_mean_std(const Image& image, const LabelMap& mask, const LabelMap& valid);

// (x - stats.mean) / max(stats.std, min_std) on every voxel; invalid voxels are replaced by
// p.invalid_hu first. `stats` may come from another volume (dataset-wide statistics).
Image apply_zscore(const Image& image, const MaskedStats& stats, const LabelMap& valid,
                   const ZScoreParams& p = {});

// Statistics over foreground & valid voxels, then apply_zscore.
Image zscore_normalise(const Image& image, const LabelMap& foreground, const LabelMap& valid,
                       const ZScoreParams& p = {});

}  // namespace aslseg::preprocess
