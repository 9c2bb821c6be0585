#include "aslseg/synth/noise.h"

#include <algorithm>
#include <cmath>

#include "aslseg/synth/rng.h"

namespace aslseg::synth {

namespace {
// Above this many nodes the lattice is not cached (values are hashed on demand instead), so
// an odd grid cannot make a phantom allocate gigabytes.
constexpr int64_t kMaxCachedNodes = int64_t{1} << 24;

double node_value(uint64_t key, int64_t ix, int64_t iy, int64_t iz) {
  return 2.0 * to_unit(hash3(key, ix, iy, iz)) - 1.0;
}

inline double smoothstep(double t) { return t * t * (3.0 - 2.0 * t); }
inline double lerp(double a, double b, double t) { return a + (b - a) * t; }
}  // namespace

LatticeNoise::LatticeNoise(uint64_t key, double cell_mm, const Vec3& lo, const Vec3& hi)
    : key_(key), cell_(cell_mm), inv_cell_(1.0 / cell_mm) {
  const double lo_mm[3] = {lo.x, lo.y, lo.z};
  const double hi_mm[3] = {hi.x, hi.y, hi.z};
  int64_t total = 1;
  for (int a = 0; a < 3; ++a) {
    lo_[a] = static_cast<int64_t>(std::floor(lo_mm[a] * inv_cell_)) - 1;
    const int64_t hi_node = static_cast<int64_t>(std::floor(hi_mm[a] * inv_cell_)) + 2;
    n_[a] = std::max<int64_t>(1, hi_node - lo_[a] + 1);
    total = (total > kMaxCachedNodes) ? total : total * n_[a];
  }
  if (total > kMaxCachedNodes) {
    n_[0] = n_[1] = n_[2] = 0;
    return;
  }
  cache_.resize(static_cast<size_t>(total));
  size_t i = 0;
  for (int64_t z = 0; z < n_[2]; ++z)
    for (int64_t y = 0; y < n_[1]; ++y)
      for (int64_t x = 0; x < n_[0]; ++x)
        cache_[i++] = static_cast<float>(node_value(key_, x + lo_[0], y + lo_[1], z + lo_[2]));
}

double LatticeNoise::node(int64_t ix, int64_t iy, int64_t iz) const {
  const int64_t x = ix - lo_[0], y = iy - lo_[1], z = iz - lo_[2];
  if (x >= 0 && y >= 0 && z >= 0 && x < n_[0] && y < n_[1] && z < n_[2])
    return cache_[static_cast<size_t>(x + n_[0] * (y + n_[1] * z))];
  // Same value as the cache would hold (both go through float).
  return static_cast<float>(node_value(key_, ix, iy, iz));
}

namespace {

struct CellPosition {
  int64_t cell[3];
  double t[3];  // smoothstep weights within the cell
};

// Hot: called for most voxels several times, so kept inline.
inline CellPosition locate(const Vec3& p, double inv_cell) {
  const double f[3] = {p.x * inv_cell, p.y * inv_cell, p.z * inv_cell};
  CellPosition c;
  for (int a = 0; a < 3; ++a) {
    const double fl = std::floor(f[a]);
    c.cell[a] = static_cast<int64_t>(fl);
    c.t[a] = smoothstep(f[a] - fl);
  }
  return c;
}

// Interpolation order is fixed (z, then y, then x) so that a sampler can reuse the y-z part
// along a row of voxels and still give bit-identical values.
inline double along_yz(const double v[8], int x, double ty, double tz) {
  return lerp(lerp(v[x], v[x + 2], ty), lerp(v[x + 4], v[x + 6], ty), tz);
}

inline double interpolate(const double v[8], const double t[3]) {
  return lerp(along_yz(v, 0, t[1], t[2]), along_yz(v, 1, t[1], t[2]), t[0]);
}

}  // namespace

void LatticeNoise::corners(int64_t ix, int64_t iy, int64_t iz, double out[8]) const {
  const int64_t x = ix - lo_[0], y = iy - lo_[1], z = iz - lo_[2];
  if (x >= 0 && y >= 0 && z >= 0 && x + 1 < n_[0] && y + 1 < n_[1] && z + 1 < n_[2]) {
    const float* base = cache_.data() + (x + n_[0] * (y + n_[1] * z));
    const int64_t sy = n_[0], sz = n_[0] * n_[1];
    out[0] = base[0];
    out[1] = base[1];
    out[2] = base[sy];
    out[3] = base[sy + 1];
    out[4] = base[sz];
    out[5] = base[sz + 1];
    out[6] = base[sz + sy];
    out[7] = base[sz + sy + 1];
    return;
  }
  for (int k = 0; k < 8; ++k) out[k] = node(ix + (k & 1), iy + ((k >> 1) & 1), iz + (k >> 2));
}

double LatticeNoise::at(const Vec3& p) const {
  const CellPosition c = locate(p, inv_cell_);
  double v[8];
  corners(c.cell[0], c.cell[1], c.cell[2], v);
  return interpolate(v, c.t);
}

double LatticeNoise::Sampler::at(const Vec3& p) {
  const double fx = p.x * noise_.inv_cell_;
  const double flx = std::floor(fx);
  const auto ix = static_cast<int64_t>(flx);
  const double tx = smoothstep(fx - flx);
  // Same y and z as the previous lookup (a voxel row of an axis-aligned grid) and same
  // cell: only the x interpolation is left to do.
  if (p.y == last_y_ && p.z == last_z_ && ix == cell_[0]) return lerp(yz_[0], yz_[1], tx);
  const CellPosition c = locate(p, noise_.inv_cell_);
  if (c.cell[0] != cell_[0] || c.cell[1] != cell_[1] || c.cell[2] != cell_[2]) {
    noise_.corners(c.cell[0], c.cell[1], c.cell[2], corner_);
    cell_[0] = c.cell[0];
    cell_[1] = c.cell[1];
    cell_[2] = c.cell[2];
  }
  last_y_ = p.y;
  last_z_ = p.z;
  yz_[0] = along_yz(corner_, 0, c.t[1], c.t[2]);
  yz_[1] = along_yz(corner_, 1, c.t[1], c.t[2]);
  return lerp(yz_[0], yz_[1], tx);
}

}  // namespace aslseg::synth
