#include "aslseg/loop/corrupt.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "aslseg/config/json_fields.h"
#include "aslseg/io/error.h"
#include "aslseg/preprocess/connected_components.h"
#include "aslseg/synth/detmath.h"

namespace aslseg::loop {

namespace {

// Salts that keep the per-slice streams apart: the coin flips, and one stream per kind.
constexpr uint64_t kDecisionSalt = 0xC0C0DEC151011ULL;
constexpr uint64_t kKindSalt = 0x4B494E4453ULL;
// FNV-1a, 64-bit: a portable hash of the case id (std::hash is implementation-defined).
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;
// Two pixels are 8-adjacent when at most sqrt(2) apart; a blob pixel this far from every
// lesion pixel therefore starts a new component.
constexpr double kSeparateDistance = 2.0;
constexpr double kMinCutHalfWidth = 0.70710678118654752;  // sqrt(2) / 2
constexpr double kFullTurnDeg = 360.0;
constexpr double kHalfTurnDeg = 180.0;

preprocess::Components components(const Mask2D& m) {
  return preprocess::label_components_2d(m.pixels.data(), m.width, m.height,
                                         preprocess::Connectivity2D::k8);
}

int64_t round_half_up(double v) { return static_cast<int64_t>(std::floor(v + 0.5)); }

int draw_int(synth::Rng& rng, int64_t lo, int64_t hi) {
  return rng.uniform_int(static_cast<int>(lo), static_cast<int>(hi));
}

// Distance from point (px, py) to the segment a-b.
double distance_to_segment(double px, double py, double ax, double ay, double bx, double by) {
  const double vx = bx - ax, vy = by - ay;
  const double len2 = vx * vx + vy * vy;
  double t = len2 > 0.0 ? ((px - ax) * vx + (py - ay) * vy) / len2 : 0.0;
  t = std::clamp(t, 0.0, 1.0);
  const double dx = px - (ax + t * vx), dy = py - (ay + t * vy);
  return std::sqrt(dx * dx + dy * dy);
}

// Pixels of component k that touch another pixel (4-neighbour) not in it, or the slice edge.
std::vector<std::pair<int64_t, int64_t>> outline(const preprocess::Components& c, int64_t w,
                                                 int64_t h, int32_t k) {
  std::vector<std::pair<int64_t, int64_t>> out;
  auto in = [&](int64_t x, int64_t y) {
    return x >= 0 && y >= 0 && x < w && y < h && c.labels[static_cast<size_t>(x + w * y)] == k;
  };
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      if (in(x, y) && !(in(x - 1, y) && in(x + 1, y) && in(x, y - 1) && in(x, y + 1)))
        out.emplace_back(x, y);
  return out;
}

double smoothstep(double t) { return t * t * (3.0 - 2.0 * t); }

}  // namespace

const char* corruption_name(CorruptionKind kind) {
  switch (kind) {
    case CorruptionKind::kDrop:
      return "drop";
    case CorruptionKind::kSplit:
      return "split";
    case CorruptionKind::kMerge:
      return "merge";
    case CorruptionKind::kErode:
      return "erode";
    case CorruptionKind::kDilate:
      return "dilate";
    case CorruptionKind::kElastic:
      return "elastic";
    case CorruptionKind::kShift:
      return "shift";
    case CorruptionKind::kBlob:
      return "blob";
  }
  return "?";
}

void validate(const CorruptionParams& p) {
  auto fail = [](const std::string& what) {
    throw InputError("", "corruption parameters: " + what);
  };
  const std::pair<const char*, double> probs[] = {
      {"p_drop", p.p_drop},   {"p_split", p.p_split},   {"p_merge", p.p_merge},
      {"p_erode", p.p_erode}, {"p_dilate", p.p_dilate}, {"p_elastic", p.p_elastic},
      {"p_shift", p.p_shift}, {"p_blob", p.p_blob}};
  for (const auto& [name, v] : probs)
    if (!(v >= 0.0 && v <= 1.0)) fail(std::string(name) + " must be in [0, 1]");
  if (p.p_erode + p.p_dilate > 1.0) fail("p_erode + p_dilate must be <= 1");
  const std::tuple<const char*, int64_t, int64_t> ranges[] = {
      {"erode", p.erode_min, p.erode_max},
      {"dilate", p.dilate_min, p.dilate_max},
      {"shift", p.shift_min, p.shift_max},
      {"blob_radius", p.blob_radius_min, p.blob_radius_max}};
  for (const auto& [name, lo, hi] : ranges)
    if (lo < 0 || hi < lo) fail(std::string(name) + " range must satisfy 0 <= min <= max");
  if (p.blob_radius_min < 1) fail("blob_radius_min must be >= 1");
  if (!(p.elastic_amplitude >= 0.0)) fail("elastic_amplitude must be >= 0");
  if (p.elastic_grid < 2) fail("elastic_grid must be >= 2");
  if (p.blob_search_radius < 0 || p.merge_max_gap < 0 || p.split_min_pixels < 0)
    fail("blob_search_radius, merge_max_gap and split_min_pixels must be >= 0");
  if (!(p.bridge_half_width >= 0.0)) fail("bridge_half_width must be >= 0");
  if (!(p.cut_half_width >= kMinCutHalfWidth))
    fail("cut_half_width must be >= sqrt(2)/2, or the pieces stay 8-connected");
  if (p.max_tries < 1) fail("max_tries must be >= 1");
}

namespace {

// Every field with its JSON key (= its name), once, for to_json, from_json and the key list.
template <typename Params, typename Visit>
void visit_fields(Params& p, Visit&& visit) {
  visit("p_drop", p.p_drop);
  visit("p_split", p.p_split);
  visit("p_merge", p.p_merge);
  visit("p_erode", p.p_erode);
  visit("p_dilate", p.p_dilate);
  visit("p_elastic", p.p_elastic);
  visit("p_shift", p.p_shift);
  visit("p_blob", p.p_blob);
  visit("erode_min", p.erode_min);
  visit("erode_max", p.erode_max);
  visit("dilate_min", p.dilate_min);
  visit("dilate_max", p.dilate_max);
  visit("shift_min", p.shift_min);
  visit("shift_max", p.shift_max);
  visit("elastic_amplitude", p.elastic_amplitude);
  visit("elastic_grid", p.elastic_grid);
  visit("blob_radius_min", p.blob_radius_min);
  visit("blob_radius_max", p.blob_radius_max);
  visit("blob_search_radius", p.blob_search_radius);
  visit("merge_max_gap", p.merge_max_gap);
  visit("bridge_half_width", p.bridge_half_width);
  visit("split_min_pixels", p.split_min_pixels);
  visit("cut_half_width", p.cut_half_width);
  visit("max_tries", p.max_tries);
}

}  // namespace

void to_json(nlohmann::json& j, const CorruptionParams& p) {
  j = nlohmann::json::object();
  visit_fields(p, [&](const char* key, const auto& value) { j[key] = value; });
}

void from_json(const nlohmann::json& j, CorruptionParams& p) {
  constexpr const char* kWhere = "corruption";
  std::vector<std::string> keys;
  CorruptionParams out = p;
  visit_fields(out, [&](const char* key, const auto&) { keys.emplace_back(key); });
  config::reject_unknown_keys(j, keys, kWhere);
  visit_fields(out, [&](const char* key, auto& value) {
    // An integer field refuses 1.5 instead of truncating it (nlohmann would).
    if constexpr (std::is_integral_v<std::decay_t<decltype(value)>>) {
      if (j.contains(key) && !j.at(key).is_number_integer())
        config::throw_wrong_type(kWhere, key, j.at(key));
    }
    config::read_if_present(j, key, value, kWhere);
  });
  try {
    validate(out);
  } catch (const InputError& e) {
    throw std::invalid_argument(e.what());
  }
  p = out;
}

Mask2D erode(const Mask2D& mask, double radius) {
  const std::vector<double> d = distance_to_background(mask);
  Mask2D out(mask.width, mask.height);
  for (size_t i = 0; i < d.size(); ++i) out.pixels[i] = mask.pixels[i] && d[i] > radius ? 1 : 0;
  return out;
}

Mask2D dilate(const Mask2D& mask, double radius) {
  const std::vector<double> d = distance_to_foreground(mask);
  Mask2D out(mask.width, mask.height);
  for (size_t i = 0; i < d.size(); ++i) out.pixels[i] = d[i] <= radius ? 1 : 0;
  return out;
}

Mask2D shift(const Mask2D& mask, int64_t dx, int64_t dy) {
  Mask2D out(mask.width, mask.height);
  for (int64_t y = 0; y < mask.height; ++y)
    for (int64_t x = 0; x < mask.width; ++x)
      if (mask.at(x, y) && out.contains(x + dx, y + dy)) out.set(x + dx, y + dy, 1);
  return out;
}

Mask2D elastic(const Mask2D& mask, double amplitude, int64_t grid, uint64_t key) {
  // Control-point displacements are counter-based (hash of the lattice index), so the field
  // does not depend on the order pixels are visited in.
  auto control = [&](int64_t i, int64_t j, int64_t axis) {
    return amplitude * synth::normal_from_bits(synth::hash3(key, i, j, axis));
  };
  const double g = static_cast<double>(grid);
  Mask2D out(mask.width, mask.height);
  for (int64_t y = 0; y < mask.height; ++y) {
    const int64_t j = y / grid;
    const double ty = smoothstep(static_cast<double>(y - j * grid) / g);
    for (int64_t x = 0; x < mask.width; ++x) {
      const int64_t i = x / grid;
      const double tx = smoothstep(static_cast<double>(x - i * grid) / g);
      double disp[2];
      for (int64_t axis = 0; axis < 2; ++axis) {
        const double top = (1.0 - tx) * control(i, j, axis) + tx * control(i + 1, j, axis);
        const double bottom =
            (1.0 - tx) * control(i, j + 1, axis) + tx * control(i + 1, j + 1, axis);
        disp[axis] = (1.0 - ty) * top + ty * bottom;
      }
      const int64_t sx = round_half_up(static_cast<double>(x) + disp[0]);
      const int64_t sy = round_half_up(static_cast<double>(y) + disp[1]);
      if (mask.contains(sx, sy) && mask.at(sx, sy)) out.set(x, y, 1);
    }
  }
  return out;
}

bool drop_component(Mask2D& mask, synth::Rng& rng) {
  const preprocess::Components c = components(mask);
  if (c.count() == 0) return false;
  const int32_t k = rng.uniform_int(1, c.count());
  for (size_t i = 0; i < mask.pixels.size(); ++i)
    if (c.labels[i] == k) mask.pixels[i] = 0;
  return true;
}

bool add_blob(Mask2D& mask, const Mask2D* liver, const CorruptionParams& p, synth::Rng& rng) {
  const std::vector<double> to_lesion = distance_to_foreground(mask);
  const bool has_lesion = !mask.empty();
  std::vector<int64_t> centres;
  for (size_t i = 0; i < mask.pixels.size(); ++i) {
    if (mask.pixels[i]) continue;
    const bool ok =
        liver ? liver->pixels[i] != 0
              : (!has_lesion || to_lesion[i] <= static_cast<double>(p.blob_search_radius));
    if (ok) centres.push_back(static_cast<int64_t>(i));
  }
  if (centres.empty()) return false;
  for (int attempt = 0; attempt < p.max_tries; ++attempt) {
    const int64_t c =
        centres[static_cast<size_t>(rng.uniform_int(0, static_cast<int>(centres.size()) - 1))];
    const int64_t cx = c % mask.width, cy = c / mask.width;
    const int64_t rx = draw_int(rng, p.blob_radius_min, p.blob_radius_max);
    const int64_t ry = draw_int(rng, p.blob_radius_min, p.blob_radius_max);
    std::vector<int64_t> blob;
    bool clear = true;
    for (int64_t y = cy - ry; y <= cy + ry && clear; ++y) {
      for (int64_t x = cx - rx; x <= cx + rx; ++x) {
        const double u = static_cast<double>(x - cx) / static_cast<double>(rx);
        const double v = static_cast<double>(y - cy) / static_cast<double>(ry);
        if (u * u + v * v > 1.0 || !mask.contains(x, y)) continue;
        const int64_t idx = mask.index(x, y);
        if (to_lesion[static_cast<size_t>(idx)] < kSeparateDistance) {
          clear = false;
          break;
        }
        blob.push_back(idx);
      }
    }
    if (!clear || blob.empty()) continue;
    for (int64_t idx : blob) mask.pixels[static_cast<size_t>(idx)] = 1;
    return true;
  }
  return false;
}

bool merge_components(Mask2D& mask, const CorruptionParams& p, synth::Rng& rng) {
  const preprocess::Components c = components(mask);
  if (c.count() < 2) return false;
  std::vector<std::vector<std::pair<int64_t, int64_t>>> edges(static_cast<size_t>(c.count()) + 1);
  for (int32_t k = 1; k <= c.count(); ++k) edges[k] = outline(c, mask.width, mask.height, k);
  struct Pair {
    int64_t ax, ay, bx, by;
  };
  std::vector<Pair> close;  // per eligible pair: its two closest outline pixels
  const double max_gap2 = static_cast<double>(p.merge_max_gap * p.merge_max_gap);
  for (int32_t a = 1; a <= c.count(); ++a) {
    for (int32_t b = a + 1; b <= c.count(); ++b) {
      double best = std::numeric_limits<double>::infinity();
      Pair pair{};
      for (const auto& [ax, ay] : edges[a])
        for (const auto& [bx, by] : edges[b]) {
          const double d2 = static_cast<double>((ax - bx) * (ax - bx) + (ay - by) * (ay - by));
          if (d2 < best) {
            best = d2;
            pair = {ax, ay, bx, by};
          }
        }
      if (best <= max_gap2) close.push_back(pair);
    }
  }
  if (close.empty()) return false;
  const Pair& q =
      close[static_cast<size_t>(rng.uniform_int(0, static_cast<int>(close.size()) - 1))];
  // A segment of half-width >= sqrt(2)/2 around the centre line is 8-connected from end to end;
  // the endpoints themselves are lesion pixels, so the two lesions become one.
  const double half = std::max(p.bridge_half_width, kMinCutHalfWidth);
  const int64_t reach = static_cast<int64_t>(std::ceil(half));
  for (int64_t y = std::min(q.ay, q.by) - reach; y <= std::max(q.ay, q.by) + reach; ++y)
    for (int64_t x = std::min(q.ax, q.bx) - reach; x <= std::max(q.ax, q.bx) + reach; ++x)
      if (mask.contains(x, y) &&
          distance_to_segment(static_cast<double>(x), static_cast<double>(y),
                              static_cast<double>(q.ax), static_cast<double>(q.ay),
                              static_cast<double>(q.bx), static_cast<double>(q.by)) <= half)
        mask.set(x, y, 1);
  return true;
}

bool split_component(Mask2D& mask, const CorruptionParams& p, synth::Rng& rng) {
  const preprocess::Components c = components(mask);
  std::vector<int32_t> eligible;
  for (int32_t k = 1; k <= c.count(); ++k)
    if (c.sizes[static_cast<size_t>(k)] >= p.split_min_pixels) eligible.push_back(k);
  if (eligible.empty()) return false;
  const int32_t k =
      eligible[static_cast<size_t>(rng.uniform_int(0, static_cast<int>(eligible.size()) - 1))];
  double cx = 0.0, cy = 0.0;
  for (int64_t y = 0; y < mask.height; ++y)
    for (int64_t x = 0; x < mask.width; ++x)
      if (c.labels[static_cast<size_t>(mask.index(x, y))] == k) {
        cx += static_cast<double>(x);
        cy += static_cast<double>(y);
      }
  cx /= static_cast<double>(c.sizes[static_cast<size_t>(k)]);
  cy /= static_cast<double>(c.sizes[static_cast<size_t>(k)]);
  for (int attempt = 0; attempt < p.max_tries; ++attempt) {
    // A line's direction is defined modulo 180 degrees.
    double s = 0.0, co = 1.0;
    synth::detmath::sincos_deg(rng.uniform(0.0, kHalfTurnDeg), &s, &co);
    Mask2D cut = mask;
    for (int64_t y = 0; y < mask.height; ++y)
      for (int64_t x = 0; x < mask.width; ++x) {
        const size_t i = static_cast<size_t>(mask.index(x, y));
        // Distance to the line through the centroid with direction (co, s).
        const double d =
            std::abs(-(static_cast<double>(x) - cx) * s + (static_cast<double>(y) - cy) * co);
        if (c.labels[i] == k && d <= p.cut_half_width) cut.pixels[i] = 0;
      }
    if (components(cut).count() > c.count()) {
      mask = std::move(cut);
      return true;
    }
  }
  return false;
}

uint64_t corruption_key(uint64_t seed, const std::string& case_id, int64_t slice) {
  uint64_t h = kFnvOffset;
  for (unsigned char ch : case_id) {
    h ^= ch;
    h *= kFnvPrime;
  }
  return synth::hash_combine(synth::hash_combine(seed, h), static_cast<uint64_t>(slice));
}

CorruptionResult corrupt_slice(const Mask2D& tumour, const Mask2D* liver, const CorruptionParams& p,
                               uint64_t key) {
  validate(p);
  CorruptionResult r{tumour, {}};
  synth::Rng coin(synth::hash_combine(key, kDecisionSalt));
  auto stream = [&](CorruptionKind kind) {
    return synth::hash_combine(synth::hash_combine(key, kKindSalt), static_cast<uint64_t>(kind));
  };
  auto changed = [&](CorruptionKind kind, const Mask2D& before) {
    if (before.pixels != r.mask.pixels) r.applied.push_back(kind);
  };
  // Every coin is flipped whatever the mask holds, so one kind's decision never shifts
  // another's.
  const bool do_drop = coin.bernoulli(p.p_drop);
  const bool do_split = coin.bernoulli(p.p_split);
  const bool do_merge = coin.bernoulli(p.p_merge);
  const double size_u = coin.uniform();
  const bool do_elastic = coin.bernoulli(p.p_elastic);
  const bool do_shift = coin.bernoulli(p.p_shift);
  const bool do_blob = coin.bernoulli(p.p_blob);

  if (do_drop) {
    synth::Rng rng(stream(CorruptionKind::kDrop));
    if (drop_component(r.mask, rng)) r.applied.push_back(CorruptionKind::kDrop);
  }
  if (do_split) {
    synth::Rng rng(stream(CorruptionKind::kSplit));
    if (split_component(r.mask, p, rng)) r.applied.push_back(CorruptionKind::kSplit);
  }
  if (do_merge) {
    synth::Rng rng(stream(CorruptionKind::kMerge));
    if (merge_components(r.mask, p, rng)) r.applied.push_back(CorruptionKind::kMerge);
  }
  if (size_u < p.p_erode + p.p_dilate && !r.mask.empty()) {
    const bool shrink = size_u < p.p_erode;
    const CorruptionKind kind = shrink ? CorruptionKind::kErode : CorruptionKind::kDilate;
    synth::Rng rng(stream(kind));
    const Mask2D before = r.mask;
    r.mask = shrink ? erode(r.mask, draw_int(rng, p.erode_min, p.erode_max))
                    : dilate(r.mask, draw_int(rng, p.dilate_min, p.dilate_max));
    changed(kind, before);
  }
  if (do_elastic && !r.mask.empty()) {
    const Mask2D before = r.mask;
    r.mask = elastic(r.mask, p.elastic_amplitude, p.elastic_grid, stream(CorruptionKind::kElastic));
    changed(CorruptionKind::kElastic, before);
  }
  if (do_shift && !r.mask.empty()) {
    synth::Rng rng(stream(CorruptionKind::kShift));
    const int64_t length = draw_int(rng, p.shift_min, p.shift_max);
    double s = 0.0, co = 1.0;
    synth::detmath::sincos_deg(rng.uniform(0.0, kFullTurnDeg), &s, &co);
    const Mask2D before = r.mask;
    r.mask = shift(r.mask, round_half_up(static_cast<double>(length) * co),
                   round_half_up(static_cast<double>(length) * s));
    changed(CorruptionKind::kShift, before);
  }
  if (do_blob) {
    synth::Rng rng(stream(CorruptionKind::kBlob));
    if (add_blob(r.mask, liver, p, rng)) r.applied.push_back(CorruptionKind::kBlob);
  }
  return r;
}

LabelMap corrupt_volume(const LabelMap& gt, const CorruptionParams& p, uint64_t seed,
                        const std::string& case_id) {
  validate(p);
  const int64_t w = gt.geometry.size[0], h = gt.geometry.size[1];
  LabelMap out(gt.geometry, kBackground);
  for (int64_t z = 0; z < gt.geometry.size[2]; ++z) {
    const uint8_t* src = gt.slice(z);
    uint8_t* dst = out.slice(z);
    const Mask2D tumour = Mask2D::from_label(src, w, h, kTumour);
    Mask2D liver(w, h);
    for (size_t i = 0; i < liver.pixels.size(); ++i) {
      liver.pixels[i] = src[i] >= kLiver ? 1 : 0;
      dst[i] = src[i] >= kLiver ? kLiver : kBackground;
    }
    const CorruptionResult r = corrupt_slice(tumour, &liver, p, corruption_key(seed, case_id, z));
    for (size_t i = 0; i < r.mask.pixels.size(); ++i)
      if (r.mask.pixels[i]) dst[i] = kTumour;
  }
  return out;
}

}  // namespace aslseg::loop
