#include "aslseg/sam/prompts.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "aslseg/config/json_fields.h"
#include "aslseg/io/error.h"
#include "aslseg/loop/mask2d.h"
#include "aslseg/preprocess/connected_components.h"
#include "aslseg/synth/rng.h"

namespace aslseg::sam {

namespace {

using loop::Mask2D;

// Salt of the negative points' stream, so that it never coincides with another user of
// (seed, slice, component) hashing.
constexpr uint64_t kNegativeSalt = 0x6E6567617469766FULL;  // "negativo"

struct PixelXY {
  int64_t x = 0, y = 0;
};

double squared_distance(const PixelXY& a, const PixelXY& b) {
  const double dx = static_cast<double>(a.x - b.x), dy = static_cast<double>(a.y - b.y);
  return dx * dx + dy * dy;
}

PromptBox grow_and_clip(const PromptBox& b, int64_t margin, int64_t width, int64_t height) {
  return {std::max<int64_t>(0, b.x0 - margin), std::max<int64_t>(0, b.y0 - margin),
          std::min(width - 1, b.x1 + margin), std::min(height - 1, b.y1 + margin)};
}

// Greedy farthest-point sampling: adds up to `count` candidates, each the one farthest
// (Euclidean) from all points chosen so far; ties go to the higher `priority` (depth), then to
// the earlier candidate. `chosen` may start non-empty (the central point, say).
void farthest_points(const std::vector<PixelXY>& candidates, const std::vector<double>& priority,
                     int64_t count, std::vector<PixelXY>& chosen) {
  std::vector<double> nearest(candidates.size(), std::numeric_limits<double>::infinity());
  std::vector<bool> taken(candidates.size(), false);
  auto update = [&](const PixelXY& p) {
    for (size_t i = 0; i < candidates.size(); ++i) {
      const double d = squared_distance(candidates[i], p);
      nearest[i] = std::min(nearest[i], d);
      if (d == 0.0) taken[i] = true;
    }
  };
  for (const PixelXY& p : chosen) update(p);
  for (int64_t n = 0; n < count; ++n) {
    size_t best = candidates.size();
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (taken[i]) continue;
      if (best == candidates.size() || nearest[i] > nearest[best] ||
          (nearest[i] == nearest[best] && priority[i] > priority[best]))
        best = i;
    }
    if (best == candidates.size()) return;  // fewer candidates than asked for
    chosen.push_back(candidates[best]);
    update(candidates[best]);
  }
}

// The pixels of component `k` cropped to its bounds: a (bounds) sized mask.
Mask2D crop_component(const std::vector<int32_t>& labels, int64_t width, int32_t k,
                      const PromptBox& b) {
  Mask2D crop(b.x1 - b.x0 + 1, b.y1 - b.y0 + 1);
  for (int64_t y = b.y0; y <= b.y1; ++y)
    for (int64_t x = b.x0; x <= b.x1; ++x)
      if (labels[static_cast<size_t>(x + width * y)] == k) crop.set(x - b.x0, y - b.y0, 1);
  return crop;
}

// Central point of a cropped component given its depth map (see central_point).
PixelXY most_central(const Mask2D& crop, const std::vector<double>& depth) {
  double cx = 0.0, cy = 0.0;
  int64_t n = 0;
  for (int64_t y = 0; y < crop.height; ++y)
    for (int64_t x = 0; x < crop.width; ++x)
      if (crop.at(x, y)) {
        cx += static_cast<double>(x);
        cy += static_cast<double>(y);
        ++n;
      }
  cx /= static_cast<double>(std::max<int64_t>(n, 1));
  cy /= static_cast<double>(std::max<int64_t>(n, 1));
  PixelXY best{-1, -1};
  double best_depth = -1.0, best_off = 0.0;
  for (int64_t y = 0; y < crop.height; ++y) {
    for (int64_t x = 0; x < crop.width; ++x) {
      if (!crop.at(x, y)) continue;
      const double d = depth[static_cast<size_t>(crop.index(x, y))];
      const double off = (x - cx) * (x - cx) + (y - cy) * (y - cy);
      // Depths are square roots of integers: equal depths compare exactly equal.
      if (d > best_depth || (d == best_depth && off < best_off)) {
        best = {x, y};
        best_depth = d;
        best_off = off;
      }
    }
  }
  return best;
}

struct ComponentInfo {
  int32_t label = 0;
  int64_t pixels = 0;
  PromptBox bounds;
};

std::vector<ComponentInfo> component_bounds(const preprocess::Components& comps, int64_t width,
                                            int64_t height) {
  std::vector<ComponentInfo> info(static_cast<size_t>(comps.count()) + 1);
  for (auto& c : info) c.bounds = {width, height, -1, -1};
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      const int32_t k = comps.labels[static_cast<size_t>(x + width * y)];
      if (k == 0) continue;
      PromptBox& b = info[static_cast<size_t>(k)].bounds;
      b.x0 = std::min(b.x0, x);
      b.y0 = std::min(b.y0, y);
      b.x1 = std::max(b.x1, x);
      b.y1 = std::max(b.y1, y);
    }
  }
  for (int32_t k = 1; k <= comps.count(); ++k) {
    info[static_cast<size_t>(k)].label = k;
    info[static_cast<size_t>(k)].pixels = comps.sizes[static_cast<size_t>(k)];
  }
  info.erase(info.begin());
  return info;
}

// Negative points: background pixels at least ring_inner from every foreground pixel and at
// most ring_outer from this component; the first drawn at random, the rest spread out by
// farthest-point sampling.
std::vector<PixelXY> negative_points(const std::vector<int32_t>& labels,
                                     const std::vector<double>& to_foreground, int64_t width,
                                     int64_t height, const ComponentInfo& c, const PromptParams& p,
                                     int64_t slice) {
  const PromptBox region = grow_and_clip(c.bounds, p.ring_outer, width, height);
  Mask2D own(region.x1 - region.x0 + 1, region.y1 - region.y0 + 1);
  for (int64_t y = region.y0; y <= region.y1; ++y)
    for (int64_t x = region.x0; x <= region.x1; ++x)
      if (labels[static_cast<size_t>(x + width * y)] == c.label)
        own.set(x - region.x0, y - region.y0, 1);
  // The region holds the whole component, so distances to it are exact inside the region.
  const std::vector<double> to_own = loop::distance_to_foreground(own);
  std::vector<PixelXY> candidates;
  for (int64_t y = region.y0; y <= region.y1; ++y) {
    for (int64_t x = region.x0; x <= region.x1; ++x) {
      const double d_own = to_own[static_cast<size_t>(own.index(x - region.x0, y - region.y0))];
      const double d_any = to_foreground[static_cast<size_t>(x + width * y)];
      if (d_any >= static_cast<double>(p.ring_inner) && d_own <= static_cast<double>(p.ring_outer))
        candidates.push_back({x, y});
    }
  }
  std::vector<PixelXY> chosen;
  if (candidates.empty() || p.num_negative <= 0) return chosen;
  synth::Rng rng(synth::hash3(synth::hash_combine(p.seed, kNegativeSalt), slice, c.label, 0));
  chosen.push_back(
      candidates[static_cast<size_t>(rng.uniform_int(0, static_cast<int>(candidates.size()) - 1))]);
  const std::vector<double> no_priority(candidates.size(), 0.0);
  farthest_points(candidates, no_priority, p.num_negative - 1, chosen);
  return chosen;
}

}  // namespace

PromptMode parse_prompt_mode(const std::string& text) {
  if (text == "box") return PromptMode::kBox;
  if (text == "point") return PromptMode::kPoint;
  if (text == "multipoint") return PromptMode::kMultipoint;
  if (text == "box+point") return PromptMode::kBoxPoint;
  throw InputError("", "unknown prompt mode '" + text + "' (box, point, multipoint, box+point)");
}

const char* prompt_mode_name(PromptMode mode) {
  switch (mode) {
    case PromptMode::kBox:
      return "box";
    case PromptMode::kPoint:
      return "point";
    case PromptMode::kMultipoint:
      return "multipoint";
    case PromptMode::kBoxPoint:
      return "box+point";
  }
  return "?";
}

void validate(const PromptParams& p) {
  auto fail = [](const std::string& what) { throw InputError("", "prompt parameters: " + what); };
  if (p.min_component_pixels < 1) fail("min_component_pixels must be >= 1");
  if (p.box_margin < 0) fail("box_margin must be >= 0");
  if (p.num_points < 1) fail("num_points must be >= 1");
  if (!(p.interior_depth >= 0.0 && p.interior_depth <= 1.0))
    fail("interior_depth must be in [0, 1]");
  if (p.num_negative < 0) fail("num_negative must be >= 0");
  if (p.ring_inner < 1) fail("ring_inner must be >= 1 (a negative point must not be on the mask)");
  if (p.ring_inner > p.ring_outer) fail("ring_inner must be <= ring_outer");
}

void to_json(nlohmann::json& j, const PromptParams& p) {
  j = nlohmann::json{{"mode", prompt_mode_name(p.mode)},
                     {"label", p.label},
                     {"min_component_pixels", p.min_component_pixels},
                     {"box_margin", p.box_margin},
                     {"num_points", p.num_points},
                     {"interior_depth", p.interior_depth},
                     {"num_negative", p.num_negative},
                     {"ring_inner", p.ring_inner},
                     {"ring_outer", p.ring_outer},
                     {"seed", p.seed}};
}

void from_json(const nlohmann::json& j, PromptParams& p) {
  static const std::vector<std::string> kKeys{
      "mode",           "label",        "min_component_pixels", "box_margin", "num_points",
      "interior_depth", "num_negative", "ring_inner",           "ring_outer", "seed"};
  constexpr const char* kWhere = "prompts";
  config::reject_unknown_keys(j, kKeys, kWhere);
  PromptParams out = p;
  // Integer fields refuse 1.5 instead of truncating it (nlohmann would).
  auto read_int = [&](const char* key, int64_t& field) {
    if (j.contains(key) && !j.at(key).is_number_integer())
      config::throw_wrong_type(kWhere, key, j.at(key));
    config::read_if_present(j, key, field, kWhere);
  };
  if (j.contains("mode")) {
    std::string name;
    config::read_if_present(j, "mode", name, kWhere);
    try {
      out.mode = parse_prompt_mode(name);
    } catch (const InputError& e) {
      throw std::invalid_argument(std::string(kWhere) + ".mode: " + e.what());
    }
  }
  if (j.contains("label")) {
    // Read wide, then range-checked: nlohmann would wrap 300 to 44 in a uint8_t.
    int64_t label = 0;
    read_int("label", label);
    if (label < 0 || label > std::numeric_limits<uint8_t>::max())
      throw std::invalid_argument(std::string(kWhere) + ".label must be in [0, 255], got " +
                                  std::to_string(label));
    out.label = static_cast<uint8_t>(label);
  }
  read_int("min_component_pixels", out.min_component_pixels);
  read_int("box_margin", out.box_margin);
  read_int("num_points", out.num_points);
  config::read_if_present(j, "interior_depth", out.interior_depth, kWhere);
  read_int("num_negative", out.num_negative);
  read_int("ring_inner", out.ring_inner);
  read_int("ring_outer", out.ring_outer);
  // A negative seed would wrap silently to a huge unsigned value.
  if (j.contains("seed") && !j.at("seed").is_number_unsigned())
    config::throw_wrong_type(kWhere, "seed", j.at("seed"));
  config::read_if_present(j, "seed", out.seed, kWhere);
  try {
    validate(out);
  } catch (const InputError& e) {
    throw std::invalid_argument(e.what());
  }
  p = out;
}

PromptPoint central_point(const uint8_t* component, int64_t width, int64_t height) {
  const Mask2D mask = Mask2D::from_buffer(component, width, height);
  const PixelXY p = most_central(mask, loop::distance_to_background(mask));
  if (p.x < 0) throw InputError("", "central_point: the mask is empty");
  return {p.x, p.y, PointLabel::kPositive};
}

std::vector<PromptSet> slice_prompts(const uint8_t* mask, int64_t width, int64_t height,
                                     const PromptParams& p, int64_t slice) {
  validate(p);
  const preprocess::Components comps =
      preprocess::label_components_2d(mask, width, height, preprocess::Connectivity2D::k8);
  std::vector<PromptSet> sets;
  if (comps.count() == 0) return sets;
  const bool wants_box = p.mode == PromptMode::kBox || p.mode == PromptMode::kBoxPoint;
  const bool wants_center = p.mode != PromptMode::kBox;
  std::vector<double> to_foreground;
  if (p.num_negative > 0)
    to_foreground = loop::distance_to_foreground(Mask2D::from_buffer(mask, width, height));

  for (const ComponentInfo& c : component_bounds(comps, width, height)) {
    if (c.pixels < p.min_component_pixels) continue;
    PromptSet set;
    set.component = c.label;
    set.pixels = c.pixels;
    set.bounds = c.bounds;
    if (wants_box) set.box = grow_and_clip(c.bounds, p.box_margin, width, height);
    if (wants_center) {
      const Mask2D crop = crop_component(comps.labels, width, c.label, c.bounds);
      const std::vector<double> depth = loop::distance_to_background(crop);
      std::vector<PixelXY> chosen{most_central(crop, depth)};
      if (p.mode == PromptMode::kMultipoint && p.num_points > 1) {
        const double max_depth = depth[static_cast<size_t>(crop.index(chosen[0].x, chosen[0].y))];
        std::vector<PixelXY> candidates;
        std::vector<double> priority;
        // Interior pixels first; the whole component only if they cannot supply enough points.
        for (const double min_depth : {p.interior_depth * max_depth, 0.0}) {
          candidates.clear();
          priority.clear();
          for (int64_t y = 0; y < crop.height; ++y)
            for (int64_t x = 0; x < crop.width; ++x) {
              const double d = depth[static_cast<size_t>(crop.index(x, y))];
              if (crop.at(x, y) && d >= min_depth) {
                candidates.push_back({x, y});
                priority.push_back(d);
              }
            }
          if (static_cast<int64_t>(candidates.size()) >= p.num_points) break;
        }
        farthest_points(candidates, priority, p.num_points - 1, chosen);
      }
      for (const PixelXY& q : chosen)
        set.points.push_back({q.x + c.bounds.x0, q.y + c.bounds.y0, PointLabel::kPositive});
    }
    if (p.num_negative > 0) {
      for (const PixelXY& q :
           negative_points(comps.labels, to_foreground, width, height, c, p, slice))
        set.points.push_back({q.x, q.y, PointLabel::kNegative});
    }
    sets.push_back(std::move(set));
  }
  return sets;
}

std::vector<SlicePrompts> volume_prompts(const LabelMap& labels, const PromptParams& p) {
  validate(p);
  const int64_t w = labels.geometry.size[0], h = labels.geometry.size[1];
  std::vector<SlicePrompts> out;
  std::vector<uint8_t> mask(static_cast<size_t>(w * h));
  for (int64_t z = 0; z < labels.geometry.size[2]; ++z) {
    const uint8_t* s = labels.slice(z);
    bool any = false;
    for (size_t i = 0; i < mask.size(); ++i) {
      mask[i] = s[i] == p.label ? 1 : 0;
      any = any || mask[i];
    }
    if (!any) continue;
    std::vector<PromptSet> sets = slice_prompts(mask.data(), w, h, p, z);
    if (!sets.empty()) out.push_back({z, std::move(sets)});
  }
  return out;
}

}  // namespace aslseg::sam
