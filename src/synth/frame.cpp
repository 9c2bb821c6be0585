// GridFrame and the small analytic shapes shared by the painting passes.
#include <algorithm>
#include <cmath>

#include "aslseg/synth/anatomy.h"

namespace aslseg::synth {

namespace {
constexpr double kMm3PerMl = 1000.0;
}  // namespace

GridFrame::GridFrame(const Geometry& geometry, double fov_fraction) : g_(geometry) {
  rot_ = g_.direction;
  for (int a = 0; a < 3; ++a) centre_index_[a] = 0.5 * static_cast<double>(g_.size[a] - 1);
  const Vec3 centre_offset{centre_index_[0] * g_.spacing[0], centre_index_[1] * g_.spacing[1],
                           centre_index_[2] * g_.spacing[2]};
  world_centre_ = {
      g_.origin[0] + rot_[0] * centre_offset.x + rot_[1] * centre_offset.y +
          rot_[2] * centre_offset.z,
      g_.origin[1] + rot_[3] * centre_offset.x + rot_[4] * centre_offset.y +
          rot_[5] * centre_offset.z,
      g_.origin[2] + rot_[6] * centre_offset.x + rot_[7] * centre_offset.y +
          rot_[8] * centre_offset.z,
  };
  const double extent_x = static_cast<double>(g_.size[0]) * g_.spacing[0];
  const double extent_y = static_cast<double>(g_.size[1]) * g_.spacing[1];
  const double fov_radius = fov_fraction * 0.5 * std::min(extent_x, extent_y);
  fov_r2_ = fov_radius * fov_radius;
  edge_mm_ = (g_.spacing[0] + g_.spacing[1] + g_.spacing[2]) / 3.0;

  // Bounding box of the eight corner voxels in the anatomy frame.
  const double inf = std::numeric_limits<double>::infinity();
  lo_ = {inf, inf, inf};
  hi_ = {-inf, -inf, -inf};
  for (int corner = 0; corner < 8; ++corner) {
    const Vec3 p = point((corner & 1) ? g_.size[0] - 1 : 0, (corner & 2) ? g_.size[1] - 1 : 0,
                         (corner & 4) ? g_.size[2] - 1 : 0);
    lo_ = {std::min(lo_.x, p.x), std::min(lo_.y, p.y), std::min(lo_.z, p.z)};
    hi_ = {std::max(hi_.x, p.x), std::max(hi_.y, p.y), std::max(hi_.z, p.z)};
  }
}

Vec3 GridFrame::point(int64_t i, int64_t j, int64_t k) const {
  const double gx = (static_cast<double>(i) - centre_index_[0]) * g_.spacing[0];
  const double gy = (static_cast<double>(j) - centre_index_[1]) * g_.spacing[1];
  const double gz = (static_cast<double>(k) - centre_index_[2]) * g_.spacing[2];
  return {rot_[0] * gx + rot_[1] * gy + rot_[2] * gz, rot_[3] * gx + rot_[4] * gy + rot_[5] * gz,
          rot_[6] * gx + rot_[7] * gy + rot_[8] * gz};
}

Vec3 GridFrame::to_world(const Vec3& p) const { return world_centre_ + p; }

Vec3 GridFrame::to_index(const Vec3& p) const {
  // The direction is orthonormal, so its inverse is its transpose.
  const double gx = rot_[0] * p.x + rot_[3] * p.y + rot_[6] * p.z;
  const double gy = rot_[1] * p.x + rot_[4] * p.y + rot_[7] * p.z;
  const double gz = rot_[2] * p.x + rot_[5] * p.y + rot_[8] * p.z;
  return {gx / g_.spacing[0] + centre_index_[0], gy / g_.spacing[1] + centre_index_[1],
          gz / g_.spacing[2] + centre_index_[2]};
}

IndexBox GridFrame::box(const Vec3& centre, const Vec3& half) const {
  const Vec3 c = to_index(centre);
  const double cc[3] = {c.x, c.y, c.z};
  const double h[3] = {half.x, half.y, half.z};
  IndexBox b;
  for (int a = 0; a < 3; ++a) {
    double half_index = 0.0;
    for (int r = 0; r < 3; ++r) half_index += std::fabs(rot_[3 * r + a]) * h[r];
    half_index /= g_.spacing[a];
    const double n = static_cast<double>(g_.size[a]);
    // Clamp before converting: an elliptic cylinder has a near-infinite half extent.
    const double lo = std::clamp(std::ceil(cc[a] - half_index), 0.0, n);
    const double hi = std::clamp(std::floor(cc[a] + half_index), -1.0, n - 1.0);
    b.lo[a] = static_cast<int64_t>(lo);
    b.hi[a] = static_cast<int64_t>(hi);
  }
  return b;
}

IndexBox GridFrame::all() const {
  IndexBox b;
  b.hi = {g_.size[0] - 1, g_.size[1] - 1, g_.size[2] - 1};
  return b;
}

double GridFrame::voxel_ml() const {
  return g_.spacing[0] * g_.spacing[1] * g_.spacing[2] / kMm3PerMl;
}

double Ellipsoid::level(const Vec3& p) const {
  const double dz = p.z - centre.z;
  const double dx = (p.x - centre.x - lean_x * dz) / semi.x;
  const double dy = (p.y - centre.y - lean_y * dz) / semi.y;
  const double nz = dz / semi.z;
  return std::sqrt(dx * dx + dy * dy + nz * nz) - 1.0;
}

double Ellipsoid::mm_per_level() const {
  // The in-plane semi-axes dominate how far a level step moves the surface in most places;
  // cylinders have a huge z semi-axis that must not count.
  return std::min({semi.x, semi.y, semi.z});
}

Vec3 Ellipsoid::bound_half() const {
  return {semi.x + std::fabs(lean_x) * semi.z, semi.y + std::fabs(lean_y) * semi.z, semi.z};
}

}  // namespace aslseg::synth
