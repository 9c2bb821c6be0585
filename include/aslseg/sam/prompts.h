// Prompts for SAM taken from a segmentation (PL1, the SSL net's pseudo-label, in the loop):
// per axial slice, one prompt set per connected component of the tumour mask: a box, the
// component's most central point, k spread-out interior points, and optional negative points
// from the background around it. Deterministic; torch-free (the predictor turns a PromptSet
// into tensors). Unlike gt_prompts.h, which adds training noise to ground-truth prompts, these
// are the clean prompts of a pseudo-label.
//
// Coordinates are slice pixel indices (x, y): x = column = the volume's fastest axis, y = row.
// Boxes are inclusive pixel bounds, like gt_prompts.h.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "aslseg/io/volume.h"

namespace aslseg::sam {

// Which prompts a set carries. kBoxPoint = the box plus the central point.
enum class PromptMode { kBox, kPoint, kMultipoint, kBoxPoint };

// "box" | "point" | "multipoint" | "box+point"; throws InputError (no path) naming the value
// and the accepted ones.
PromptMode parse_prompt_mode(const std::string& text);
const char* prompt_mode_name(PromptMode mode);

// SAM's point labels.
enum class PointLabel : int { kNegative = 0, kPositive = 1 };

struct PromptBox {
  int64_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // inclusive
};

struct PromptPoint {
  int64_t x = 0, y = 0;
  PointLabel label = PointLabel::kPositive;
};

// Named defaults of PromptParams. Components under kDefaultMinComponentPixels give no prompt
// (as labelled_slice.h: a speck's box teaches SAM nothing and is mostly noise).
inline constexpr int64_t kDefaultMinComponentPixels = 10;
inline constexpr int64_t kDefaultBoxMargin = 3;  // SAM's boxes sit a little outside the mask
inline constexpr int64_t kDefaultMultipoints = 3;
inline constexpr double kDefaultInteriorDepth = 0.5;  // see PromptParams::interior_depth
inline constexpr int64_t kDefaultRingInner = 3;       // negatives: not on the lesion's edge ...
inline constexpr int64_t kDefaultRingOuter = 10;      // ... but still next to it

struct PromptParams {
  PromptMode mode = PromptMode::kBox;
  uint8_t label = kTumour;  // which label value of a LabelMap is the target (volume_prompts)
  int64_t min_component_pixels = kDefaultMinComponentPixels;
  int64_t box_margin = kDefaultBoxMargin;    // pixels added on every side, then clipped
  int64_t num_points = kDefaultMultipoints;  // kMultipoint: positive points per set (>= 1)
  // kMultipoint draws its points among the pixels at least this fraction of the component's
  // maximal depth (distance to the border) inside: farthest-point sampling over all pixels
  // would put every point but the first on the outline, where a point says least.
  double interior_depth = kDefaultInteriorDepth;
  int64_t num_negative = 0;                // negative points per set, in every mode (0: none)
  int64_t ring_inner = kDefaultRingInner;  // negatives lie at a Euclidean distance in
  int64_t ring_outer = kDefaultRingOuter;  //   [ring_inner, ring_outer] px from the component
  uint64_t seed = 0;                       // negatives only; the rest is seed-free
};

// Throws InputError (no path) naming the field for impossible values (negative sizes, no
// multipoints, interior_depth outside [0, 1], ring_inner > ring_outer, ring_inner < 1).
void validate(const PromptParams& params);

// JSON keys are the field names; "mode" holds prompt_mode_name(mode). Missing keys keep the
// current values; unknown keys, wrong types and invalid values (validate) are
// std::invalid_argument naming the field.
void to_json(nlohmann::json& j, const PromptParams& params);
void from_json(const nlohmann::json& j, PromptParams& params);

// One component's prompt set.
struct PromptSet {
  int32_t component = 0;  // label_components_2d numbering (first pixel in buffer order)
  int64_t pixels = 0;
  PromptBox bounds;                 // tight inclusive bounds of the component
  std::optional<PromptBox> box;     // kBox, kBoxPoint: bounds grown by box_margin, clipped
  std::vector<PromptPoint> points;  // positives first (central point first), then negatives
};

struct SlicePrompts {
  int64_t slice = 0;  // z index in the volume
  std::vector<PromptSet> sets;
};

// The component's most central pixel: the one farthest (exact Euclidean distance) from the
// border, with everything outside the slice counted as outside the component; ties go to the
// pixel nearest the component's centroid, then to the first in buffer order (y, then x). It
// always lies on the component, even for a ring or an L.
// `component` is a width x height mask (nonzero = the component).
PromptPoint central_point(const uint8_t* component, int64_t width, int64_t height);

// Prompt sets for one slice of a binary mask (nonzero = target), one per 8-connected
// component with >= min_component_pixels pixels, in component order. `slice` only keys the
// negative points' randomness (seed, slice, component).
std::vector<PromptSet> slice_prompts(const uint8_t* mask, int64_t width, int64_t height,
                                     const PromptParams& params, int64_t slice = 0);

// Every axial slice of `labels` with at least one candidate (voxels == params.label), in
// ascending z; slices without a candidate are not listed. Pixels of the target label are
// never negative points; liver and background are.
std::vector<SlicePrompts> volume_prompts(const LabelMap& labels, const PromptParams& params);

}  // namespace aslseg::sam
