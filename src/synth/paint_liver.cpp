// Painting passes for the liver: parenchyma with texture, contrast-filled vessels (label
// liver), and tumours (label tumour) placed inside the liver or on its surface, clipped to
// the liver.
#include <algorithm>
#include <cmath>

#include "aslseg/synth/anatomy.h"
#include "aslseg/synth/rng.h"

namespace aslseg::synth {

namespace {

constexpr int kPlacementAttempts = 400;
// Liver level ranges (see Liver::level) for tumour centres: interior lesions sit this deep,
// edge lesions straddle the surface.
constexpr double kInteriorLevel = -0.1;
constexpr double kEdgeLevelMin = -0.05;
constexpr double kEdgeLevelMax = 0.0;
// Irregular outline: this many random low-order lobes (degree 2 and 3 Legendre terms).
constexpr int kTumourLobes = 4;
constexpr double kTumourTextureHu = 4.0;
// Large hypodense lesions: optional necrotic centre and enhancing rim.
constexpr double kNecroticAdultRadiusMm = 15.0;
constexpr double kNecroticCoreFraction = 0.45;
constexpr double kNecroticDropHu = 15.0;
constexpr double kRimMinContrast = -45.0;  // only clearly hypodense lesions get a rim
constexpr double kRimProbability = 0.3;
constexpr double kNecroticProbability = 0.5;
constexpr double kRimFraction = 0.85;  // rim = outer 15% of the radius
constexpr double kRimAboveLiverHu = 15.0;

constexpr uint32_t kLiverClaims = bit(kLiverTissue) | bit(kLiverVesselTissue);

double lerp(double a, double b, double t) { return a + (b - a) * t; }

double legendre(int degree, double t) {
  return degree == 2 ? 1.5 * t * t - 0.5 : (2.5 * t * t - 1.5) * t;
}

struct Lesion {
  TumourInfo info;
  Vec3 centre;  // anatomy frame
  double radius = 0.0, amplitude = 0.0;
  Vec3 lobe_axis[kTumourLobes];
  double lobe_weight[kTumourLobes] = {};

  // Radius towards `dir` (unit vector).
  double radius_towards(const Vec3& dir) const {
    double g = 0.0;
    for (int k = 0; k < kTumourLobes; ++k)
      g += lobe_weight[k] * legendre(2 + k % 2, dir.dot(lobe_axis[k]));
    return radius * (1.0 + amplitude * g);
  }
};

Lesion draw_lesion(const PhantomParams& params, double scale, double liver_hu, Rng& rng) {
  Lesion l;
  TumourInfo& t = l.info;
  const double u = rng.uniform();
  if (u < params.isodense_probability) {
    t.kind = TumourKind::kIsodense;
    t.contrast_hu = rng.uniform(hu::kIsoContrastMin, hu::kIsoContrastMax);
  } else if (u < params.isodense_probability + params.hyperdense_probability) {
    t.kind = TumourKind::kHyperdense;
    t.contrast_hu = rng.uniform(hu::kHyperContrastMin, hu::kHyperContrastMax);
  } else {
    t.kind = TumourKind::kHypodense;
    t.contrast_hu = rng.uniform(hu::kHypoContrastMin, hu::kHypoContrastMax);
  }
  t.hu = liver_hu + t.contrast_hu;
  const double adult_radius =
      rng.log_uniform(params.tumour_radius_min_mm, params.tumour_radius_max_mm);
  l.radius = adult_radius * scale;
  t.radius_mm = l.radius;
  t.at_edge = rng.bernoulli(params.edge_tumour_probability);
  l.amplitude = params.tumour_irregularity * rng.uniform(0.4, 1.0);
  double total = 0.0;
  for (int k = 0; k < kTumourLobes; ++k) {
    l.lobe_axis[k] = rng.unit_vector();
    l.lobe_weight[k] = rng.uniform(-1.0, 1.0);
    total += std::fabs(l.lobe_weight[k]);
  }
  // Normalise so that |perturbation| <= amplitude: |P2|, |P3| <= 1 on [-1, 1].
  for (double& w : l.lobe_weight) w = total > 0.0 ? w / total : 0.0;
  t.max_radius_mm = l.radius * (1.0 + l.amplitude);
  const bool hypo = t.kind == TumourKind::kHypodense;
  t.rim = rng.bernoulli(kRimProbability) && hypo && t.contrast_hu <= kRimMinContrast;
  t.necrotic_core =
      rng.bernoulli(kNecroticProbability) && hypo && adult_radius > kNecroticAdultRadiusMm;
  return l;
}

bool is_liver_voxel(const Vec3& p, const GridFrame& frame, const Canvas& c) {
  const Vec3 f = frame.to_index(p);
  const double idx[3] = {std::floor(f.x + 0.5), std::floor(f.y + 0.5), std::floor(f.z + 0.5)};
  for (int a = 0; a < 3; ++a)
    if (idx[a] < 0.0 || idx[a] >= static_cast<double>(frame.geometry().size[a])) return false;
  const size_t v = static_cast<size_t>(c.labels.index(
      static_cast<int64_t>(idx[0]), static_cast<int64_t>(idx[1]), static_cast<int64_t>(idx[2])));
  return (kLiverClaims & bit(static_cast<Tissue>(c.tissue[v]))) != 0;
}

bool place(Lesion& l, const std::vector<Lesion>& placed, const Anatomy& an, const GridFrame& frame,
           const Canvas& c, Rng& rng) {
  const Vec3 lo = an.liver.bound_lo(), hi = an.liver.bound_hi();
  const double edge = frame.edge_mm();
  for (int attempt = 0; attempt < kPlacementAttempts; ++attempt) {
    const Vec3 p{rng.uniform(lo.x, hi.x), rng.uniform(lo.y, hi.y), rng.uniform(lo.z, hi.z)};
    const double level = an.liver.level(p);
    const bool ok_level = l.info.at_edge ? (level >= kEdgeLevelMin && level <= kEdgeLevelMax)
                                         : level < kInteriorLevel;
    if (!ok_level || !is_liver_voxel(p, frame, c)) continue;
    bool apart = true;
    for (const Lesion& o : placed) {
      const double gap = l.info.max_radius_mm + o.info.max_radius_mm + 2.0 * edge;
      if ((p - o.centre).norm2() < gap * gap) apart = false;
    }
    if (!apart) continue;
    l.centre = p;
    return true;
  }
  return false;
}

void paint_lesion(Lesion& l, const Anatomy& an, const GridFrame& frame, Canvas& c) {
  const double edge = frame.edge_mm();
  const double reach = l.info.max_radius_mm + edge;
  const TumourInfo& t = l.info;
  frame.for_each(frame.box(l.centre, {reach, reach, reach}), [&](int64_t idx, const Vec3& p) {
    const size_t v = static_cast<size_t>(idx);
    if (!(kLiverClaims & bit(static_cast<Tissue>(c.tissue[v])))) return;
    const Vec3 d = p - l.centre;
    const double dist = d.norm();
    if (dist > reach) return;
    const double r = dist > 0.0 ? l.radius_towards(d * (1.0 / dist)) : l.radius;
    const double w = coverage(dist - r, edge);
    if (w <= 0.0) return;
    double value = t.hu + kTumourTextureHu * an.texture->at(p);
    if (t.necrotic_core && dist < kNecroticCoreFraction * r) value -= kNecroticDropHu;
    if (t.rim && dist > kRimFraction * r) value = an.liver_hu + kRimAboveLiverHu;
    c.ct.voxels[v] = static_cast<float>(lerp(c.ct.voxels[v], value, w));
    if (w >= 0.5) {
      c.tissue[v] = kTumourTissue;
      c.labels.voxels[v] = kTumour;
      ++l.info.voxels;
    }
  });
}

}  // namespace

void paint_liver(const Anatomy& an, const GridFrame& frame, Canvas& c) {
  const double edge = frame.edge_mm();
  const Liver& liver = an.liver;
  const Vec3 margin{edge, edge, edge};
  const Vec3 lo = liver.bound_lo() - margin, hi = liver.bound_hi() + margin;
  LatticeNoise::Sampler texture(*an.texture);
  frame.for_each(frame.box((lo + hi) * 0.5, (hi - lo) * 0.5), [&](int64_t idx, const Vec3& p) {
    const size_t v = static_cast<size_t>(idx);
    if (c.tissue[v] != kVisceraTissue) return;
    const double w = coverage(liver.level(p) * liver.mm_per_level, edge);
    if (w <= 0.0) return;
    const double value = an.liver_hu + an.liver_texture_hu * texture.at(p);
    c.ct.voxels[v] = static_cast<float>(lerp(c.ct.voxels[v], value, w));
    if (w >= 0.5) {
      c.tissue[v] = kLiverTissue;
      c.labels.voxels[v] = kLiver;
    }
  });

  for (const Segment& s : an.vessels) {
    const Vec3 ab = s.b - s.a;
    const double len2 = ab.norm2();
    const double reach = s.radius + edge;
    const Vec3 half{0.5 * std::fabs(ab.x) + reach, 0.5 * std::fabs(ab.y) + reach,
                    0.5 * std::fabs(ab.z) + reach};
    frame.for_each(frame.box((s.a + s.b) * 0.5, half), [&](int64_t idx, const Vec3& p) {
      const size_t v = static_cast<size_t>(idx);
      if (!(kLiverClaims & bit(static_cast<Tissue>(c.tissue[v])))) return;
      const Vec3 ap = p - s.a;
      const double t = len2 > 0.0 ? std::clamp(ap.dot(ab) / len2, 0.0, 1.0) : 0.0;
      const double w = coverage((ap - ab * t).norm() - s.radius, edge);
      if (w <= 0.0) return;
      c.ct.voxels[v] = static_cast<float>(lerp(c.ct.voxels[v], an.vessel_hu, w));
      if (w >= 0.5) c.tissue[v] = kLiverVesselTissue;
    });
  }
}

std::vector<TumourInfo> paint_tumours(const PhantomParams& params, const Anatomy& an,
                                      uint64_t case_seed, const GridFrame& frame, Canvas& c) {
  Rng rng(stream_seed(case_seed, Stream::kTumours));
  int count = 0;
  if (params.tumours_max <= 0 ||
      (params.tumours_min == 0 && rng.bernoulli(params.no_tumour_probability))) {
    count = 0;
  } else {
    count = rng.uniform_int(std::max(1, params.tumours_min), params.tumours_max);
  }
  const double scale = 2.0 * an.half_width_mm / kReferenceBodyWidthMm;
  std::vector<Lesion> placed;
  for (int n = 0; n < count; ++n) {
    Lesion l = draw_lesion(params, scale, an.liver_hu, rng);
    if (place(l, placed, an, frame, c, rng)) placed.push_back(l);
  }
  std::vector<TumourInfo> out;
  for (Lesion& l : placed) {
    paint_lesion(l, an, frame, c);
    if (l.info.voxels == 0) continue;  // below the grid's resolution: nothing labelled
    const Vec3 world = frame.to_world(l.centre), index = frame.to_index(l.centre);
    l.info.centre_mm = {world.x, world.y, world.z};
    l.info.centre_index = {index.x, index.y, index.z};
    out.push_back(l.info);
  }
  return out;
}

}  // namespace aslseg::synth
