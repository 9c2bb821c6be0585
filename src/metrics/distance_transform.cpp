#include "aslseg/metrics/distance_transform.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace aslseg::metrics {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// 1D squared distance transform of sampled function f (lower envelope of the parabolas
// (x - x_q)^2 + f(q), x_q = q * spacing) into d; +inf entries are not features and add no
// parabola. Scratch buffers are passed in so that a whole axis reuses one allocation.
void squared_distance_1d(const double* f, double* d, int64_t n, double spacing,
                         std::vector<int64_t>& v, std::vector<double>& z) {
  v.resize(static_cast<size_t>(n));
  z.resize(static_cast<size_t>(n) + 1);
  int64_t k = -1;  // index of the rightmost parabola of the envelope
  for (int64_t q = 0; q < n; ++q) {
    if (!std::isfinite(f[q])) continue;
    const double xq = static_cast<double>(q) * spacing;
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -kInf;
      z[1] = kInf;
      continue;
    }
    // Where the parabola of q overtakes the one of v[k]; z[0] = -inf keeps k >= 0.
    const auto intersection = [&](int64_t r) {
      const double xr = static_cast<double>(r) * spacing;
      return ((f[q] + xq * xq) - (f[r] + xr * xr)) / (2.0 * (xq - xr));
    };
    double s = intersection(v[k]);
    while (s <= z[k]) {
      --k;
      s = intersection(v[k]);
    }
    ++k;
    v[k] = q;
    z[k] = s;
    z[k + 1] = kInf;
  }
  if (k < 0) {
    for (int64_t p = 0; p < n; ++p) d[p] = kInf;
    return;
  }
  int64_t j = 0;
  for (int64_t p = 0; p < n; ++p) {
    const double xp = static_cast<double>(p) * spacing;
    while (z[j + 1] < xp) ++j;
    const double dx = xp - static_cast<double>(v[j]) * spacing;
    d[p] = dx * dx + f[v[j]];
  }
}

// The first pass sees only 0 (feature) or +inf, where the lower envelope reduces to the
// squared distance to the nearest feature of the line: two sweeps instead of parabolas.
void nearest_feature_1d(double* line, int64_t n, double spacing) {
  int64_t last = -1;  // nearest feature on the left
  for (int64_t p = 0; p < n; ++p) {
    if (line[p] == 0.0) {
      last = p;
    } else if (last >= 0) {
      const double dx = static_cast<double>(p - last) * spacing;
      line[p] = dx * dx;
    }
  }
  last = -1;  // nearest feature on the right
  for (int64_t p = n - 1; p >= 0; --p) {
    if (line[p] == 0.0) {
      last = p;
    } else if (last >= 0) {
      const double dx = static_cast<double>(last - p) * spacing;
      line[p] = std::min(line[p], dx * dx);
    }
  }
}

// Runs the 1D transform along `axis` over every line of the volume, in place. Lines along y
// or z are strided in memory, so they are handled a panel at a time: the size[0] lines that
// share (y or z) are gathered row by row (contiguous reads), transformed, and scattered back.
void transform_axis(Volume<double>& vol, int axis) {
  const auto& size = vol.geometry.size;
  const int64_t n = size[axis];
  if (n == 0 || vol.voxels.empty()) return;
  const double spacing = vol.geometry.spacing[axis];
  std::vector<int64_t> v;
  std::vector<double> z;
  std::vector<double> out(static_cast<size_t>(n));
  if (axis == 0) {
    for (int64_t line = 0; line < size[1] * size[2]; ++line)
      nearest_feature_1d(vol.voxels.data() + line * n, n, spacing);
    return;
  }
  const int64_t width = size[0];
  const int64_t stride = axis == 1 ? size[0] : size[0] * size[1];
  const int64_t panels = axis == 1 ? size[2] : size[1];
  const int64_t panel_step = axis == 1 ? size[0] * size[1] : size[0];
  std::vector<double> panel(static_cast<size_t>(width * n));
  for (int64_t p = 0; p < panels; ++p) {
    double* base = vol.voxels.data() + p * panel_step;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t x = 0; x < width; ++x) panel[x * n + i] = base[i * stride + x];
    for (int64_t x = 0; x < width; ++x) {
      double* line = panel.data() + x * n;
      squared_distance_1d(line, out.data(), n, spacing, v, z);
      std::copy(out.begin(), out.end(), line);
    }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t x = 0; x < width; ++x) base[i * stride + x] = panel[x * n + i];
  }
}

}  // namespace

LabelMap surface_voxels(const LabelMap& mask) {
  LabelMap surface(mask.geometry, 0);
  const auto& size = mask.geometry.size;
  const int64_t sx = size[0], sy = size[1], sz = size[2];
  const int64_t dy = sx, dz = sx * sy;
  for (int64_t z = 0; z < sz; ++z) {
    for (int64_t y = 0; y < sy; ++y) {
      const int64_t row = mask.index(0, y, z);
      for (int64_t x = 0; x < sx; ++x) {
        const int64_t i = row + x;
        if (!mask.voxels[i]) continue;
        // Interior only when all six face neighbours exist and are foreground: outside the
        // volume counts as background (border_value = 0).
        const bool interior = x > 0 && x + 1 < sx && y > 0 && y + 1 < sy && z > 0 && z + 1 < sz &&
                              mask.voxels[i - 1] && mask.voxels[i + 1] && mask.voxels[i - dy] &&
                              mask.voxels[i + dy] && mask.voxels[i - dz] && mask.voxels[i + dz];
        surface.voxels[i] = interior ? 0 : 1;
      }
    }
  }
  return surface;
}

Volume<double> euclidean_distance_to(const LabelMap& features) {
  Volume<double> dist(features.geometry, kInf);
  for (size_t i = 0; i < features.voxels.size(); ++i)
    if (features.voxels[i]) dist.voxels[i] = 0.0;
  // Squared distances are separable: the minimum over features of sum_a (dx_a)^2 is taken
  // one axis at a time; the square root comes last.
  for (int axis = 0; axis < 3; ++axis) transform_axis(dist, axis);
  for (double& d : dist.voxels) d = std::sqrt(d);
  return dist;
}

}  // namespace aslseg::metrics
