#include "aslseg/preprocess/intensity.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace aslseg::preprocess {
namespace {

struct NamedWindow {
  const char* name;
  WindowParams params;
};

const NamedWindow kWindowPresets[] = {
    {"liver", {kLiverWindowLevel, kLiverWindowWidth}},
    {"abdomen", {kAbdomenWindowLevel, kAbdomenWindowWidth}},
};

std::string size_text(const Geometry& g) {
  return std::to_string(g.size[0]) + "x" + std::to_string(g.size[1]) + "x" +
         std::to_string(g.size[2]);
}

void require_same_size(const Geometry& a, const Geometry& b, const char* what) {
  if (a.size != b.size) {
    throw std::invalid_argument(std::string(what) + ": mask size " + size_text(b) +
                                " differs from image size " + size_text(a));
  }
}

}  // namespace

void validate(const WindowParams& w) {
  if (!std::isfinite(w.level) || !std::isfinite(w.width) || !(w.width > 0.0f)) {
    throw std::invalid_argument(
        "HU window: level must be finite and width finite and > 0 (got "
        "level " +
        std::to_string(w.level) + ", width " + std::to_string(w.width) + ")");
  }
}

WindowParams window_preset(std::string_view name) {
  for (const auto& preset : kWindowPresets) {
    if (name == preset.name) return preset.params;
  }
  std::string known;
  for (const auto& n : window_preset_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown HU window preset '" + std::string(name) +
                              "' (known: " + known + ")");
}

std::vector<std::string> window_preset_names() {
  std::vector<std::string> names;
  for (const auto& preset : kWindowPresets) names.emplace_back(preset.name);
  return names;
}

void apply_window(const float* hu, const uint8_t* valid, float* out, size_t n,
                  const WindowParams& w) {
  validate(w);
  if (valid == nullptr) {
    for (size_t i = 0; i < n; ++i) out[i] = window_value(hu[i], w);
    return;
  }
  for (size_t i = 0; i < n; ++i) out[i] = valid[i] ? window_value(hu[i], w) : 0.0f;
}

Image apply_window(const Image& hu, const WindowParams& w) {
  Image out(hu.geometry);
  apply_window(hu.voxels.data(), nullptr, out.voxels.data(), hu.voxels.size(), w);
  return out;
}

Image apply_window(const Image& hu, const LabelMap& valid, const WindowParams& w) {
  require_same_size(hu.geometry, valid.geometry, "apply_window");
  Image out(hu.geometry);
  apply_window(hu.voxels.data(), valid.voxels.data(), out.voxels.data(), hu.voxels.size(), w);
  return out;
}

namespace {

// Two passes (mean, then squared deviations) in double: one pass of sum/sum-of-squares loses
// digits on 10^8 voxels of values near -1000.
template <typename Selected>
MaskedStats stats_where(const Image& image, Selected selected) {
  MaskedStats s;
  double sum = 0.0;
  const size_t n = image.voxels.size();
  for (size_t i = 0; i < n; ++i) {
    if (selected(i)) {
      sum += image.voxels[i];
      ++s.count;
    }
  }
  if (s.count == 0) {
    throw std::invalid_argument("masked_mean_std: the mask selects no voxel");
  }
  s.mean = sum / static_cast<double>(s.count);
  double squares = 0.0;
  for (size_t i = 0; i < n; ++i) {
    if (selected(i)) {
      const double d = image.voxels[i] - s.mean;
      squares += d * d;
    }
  }
  s.std = std::sqrt(squares / static_cast<double>(s.count));
  return s;
}

}  // namespace

MaskedStats masked_mean_std(const Image& image, const LabelMap& mask) {
  require_same_size(image.geometry, mask.geometry, "masked_mean_std");
  const uint8_t* m = mask.voxels.data();
  return stats_where(image, [m](size_t i) { return m[i] != 0; });
}

MaskedStats masked_mean_std(const Image& image, const LabelMap& mask, const LabelMap& valid) {
  require_same_size(image.geometry, mask.geometry, "masked_mean_std");
  require_same_size(image.geometry, valid.geometry, "masked_mean_std (valid mask)");
  const uint8_t* m = mask.voxels.data();
  const uint8_t* v = valid.voxels.data();
  return stats_where(image, [m, v](size_t i) { return m[i] != 0 && v[i] != 0; });
}

Image apply_zscore(const Image& image, const MaskedStats& stats, const LabelMap& valid,
                   const ZScoreParams& p) {
  require_same_size(image.geometry, valid.geometry, "apply_zscore");
  if (!std::isfinite(stats.mean) || !std::isfinite(stats.std) || !(p.min_std > 0.0)) {
    throw std::invalid_argument("apply_zscore: mean and std must be finite and min_std > 0");
  }
  const double scale = 1.0 / std::max(stats.std, p.min_std);
  Image out(image.geometry);
  const size_t n = image.voxels.size();
  for (size_t i = 0; i < n; ++i) {
    const double x = valid.voxels[i] ? image.voxels[i] : p.invalid_hu;
    out.voxels[i] = static_cast<float>((x - stats.mean) * scale);
  }
  return out;
}

Image zscore_normalise(const Image& image, const LabelMap& foreground, const LabelMap& valid,
                       const ZScoreParams& p) {
  return apply_zscore(image, masked_mean_std(image, foreground, valid), valid, p);
}

}  // namespace aslseg::preprocess
