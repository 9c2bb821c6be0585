// Draws the anatomy of one case: body outline and wall, organs, spine, liver lobes and the
// liver's vessel trees. Proportions are for an adult abdomen and scale with the body width;
// positions are fractions of the body half-width A (x: patient left, y: posterior,
// z: superior).
#include <algorithm>
#include <cmath>

#include "aslseg/synth/anatomy.h"
#include "aslseg/synth/rng.h"

namespace aslseg::synth {

namespace {

// Cylinders (spine muscles, aorta, IVC) run through the whole volume.
constexpr double kEndless = 1e9;

// Lattice feature sizes, as fractions of A.
constexpr double kContourCell = 0.35;
constexpr double kFatCell = 0.5;
constexpr double kVisceraCell = 0.12;
constexpr double kVisceraFineCell = 0.05;
constexpr double kGasCell = 0.1;
constexpr double kLiverShapeCell = 0.3;
constexpr double kLiverFineCell = 0.12;
constexpr double kTextureCell = 0.06;
constexpr double kBiasCell = 0.9;
// Noise lattices are cached over the body plus this margin (fraction of A).
constexpr double kLatticeMargin = 1.2;

// Vessel trees: how deep they branch and how each generation shrinks.
constexpr int kVesselDepth = 4;
constexpr int kVesselAttempts = 6;
constexpr double kVesselShrink = 0.72;
constexpr double kVesselShorten = 0.82;
constexpr double kVesselInsideLevel = -0.08;  // segment ends stay this deep in the liver

// Polynomial smooth minimum (Quilez): joins lobes without a crease.
double smooth_min(double a, double b, double k) {
  const double h = std::max(k - std::fabs(a - b), 0.0) / k;
  return std::min(a, b) - h * h * k * 0.25;
}

Vec3 normalised(const Vec3& v) { return v * (1.0 / v.norm()); }

struct VesselGrower {
  const Liver& liver;
  Rng& rng;
  std::vector<Segment>& out;

  void grow(const Vec3& start, const Vec3& dir, double radius, double length, int depth) {
    for (int attempt = 0; attempt < kVesselAttempts; ++attempt) {
      const double jitter = attempt == 0 ? 0.35 : 0.9;
      const Vec3 d = normalised(dir + rng.unit_vector() * jitter);
      const Vec3 end = start + d * length;
      if (liver.level(end) >= kVesselInsideLevel) continue;
      out.push_back({start, end, radius});
      if (depth > 0) {
        // Two children leaving on either side of the parent direction.
        const Vec3 side = rng.unit_vector();
        grow(end, normalised(d + side * 0.6), radius * kVesselShrink, length * kVesselShorten,
             depth - 1);
        grow(end, normalised(d - side * 0.6), radius * kVesselShrink, length * kVesselShorten,
             depth - 1);
      }
      return;
    }
  }
};

Organ organ(const Vec3& centre, const Vec3& semi, double hu, Tissue tissue, uint32_t claims) {
  Organ o;
  o.shape.centre = centre;
  o.shape.semi = semi;
  o.hu = hu;
  o.tissue = tissue;
  o.claims = claims;
  return o;
}

}  // namespace

double Liver::level(const Vec3& p) const {
  double f = lobes.front().level(p);
  for (size_t i = 1; i < lobes.size(); ++i) f = smooth_min(f, lobes[i].level(p), blend);
  return f - noise_amp * noise->at(p) - fine_amp * fine_noise->at(p);
}

double Dome::z_at(double x, double y) const {
  const double dx = (x - top.x) / radius_x, dy = (y - top.y) / radius_y;
  const double r2 = dx * dx + dy * dy;
  const double drop = r2 < 1.0 ? 1.0 - std::sqrt(1.0 - r2) : r2;
  return top.z - depth * drop;
}

Vec3 Liver::bound_lo() const {
  // Inside needs some lobe level below blend/4 + noise: grow each lobe by that much.
  const double grow = 1.0 + 0.25 * blend + noise_amp + fine_amp;
  Vec3 lo{kEndless, kEndless, kEndless};
  for (const Ellipsoid& e : lobes) {
    const Vec3 c = e.centre - e.bound_half() * grow;
    lo = {std::min(lo.x, c.x), std::min(lo.y, c.y), std::min(lo.z, c.z)};
  }
  return lo;
}

Vec3 Liver::bound_hi() const {
  const double grow = 1.0 + 0.25 * blend + noise_amp + fine_amp;
  Vec3 hi{-kEndless, -kEndless, -kEndless};
  for (const Ellipsoid& e : lobes) {
    const Vec3 c = e.centre + e.bound_half() * grow;
    hi = {std::max(hi.x, c.x), std::max(hi.y, c.y), std::max(hi.z, c.z)};
  }
  return hi;
}

std::unique_ptr<Anatomy> make_anatomy(uint64_t case_seed, double half_width_mm,
                                      const GridFrame& frame) {
  const double A = half_width_mm;
  auto anatomy = std::make_unique<Anatomy>();
  Anatomy& an = *anatomy;
  an.half_width_mm = A;

  // Smooth fields. Only the caching range depends on the grid, never the values.
  const uint64_t texture_key = stream_seed(case_seed, Stream::kTexture);
  const Vec3 lo{std::max(frame.extent_lo().x, -kLatticeMargin * A),
                std::max(frame.extent_lo().y, -kLatticeMargin * A), frame.extent_lo().z};
  const Vec3 hi{std::min(frame.extent_hi().x, kLatticeMargin * A),
                std::min(frame.extent_hi().y, kLatticeMargin * A), frame.extent_hi().z};
  auto field = [&](uint64_t id, double cell_fraction) {
    return std::make_unique<LatticeNoise>(hash_combine(texture_key, id), cell_fraction * A, lo, hi);
  };
  an.contour = field(1, kContourCell);
  an.fat = field(2, kFatCell);
  an.viscera = field(3, kVisceraCell);
  an.viscera_fine = field(8, kVisceraFineCell);
  an.gas = field(4, kGasCell);
  an.liver_shape = field(5, kLiverShapeCell);
  an.liver_fine = field(9, kLiverFineCell);
  an.texture = field(6, kTextureCell);
  an.bias = field(7, kBiasCell);

  // Liver first: the other organs are placed relative to its height.
  Rng lr(stream_seed(case_seed, Stream::kLiver));
  const double zc = A * lr.uniform(0.0, 0.25);
  const double s = lr.uniform(0.88, 1.12);
  Liver& liver = an.liver;
  Ellipsoid right{{-0.42 * A, -0.02 * A, zc}, Vec3{0.36, 0.42, 0.45} * (A * s)};
  right.lean_x = lr.uniform(-0.25, 0.05);
  right.lean_y = lr.uniform(-0.1, 0.1);
  Ellipsoid left{{lr.uniform(-0.02, 0.1) * A, -0.27 * A, zc + 0.18 * A * s},
                 Vec3{lr.uniform(0.26, 0.38), 0.15, 0.22} * (A * s)};
  left.lean_x = lr.uniform(-0.2, 0.2);
  Ellipsoid caudate{{-0.12 * A, 0.1 * A, zc + 0.08 * A}, Vec3{0.09, 0.09, 0.16} * (A * s)};
  liver.lobes = {right, left, caudate};
  if (lr.bernoulli(0.5)) {  // an inferior tongue of the right lobe (Riedel's lobe)
    liver.lobes.push_back(
        {{-0.58 * A, 0.02 * A, zc - 0.38 * A * s}, Vec3{0.14, 0.2, 0.24} * (A * s)});
  }
  liver.blend = 0.15;
  liver.noise_amp = lr.uniform(0.1, 0.2);
  liver.fine_amp = lr.uniform(0.02, 0.05);
  liver.mm_per_level = 0.36 * A * s;
  liver.noise = an.liver_shape.get();
  liver.fine_noise = an.liver_fine.get();
  an.liver_hu = lr.uniform(hu::kLiverMin, hu::kLiverMax);
  an.vessel_hu = lr.uniform(hu::kVesselMin, hu::kVesselMax);
  an.liver_texture_hu = lr.uniform(2.0, 6.0);

  Rng rng(stream_seed(case_seed, Stream::kAnatomy));
  Body& body = an.body;
  body.centre = {A * rng.uniform(-0.02, 0.02), A * rng.uniform(-0.02, 0.02), 0.0};
  body.semi_x = A * rng.uniform(0.96, 1.02);
  body.semi_y_anterior = A * rng.uniform(0.72, 0.78);
  body.semi_y_posterior = A * rng.uniform(0.64, 0.70);
  body.fat_fraction = rng.uniform(0.05, 0.12);
  body.muscle_fraction = rng.uniform(0.035, 0.05);
  body.rib_period_mm = 0.16 * A;
  body.rib_duty = 0.3;
  body.rib_phase = rng.uniform() * body.rib_period_mm;
  body.rib_bottom_z = zc - 0.35 * A;
  const double dome_top = zc + 0.44 * A * s;
  const double dome_depth = rng.uniform(0.5, 0.7) * A;
  body.domes = {
      {{-0.4 * A, 0.05 * A, dome_top}, 0.5 * A, 0.65 * A, dome_depth},
      {{0.4 * A, 0.05 * A, dome_top - rng.uniform(0.03, 0.1) * A}, 0.5 * A, 0.65 * A, dome_depth},
      {{0.02 * A, -0.2 * A, dome_top - rng.uniform(0.06, 0.12) * A},
       0.35 * A,
       0.35 * A,
       dome_depth},
  };
  body.heart_centre = {0.08 * A, -0.12 * A, 0.0};
  body.heart_semi = {0.34 * A, 0.28 * A, 0.0};

  Spine& spine = an.spine;
  spine.body_centre = {0.0, 0.36 * A, 0.0};
  spine.body_radius = 0.11 * A;
  spine.cortex = 0.018 * A;
  spine.canal_centre = {0.0, 0.52 * A, 0.0};
  spine.canal_radius = 0.05 * A;
  spine.arch_outer = 0.085 * A;
  spine.period_mm = 0.2 * A;
  spine.disc_mm = 0.045 * A;
  spine.phase_mm = rng.uniform() * spine.period_mm;

  const uint32_t soft = bit(kVisceraTissue) | bit(kFatTissue);
  // Paraspinal muscles and great vessels continue above the diaphragm.
  const uint32_t wall = soft | bit(kMuscleTissue) | bit(kLungTissue);
  const uint32_t vessel_claims = wall | bit(kOrganTissue);
  auto jitter = [&rng](double hu_value) { return hu_value + rng.uniform(-4.0, 4.0); };
  for (double side : {-1.0, 1.0}) {
    an.organs.push_back(organ({side * 0.17 * A, 0.5 * A, 0.0}, {0.12 * A, 0.09 * A, kEndless},
                              jitter(hu::kMuscle), kMuscleTissue, wall));
  }
  an.organs.push_back(organ({-0.40 * A, 0.33 * A, zc - 0.42 * A}, Vec3{0.11, 0.13, 0.27} * A,
                            jitter(hu::kKidney), kOrganTissue, soft));
  an.organs.push_back(organ({0.40 * A, 0.33 * A, zc - 0.32 * A}, Vec3{0.11, 0.13, 0.27} * A,
                            jitter(hu::kKidney), kOrganTissue, soft));
  // One draw per statement: the order in which function arguments are evaluated is
  // unspecified, and two draws in one call would differ between compilers.
  const double spleen_size = rng.uniform(0.8, 1.2);
  an.organs.push_back(organ({0.56 * A, 0.22 * A, zc + 0.02 * A},
                            Vec3{0.12, 0.2, 0.24} * (A * spleen_size), jitter(hu::kSpleen),
                            kOrganTissue, soft));
  Organ stomach = organ({0.32 * A, -0.12 * A, zc + 0.05 * A}, Vec3{0.2, 0.15, 0.25} * A,
                        jitter(hu::kStomachFluid), kOrganTissue, soft);
  stomach.gas_below_y = stomach.shape.centre.y - rng.uniform(0.04, 0.12) * A;
  an.organs.push_back(stomach);
  if (rng.bernoulli(0.8)) {  // the rest had a cholecystectomy
    an.organs.push_back(organ({-0.28 * A, -0.33 * A, zc - 0.28 * A}, Vec3{0.07, 0.08, 0.14} * A,
                              jitter(hu::kGallbladder), kOrganTissue, soft));
  }
  an.organs.push_back(organ({0.05 * A, 0.17 * A, 0.0}, {0.055 * A, 0.055 * A, kEndless},
                            an.vessel_hu + hu::kAortaExtra, kGreatVesselTissue, vessel_claims));
  an.organs.push_back(organ({-0.11 * A, 0.15 * A, 0.0}, {0.07 * A, 0.05 * A, kEndless},
                            an.vessel_hu - hu::kIvcDrop, kGreatVesselTissue, vessel_claims));

  // Portal vein branches spread from the hilum; hepatic veins drain towards the IVC.
  Rng vr(stream_seed(case_seed, Stream::kVessels));
  VesselGrower grower{liver, vr, an.vessels};
  const double length = 0.13 * A;
  const Vec3 hilum{-0.18 * A, 0.06 * A, zc - 0.08 * A};
  grower.grow(hilum, normalised({-1.0, -0.3, 0.15}), 0.035 * A, length, kVesselDepth);
  grower.grow(hilum, normalised({1.0, -0.6, 0.2}), 0.03 * A, length, kVesselDepth - 1);
  const Vec3 confluence{-0.11 * A, 0.12 * A, zc + 0.3 * A};
  for (const Vec3& d : {Vec3{-1.0, -0.5, 0.2}, Vec3{-0.2, -1.0, 0.1}, Vec3{0.6, -1.0, 0.15}})
    grower.grow(confluence, normalised(d), 0.03 * A, length, kVesselDepth - 1);
  return anatomy;
}

}  // namespace aslseg::synth
