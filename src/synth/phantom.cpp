// make_phantom: parameter checks, the output grid, the painting passes in order, then bias
// field, noise and rounding to whole HU.
#include "aslseg/synth/phantom.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "aslseg/io/error.h"
#include "aslseg/synth/anatomy.h"
#include "aslseg/synth/detmath.h"
#include "aslseg/synth/rng.h"

namespace aslseg::synth {

namespace {

constexpr int64_t kMinSize = 8;
constexpr int64_t kMaxSize = 4096;
constexpr int64_t kMaxVoxels = int64_t{1} << 31;
constexpr double kMaxRotationDeg = 3600.0;
constexpr double kMaxFovFraction = 2.0;
constexpr int kMaxTumours = 20;
constexpr double kMaxIrregularity = 0.6;
constexpr double kMaxNoiseSigma = 500.0;
constexpr double kMaxBiasHu = 200.0;
constexpr double kInt16Min = -32768.0;
// Automatic body width: this fraction of the smaller in-plane extent, so the body (and any
// rotation of it) fits inside the inscribed scan-field circle with a margin.
constexpr double kAutoBodyFraction = 0.88;

[[noreturn]] void bad(const std::string& what) { throw InputError("", what); }

template <typename T>
std::string str(T v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

void check_probability(double p, const char* name) {
  if (!(p >= 0.0 && p <= 1.0)) bad(std::string(name) + " must be in [0, 1], got " + str(p));
}

}  // namespace

std::string to_string(TumourKind kind) {
  switch (kind) {
    case TumourKind::kHypodense:
      return "hypodense";
    case TumourKind::kIsodense:
      return "isodense";
    case TumourKind::kHyperdense:
      return "hyperdense";
  }
  return "unknown";
}

void validate(const PhantomParams& p) {
  const char* axes = "xyz";
  int64_t voxels = 1;
  for (int a = 0; a < 3; ++a) {
    if (p.size[a] < kMinSize || p.size[a] > kMaxSize)
      bad("--size: each dimension must be between " + str(kMinSize) + " and " + str(kMaxSize) +
          " voxels, got " + str(p.size[a]) + " for " + axes[a]);
    voxels *= p.size[a];
    if (!(p.spacing[a] > 0.0) || !std::isfinite(p.spacing[a]))
      bad("--spacing: each spacing must be a positive number of mm, got " + str(p.spacing[a]) +
          " for " + axes[a]);
    if (p.origin && !std::isfinite((*p.origin)[a])) bad("origin must be finite");
  }
  if (voxels > kMaxVoxels)
    bad("--size: " + str(voxels) + " voxels is more than the " + str(kMaxVoxels) + " allowed");
  if (!std::isfinite(p.rotate_z_deg) || std::fabs(p.rotate_z_deg) > kMaxRotationDeg)
    bad("--rotate-deg must be a finite angle within +-" + str(kMaxRotationDeg) + " degrees");
  if (!(p.body_width_mm >= 0.0) || !std::isfinite(p.body_width_mm))
    bad("--body-width must be >= 0 mm (0 fits the field of view), got " + str(p.body_width_mm));
  if (!(p.fov_fraction > 0.0 && p.fov_fraction <= kMaxFovFraction))
    bad("fov_fraction must be in (0, " + str(kMaxFovFraction) + "], got " + str(p.fov_fraction));
  if (!(p.out_of_fov_hu >= kInt16Min && p.out_of_fov_hu < hu::kMinWritten))
    bad("out_of_fov_hu must be below " + str(hu::kMinWritten) + " (distinct from air), got " +
        str(p.out_of_fov_hu));
  if (p.tumours_min < 0 || p.tumours_max < p.tumours_min || p.tumours_max > kMaxTumours)
    bad("--tumours: need 0 <= MIN <= MAX <= " + str(kMaxTumours) + ", got " + str(p.tumours_min) +
        "," + str(p.tumours_max));
  check_probability(p.no_tumour_probability, "no_tumour_probability");
  check_probability(p.isodense_probability, "isodense_probability");
  check_probability(p.hyperdense_probability, "hyperdense_probability");
  check_probability(p.edge_tumour_probability, "edge_tumour_probability");
  if (p.isodense_probability + p.hyperdense_probability > 1.0)
    bad("isodense_probability + hyperdense_probability must not exceed 1");
  if (!(p.tumour_radius_min_mm > 0.0) || !(p.tumour_radius_max_mm >= p.tumour_radius_min_mm) ||
      !std::isfinite(p.tumour_radius_max_mm))
    bad("--tumour-radius: need 0 < MIN <= MAX mm, got " + str(p.tumour_radius_min_mm) + "," +
        str(p.tumour_radius_max_mm));
  if (!(p.tumour_irregularity >= 0.0 && p.tumour_irregularity <= kMaxIrregularity))
    bad("tumour_irregularity must be in [0, " + str(kMaxIrregularity) + "]");
  if (!(p.noise_sigma_min >= 0.0) || !(p.noise_sigma_max >= p.noise_sigma_min) ||
      !(p.noise_sigma_max <= kMaxNoiseSigma))
    bad("--noise: need 0 <= MIN <= MAX <= " + str(kMaxNoiseSigma) + " HU, got " +
        str(p.noise_sigma_min) + "," + str(p.noise_sigma_max));
  if (!(p.bias_hu >= 0.0 && p.bias_hu <= kMaxBiasHu))
    bad("--bias must be in [0, " + str(kMaxBiasHu) + "] HU, got " + str(p.bias_hu));
}

Geometry phantom_geometry(const PhantomParams& p) {
  Geometry g;
  g.size = p.size;
  g.spacing = p.spacing;
  double s = 0.0, c = 1.0;
  detmath::sincos_deg(p.rotate_z_deg, &s, &c);
  const double rz[9] = {c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0};
  for (int r = 0; r < 3; ++r)
    for (int col = 0; col < 3; ++col)
      g.direction[3 * r + col] = rz[3 * r + col] * (p.flip[col] ? -1.0 : 1.0) + 0.0;
  if (p.origin) {
    g.origin = *p.origin;
  } else {
    // Centre the volume on world (0, 0, 0).
    double half[3];
    for (int a = 0; a < 3; ++a) half[a] = 0.5 * static_cast<double>(p.size[a] - 1) * p.spacing[a];
    for (int r = 0; r < 3; ++r) {
      double v = 0.0;
      for (int col = 0; col < 3; ++col) v += g.direction[3 * r + col] * half[col];
      g.origin[r] = -v + 0.0;
    }
  }
  return g;
}

Phantom make_phantom(const PhantomParams& params, uint64_t seed) {
  validate(params);
  const Geometry g = phantom_geometry(params);
  const GridFrame frame(g, params.fov_fraction);
  const double min_extent = std::min(static_cast<double>(g.size[0]) * g.spacing[0],
                                     static_cast<double>(g.size[1]) * g.spacing[1]);
  const double body_width =
      params.body_width_mm > 0.0 ? params.body_width_mm : kAutoBodyFraction * min_extent;
  const auto anatomy = make_anatomy(seed, 0.5 * body_width, frame);

  Canvas canvas{Image(g, 0.0f), LabelMap(g, kBackground),
                std::vector<uint8_t>(static_cast<size_t>(g.num_voxels()), kAirTissue)};
  paint_body(*anatomy, frame, params.out_of_fov_hu, canvas);
  paint_organs(*anatomy, frame, canvas);
  paint_liver(*anatomy, frame, canvas);

  Phantom out;
  PhantomInfo& info = out.info;
  info.tumours = paint_tumours(params, *anatomy, seed, frame, canvas);

  // Bias field inside the body, then white Gaussian noise inside the scan field. Noise is
  // counter-based (one hash per voxel), so it does not depend on evaluation order.
  Rng noise_rng(stream_seed(seed, Stream::kNoise));
  const double sigma = noise_rng.uniform(params.noise_sigma_min, params.noise_sigma_max);
  const uint64_t noise_key = noise_rng.next();
  std::vector<float>& ct = canvas.ct.voxels;
  LatticeNoise::Sampler bias(*anatomy->bias);
  frame.for_each(frame.all(), [&](int64_t idx, const Vec3& p) {
    const size_t v = static_cast<size_t>(idx);
    const uint8_t t = canvas.tissue[v];
    if (t == kOutOfFovTissue || t == kAirTissue) return;
    ct[v] += static_cast<float>(params.bias_hu * bias.at(p));
  });
  const size_t n = ct.size();
  for (size_t v = 0; v < n; ++v) {
    if (canvas.tissue[v] == kOutOfFovTissue) continue;
    const double z = normal_from_bits(splitmix_at(noise_key, v));
    const double noisy =
        std::clamp(static_cast<double>(ct[v]) + sigma * z, hu::kMinWritten, hu::kMaxWritten);
    ct[v] = static_cast<float>(std::floor(noisy + 0.5));
  }

  info.seed = seed;
  info.body_width_mm = body_width;
  info.anatomy_scale = body_width / kReferenceBodyWidthMm;
  info.liver_hu = anatomy->liver_hu;
  info.vessel_hu = anatomy->vessel_hu;
  info.noise_sigma = sigma;
  const int64_t per_slice = g.slice_voxels();
  for (size_t v = 0; v < n; ++v) {
    const uint8_t l = canvas.labels.voxels[v];
    if (l == kBackground) continue;
    (l == kLiver ? info.liver_voxels : info.tumour_voxels) += 1;
    const int64_t z = static_cast<int64_t>(v) / per_slice;
    if (info.liver_first_slice < 0) info.liver_first_slice = z;
    info.liver_last_slice = z;
  }
  info.liver_ml = static_cast<double>(info.liver_voxels) * frame.voxel_ml();
  info.tumour_ml = static_cast<double>(info.tumour_voxels) * frame.voxel_ml();
  out.ct = std::move(canvas.ct);
  out.labels = std::move(canvas.labels);
  return out;
}

Phantom make_case(const PhantomParams& params, uint64_t seed, uint64_t index) {
  return make_phantom(params, case_seed(seed, index));
}

}  // namespace aslseg::synth
