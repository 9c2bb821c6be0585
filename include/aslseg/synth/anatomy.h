// Internals of make_phantom: the mapping between voxels and the anatomy frame, the analytic
// shapes of the abdomen (all in millimetres, so they do not depend on the voxel grid), and
// the painting passes. Used by phantom.cpp and its tests; not a stable API.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "aslseg/io/volume.h"
#include "aslseg/synth/noise.h"
#include "aslseg/synth/phantom.h"
#include "aslseg/synth/vec3.h"

namespace aslseg::synth {

struct IndexBox {
  std::array<int64_t, 3> lo{0, 0, 0};
  std::array<int64_t, 3> hi{-1, -1, -1};  // inclusive
  bool empty() const { return lo[0] > hi[0] || lo[1] > hi[1] || lo[2] > hi[2]; }
};

// The anatomy frame is millimetres from the volume centre along the world (LPS) axes: +x is
// the patient's left, +y posterior, +z superior. A voxel's anatomy point is
// direction * ((index - centre) * spacing), so flips and rotations move the voxels, not the
// patient.
class GridFrame {
 public:
  GridFrame(const Geometry& geometry, double fov_fraction);

  const Geometry& geometry() const { return g_; }
  Vec3 point(int64_t i, int64_t j, int64_t k) const;
  Vec3 to_world(const Vec3& p) const;
  Vec3 to_index(const Vec3& p) const;  // continuous voxel index
  // Voxels whose anatomy point can lie in the axis-aligned box centre +- half (clipped).
  IndexBox box(const Vec3& centre, const Vec3& half) const;
  IndexBox all() const;
  // The scan field is a circle in the voxel grid's own x-y plane, centred on the grid.
  bool in_fov(int64_t i, int64_t j) const {
    const double gx = (static_cast<double>(i) - centre_index_[0]) * g_.spacing[0];
    const double gy = (static_cast<double>(j) - centre_index_[1]) * g_.spacing[1];
    return gx * gx + gy * gy <= fov_r2_;
  }
  Vec3 extent_lo() const { return lo_; }  // anatomy-frame bounding box of the whole grid
  Vec3 extent_hi() const { return hi_; }
  // Width over which an edge blends two tissues: about one voxel, mimicking partial volume.
  double edge_mm() const { return edge_mm_; }
  double voxel_ml() const;

  // Calls f(linear_index, anatomy_point) for each voxel of `box`, x fastest; a callable
  // taking (linear_index, anatomy_point, i, j) also gets the in-plane index.
  template <typename F>
  void for_each(const IndexBox& b, F&& f) const {
    if (b.empty()) return;
    const Vec3 col0{rot_[0] * g_.spacing[0], rot_[3] * g_.spacing[0], rot_[6] * g_.spacing[0]};
    for (int64_t k = b.lo[2]; k <= b.hi[2]; ++k) {
      for (int64_t j = b.lo[1]; j <= b.hi[1]; ++j) {
        const Vec3 row = point(0, j, k);
        int64_t idx = b.lo[0] + g_.size[0] * (j + g_.size[1] * k);
        for (int64_t i = b.lo[0]; i <= b.hi[0]; ++i, ++idx) {
          if constexpr (std::is_invocable_v<F, int64_t, const Vec3&, int64_t, int64_t>)
            f(idx, row + col0 * static_cast<double>(i), i, j);
          else
            f(idx, row + col0 * static_cast<double>(i));
        }
      }
    }
  }

 private:
  Geometry g_;
  std::array<double, 9> rot_{};
  Vec3 world_centre_;
  std::array<double, 3> centre_index_{};
  double fov_r2_ = 0.0;
  double edge_mm_ = 1.0;
  Vec3 lo_, hi_;
};

// What a voxel holds while painting; decides which later structure may overwrite it.
enum Tissue : uint8_t {
  kOutOfFovTissue,
  kAirTissue,
  kFatTissue,
  kMuscleTissue,
  kVisceraTissue,  // bowel and mesenteric fat: free space the liver may occupy
  kLungTissue,
  kOrganTissue,
  kBoneTissue,
  kGreatVesselTissue,
  kLiverTissue,
  kLiverVesselTissue,
  kTumourTissue,
};
constexpr uint32_t bit(Tissue t) { return uint32_t{1} << t; }

// Fraction of a voxel covered by a shape, from the signed distance to its surface
// (negative inside): a linear ramp one edge width wide. >= 0.5 means the label is set.
inline double coverage(double signed_distance_mm, double edge_mm) {
  const double w = 0.5 - signed_distance_mm / edge_mm;
  return w < 0.0 ? 0.0 : (w > 1.0 ? 1.0 : w);
}

// An ellipsoid whose centre slides in x and y along z (an organ leaning in the body).
struct Ellipsoid {
  Vec3 centre;
  Vec3 semi;  // semi-axes in mm; a huge z makes an elliptic cylinder
  double lean_x = 0.0;
  double lean_y = 0.0;

  // Normalised radius minus one: < 0 inside.
  double level(const Vec3& p) const;
  // Rough mm per unit of level, to turn a level into a signed distance.
  double mm_per_level() const;
  Vec3 bound_half() const;  // half extents of an axis-aligned box holding it
};

struct Organ {
  Ellipsoid shape;
  double hu = 0.0;
  Tissue tissue = kOrganTissue;
  uint32_t claims = 0;  // tissues it may overwrite
  // Stomach: gas floats anteriorly (small y) above this y; NaN-free sentinel when absent.
  double gas_below_y = -std::numeric_limits<double>::infinity();
};

// One dome of the diaphragm: flat near its top, falling ever faster towards its rim (an
// ellipsoid cap), and on beyond the rim so the costophrenic recesses reach deep.
struct Dome {
  Vec3 top;  // x, y of the apex and its height z
  double radius_x = 1.0, radius_y = 1.0, depth = 0.0;
  double z_at(double x, double y) const;
};

struct Body {
  Vec3 centre;                                                         // only x and y are used
  double semi_x = 0.0, semi_y_anterior = 0.0, semi_y_posterior = 0.0;  // mm
  double fat_fraction = 0.0;     // subcutaneous fat thickness, in units of the body radius
  double muscle_fraction = 0.0;  // abdominal wall muscle thickness
  double rib_period_mm = 0.0, rib_duty = 0.0, rib_phase = 0.0, rib_bottom_z = 0.0;
  // Diaphragm: the highest of its domes (right, left, and the central tendon under the
  // heart). Above it the cavity holds lung, and the heart in front.
  std::vector<Dome> domes;
  Vec3 heart_centre, heart_semi;  // in-plane ellipse (x, y)
};

struct Spine {
  Vec3 body_centre;  // vertebral body (x, y)
  double body_radius = 0.0, cortex = 0.0;
  Vec3 canal_centre;
  double canal_radius = 0.0, arch_outer = 0.0;
  double period_mm = 0.0, disc_mm = 0.0, phase_mm = 0.0;
};

struct Liver {
  std::vector<Ellipsoid> lobes;
  double blend = 0.0;      // smooth-union width, in level units
  double noise_amp = 0.0;  // boundary perturbation, in level units: broad bulges ...
  double fine_amp = 0.0;   // ... and smaller bumps
  double mm_per_level = 1.0;
  const LatticeNoise* noise = nullptr;
  const LatticeNoise* fine_noise = nullptr;
  double level(const Vec3& p) const;  // < 0 inside the liver shape
  Vec3 bound_lo() const;
  Vec3 bound_hi() const;
};

struct Segment {  // a vessel piece: a capsule
  Vec3 a, b;
  double radius = 0.0;
};

struct Anatomy {
  double half_width_mm = 0.0;  // body semi-axis in x before per-case jitter
  Body body;
  Spine spine;
  std::vector<Organ> organs;  // painted in order
  Liver liver;
  std::vector<Segment> vessels;
  double liver_hu = 0.0, vessel_hu = 0.0, liver_texture_hu = 0.0;
  // Smooth fields (owned here; Liver keeps a pointer to `liver_shape`).
  std::unique_ptr<LatticeNoise> contour, fat, viscera, viscera_fine, gas, liver_shape, liver_fine,
      texture, bias;
};

// Draws the anatomy of one case. `half_width_mm` is half the body width; the frame only
// decides which lattice nodes are worth caching.
std::unique_ptr<Anatomy> make_anatomy(uint64_t case_seed, double half_width_mm,
                                      const GridFrame& frame);

struct Canvas {
  Image ct;
  LabelMap labels;
  std::vector<uint8_t> tissue;  // Tissue per voxel
};

// The painting passes, in order. Each blends its intensity with the coverage of its shape
// and takes the voxel (tissue, label) where the coverage is >= 0.5.
void paint_body(const Anatomy& a, const GridFrame& f, double out_of_fov_hu, Canvas& c);
void paint_organs(const Anatomy& a, const GridFrame& f, Canvas& c);
void paint_liver(const Anatomy& a, const GridFrame& f, Canvas& c);
std::vector<TumourInfo> paint_tumours(const PhantomParams& params, const Anatomy& a,
                                      uint64_t case_seed, const GridFrame& f, Canvas& c);

}  // namespace aslseg::synth
