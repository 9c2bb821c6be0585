// Painting passes for everything but the liver: scan field, air, the body wall (fat, muscle,
// ribs), the bowel-filled abdominal cavity, the solid organs, the great vessels and the
// spine.
#include <algorithm>
#include <cmath>
#include <limits>

#include "aslseg/synth/anatomy.h"

namespace aslseg::synth {

namespace {

// Bowel versus mesenteric fat: how sharply the viscera noise field switches between them.
// Two octaves, the fine one on rotated axes, so the lattice's grid does not show.
constexpr double kBowelSharpness = 1.8;
constexpr double kCoarseWeight = 0.65;
constexpr double kFineWeight = 0.35;
constexpr double kFineCos = 0.79863551004729283;  // cos and sin of 37 degrees
constexpr double kFineSin = 0.60181502315204827;
// Gas pockets where the gas field exceeds this (inside bowel only), ramping over kGasRamp.
constexpr double kGasThreshold = 0.7;
constexpr double kGasRamp = 0.08;
// Body outline wobble and fat-thickness variation, relative.
constexpr double kContourWobble = 0.03;
constexpr double kFatVariation = 0.45;
// Ribs leave the anterior midline free (costal margin) this far either side (fraction of A).
constexpr double kRibMidlineGap = 0.3;
// Ribs slope: anterior ends lie lower than posterior ends.
constexpr double kRibSlope = 0.35;
// The vertebral arch has gaps between neighbouring vertebrae.
constexpr double kArchDuty = 0.7;
constexpr double kSpinousHalfWidth = 0.022;  // fraction of A
constexpr double kSpinousLength = 0.11;

double lerp(double a, double b, double t) { return a + (b - a) * t; }
double smoothstep01(double t) {
  t = std::clamp(t, 0.0, 1.0);
  return t * t * (3.0 - 2.0 * t);
}
double fract(double x) { return x - std::floor(x); }
constexpr double kLungTextureHu = 40.0;

Vec3 rotated(const Vec3& p) {
  return {kFineCos * p.x - kFineSin * p.y, kFineSin * p.x + kFineCos * p.y, p.z};
}

bool in_ellipse(const Vec3& p, const Vec3& centre, const Vec3& semi) {
  const double dx = (p.x - centre.x) / semi.x, dy = (p.y - centre.y) / semi.y;
  return dx * dx + dy * dy < 1.0;
}

// Height of the diaphragm above (x, y): the highest dome there.
double diaphragm_z(const Body& b, const Vec3& p) {
  double z = -std::numeric_limits<double>::infinity();
  for (const Dome& d : b.domes) z = std::max(z, d.z_at(p.x, p.y));
  return z;
}

}  // namespace

void paint_body(const Anatomy& an, const GridFrame& frame, double out_of_fov_hu, Canvas& c) {
  const Body& b = an.body;
  const double edge = frame.edge_mm();
  const double A = an.half_width_mm;
  LatticeNoise::Sampler contour(*an.contour), fat_noise(*an.fat), viscera(*an.viscera),
      viscera_fine(*an.viscera_fine), gas(*an.gas);
  // Below this rho a voxel is in the cavity whatever the wall noise says (the coverages
  // clamp to 1), so the wall noise need not be looked up: a pure shortcut. The bound uses
  // the extremes of both noises (+-1) and a full edge width of margin.
  const double max_wall = b.fat_fraction * (1.0 + kFatVariation) + b.muscle_fraction;
  const double deep_rho = (1.0 - kContourWobble) * (1.0 - max_wall - edge / b.semi_y_posterior);
  frame.for_each(frame.all(), [&](int64_t idx, const Vec3& p, int64_t i, int64_t j) {
    float& out = c.ct.voxels[static_cast<size_t>(idx)];
    uint8_t& tissue = c.tissue[static_cast<size_t>(idx)];
    if (!frame.in_fov(i, j)) {
      out = static_cast<float>(out_of_fov_hu);
      tissue = kOutOfFovTissue;
      return;
    }
    const double dx = (p.x - b.centre.x) / b.semi_x;
    const double dy =
        (p.y - b.centre.y) / (p.y < b.centre.y ? b.semi_y_anterior : b.semi_y_posterior);
    const double raw_rho = std::sqrt(dx * dx + dy * dy);
    // mm per unit of rho, roughly the body radius: turns rho differences into distances.
    const double mm_per_rho = b.semi_y_posterior;
    if ((raw_rho - 1.0 - kContourWobble) * mm_per_rho > edge) {  // clearly outside
      out = static_cast<float>(hu::kAir);
      tissue = kAirTissue;
      return;
    }
    double w_skin = 1.0, w_muscle = 1.0, w_cavity = 1.0;
    if (raw_rho >= deep_rho) {
      const double rho = raw_rho / (1.0 + kContourWobble * contour.at(p));
      const double fat = b.fat_fraction * (1.0 + kFatVariation * fat_noise.at(p));
      const double cavity = 1.0 - fat - b.muscle_fraction;
      w_skin = coverage((rho - 1.0) * mm_per_rho, edge);
      w_muscle = coverage((rho - (1.0 - fat)) * mm_per_rho, edge);
      w_cavity = coverage((rho - cavity) * mm_per_rho, edge);
    }

    double value = lerp(hu::kAir, hu::kFat, w_skin);
    Tissue t = w_skin >= 0.5 ? kFatTissue : kAirTissue;
    if (w_muscle > 0.0) {
      double wall_hu = hu::kMuscle;
      // Ribs: oblique bands in the upper wall, sparing the anterior midline.
      const bool rib_level = p.z > b.rib_bottom_z;
      const bool lateral = std::fabs(p.x - b.centre.x) > kRibMidlineGap * A || p.y > b.centre.y;
      if (rib_level && lateral && w_cavity < 0.5 &&
          fract((p.z + kRibSlope * (b.centre.y - p.y) + b.rib_phase) / b.rib_period_mm) <
              b.rib_duty) {
        wall_hu = hu::kRib;
      }
      value = lerp(value, wall_hu, w_muscle);
      if (w_muscle >= 0.5) t = wall_hu == hu::kRib ? kBoneTissue : kMuscleTissue;
    }
    if (w_cavity > 0.0) {
      // Above the diaphragm the cavity is lung (heart in front); below, bowel and fat.
      const double w_lung = coverage(diaphragm_z(b, p) - p.z, edge);
      const bool heart = in_ellipse(p, b.heart_centre, b.heart_semi);
      double inside = 0.0;
      if (w_lung < 1.0) {
        const double n = kCoarseWeight * viscera.at(p) + kFineWeight * viscera_fine.at(rotated(p));
        const double bowel = smoothstep01(0.5 + kBowelSharpness * n);
        inside = lerp(hu::kFat, hu::kBowel, bowel);
        if (bowel > 0.5) {
          const double w_gas = std::clamp((gas.at(p) - kGasThreshold) / kGasRamp, 0.0, 1.0);
          inside = lerp(inside, hu::kBowelGas, w_gas);
        }
      }
      if (w_lung > 0.0) {
        const double chest = heart ? hu::kHeart : hu::kLung + kLungTextureHu * viscera_fine.at(p);
        inside = lerp(inside, chest, w_lung);
      }
      value = lerp(value, inside, w_cavity);
      if (w_cavity >= 0.5)
        t = w_lung >= 0.5 ? (heart ? kOrganTissue : kLungTissue) : kVisceraTissue;
    }
    out = static_cast<float>(value);
    tissue = t;
  });
}

namespace {

void paint_organ(const Organ& o, const GridFrame& frame, Canvas& c) {
  const double edge = frame.edge_mm();
  const double mm = o.shape.mm_per_level();
  const Vec3 margin{edge, edge, edge};
  frame.for_each(frame.box(o.shape.centre, o.shape.bound_half() + margin),
                 [&](int64_t idx, const Vec3& p) {
                   const size_t v = static_cast<size_t>(idx);
                   if (!(o.claims & bit(static_cast<Tissue>(c.tissue[v])))) return;
                   const double w = coverage(o.shape.level(p) * mm, edge);
                   if (w <= 0.0) return;
                   const double value = p.y < o.gas_below_y ? hu::kBowelGas : o.hu;
                   c.ct.voxels[v] = static_cast<float>(lerp(c.ct.voxels[v], value, w));
                   if (w >= 0.5) c.tissue[v] = o.tissue;
                 });
}

void paint_spine(const Spine& s, double A, const GridFrame& frame, Canvas& c) {
  const double edge = frame.edge_mm();
  const uint32_t claims = ~(bit(kOutOfFovTissue) | bit(kAirTissue));
  const double reach = s.canal_centre.y + s.canal_radius + kSpinousLength * A - s.body_centre.y;
  const Vec3 half{s.body_radius + edge, reach + edge, 1e9};
  frame.for_each(
      frame.box({s.body_centre.x, s.body_centre.y + 0.5 * reach, 0.0}, half),
      [&](int64_t idx, const Vec3& p) {
        const size_t v = static_cast<size_t>(idx);
        if (!(claims & bit(static_cast<Tissue>(c.tissue[v])))) return;
        const double phase = fract((p.z + s.phase_mm) / s.period_mm);
        const bool in_disc = phase * s.period_mm < s.disc_mm;
        const double bx = p.x - s.body_centre.x, by = p.y - s.body_centre.y;
        const double body_r = std::sqrt(bx * bx + by * by);
        const double cx = p.x - s.canal_centre.x, cy = p.y - s.canal_centre.y;
        const double canal_r = std::sqrt(cx * cx + cy * cy);
        double value = 0.0, w = 0.0;
        Tissue t = kBoneTissue;
        if (body_r < s.body_radius + edge) {
          w = coverage(body_r - s.body_radius, edge);
          value = in_disc ? hu::kDisc
                          : (body_r > s.body_radius - s.cortex ? hu::kCorticalBone
                                                               : hu::kCancellousBone);
        } else if (canal_r < s.canal_radius) {
          w = 1.0;
          value = hu::kCsf;
          t = kOrganTissue;
        } else if (phase < kArchDuty && ((canal_r < s.arch_outer && cy > -0.5 * s.canal_radius) ||
                                         (std::fabs(cx) < kSpinousHalfWidth * A && cy > 0.0 &&
                                          cy < s.canal_radius + kSpinousLength * A))) {
          w = 1.0;
          value = hu::kVertebralArch;
        }
        if (w <= 0.0) return;
        c.ct.voxels[v] = static_cast<float>(lerp(c.ct.voxels[v], value, w));
        if (w >= 0.5) c.tissue[v] = t;
      });
}

}  // namespace

void paint_organs(const Anatomy& an, const GridFrame& frame, Canvas& c) {
  for (const Organ& o : an.organs) paint_organ(o, frame, c);
  paint_spine(an.spine, an.half_width_mm, frame, c);
}

}  // namespace aslseg::synth
