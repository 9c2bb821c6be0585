// Synthetic weak-segmenter pseudo-labels for training the adaptation net (DESIGN.md, "The
// loop", step 3: corrupt(GT) -> prompts -> SAM -> synthetic PL2). A ground-truth tumour mask is
// degraded the way an SSL net's tumour output is wrong: too small or too large (erode,
// dilate), misplaced (shift), ragged (elastic boundary noise), a missed lesion (drop), a false
// positive (blob), two lesions fused (merge) or one broken in two (split).
//
// Unit: the axial slice, the unit of stages 2-3 (SAM and the adaptation net see one slice at a
// time); each slice is corrupted independently, deterministically from (seed, case, slice).
// Magnitudes are in pixels of the slice. The mix and its defaults: docs/corruptions.md.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aslseg/io/volume.h"
#include "aslseg/loop/mask2d.h"
#include "aslseg/synth/rng.h"

namespace aslseg::loop {

// In the order corrupt_slice applies them: structure first, then the boundary, then the
// position, then false positives (so a blob is placed on the final mask, never shifted onto
// a lesion).
enum class CorruptionKind { kDrop, kSplit, kMerge, kErode, kDilate, kElastic, kShift, kBlob };
inline constexpr int kNumCorruptionKinds = 8;
const char* corruption_name(CorruptionKind kind);

struct CorruptionParams {
  // Probability that a kind is applied to a slice (independent draws; erode and dilate are
  // exclusive: one uniform u, erode when u < p_erode, dilate when u < p_erode + p_dilate).
  double p_drop = 0.1;
  double p_split = 0.1;
  double p_merge = 0.3;  // only ever acts when two lesions are within merge_max_gap
  double p_erode = 0.25;
  double p_dilate = 0.25;
  double p_elastic = 0.5;
  double p_shift = 0.3;
  double p_blob = 0.1;

  // Magnitudes (pixels; ranges inclusive, drawn uniformly).
  int64_t erode_min = 1, erode_max = 2;    // disc radius
  int64_t dilate_min = 1, dilate_max = 3;  // disc radius
  int64_t shift_min = 1, shift_max = 3;    // length of the displacement
  double elastic_amplitude = 1.5;          // s.d. of each control point's displacement, per axis
  int64_t elastic_grid = 8;                // spacing of the control points
  int64_t blob_radius_min = 2, blob_radius_max = 5;  // semi-axes of the false ellipse
  int64_t blob_search_radius = 20;  // without a liver: blob centre this close to a lesion
  int64_t merge_max_gap = 12;       // lesions farther apart are never bridged
  double bridge_half_width = 1.5;   // the bridge: pixels this close to the segment
  int64_t split_min_pixels = 40;    // smaller lesions are not cut
  double cut_half_width = 1.0;      // >= sqrt(2)/2 keeps the two pieces 8-disconnected
  int max_tries = 20;               // placements tried before a blob / split gives up
};

// Throws InputError (no path) naming the field: probabilities outside [0, 1], p_erode +
// p_dilate > 1, negative or inverted ranges, elastic_grid < 2, cut_half_width < sqrt(2)/2.
void validate(const CorruptionParams& params);

// JSON keys are the field names (docs/corruptions.md). Missing keys keep the current values;
// unknown keys, wrong types and invalid values (validate) are std::invalid_argument naming the
// field.
void to_json(nlohmann::json& j, const CorruptionParams& params);
void from_json(const nlohmann::json& j, CorruptionParams& params);

struct CorruptionResult {
  Mask2D mask;
  std::vector<CorruptionKind> applied;  // what changed the mask, in order
};

// The individual corruptions. 8-connectivity throughout, as the prompts.
// Pixels farther than `radius` from every background pixel (outside the slice = background):
// the erosion by a Euclidean disc; always a subset of the input.
Mask2D erode(const Mask2D& mask, double radius);
// Pixels within `radius` of a foreground pixel: always a superset of the input.
Mask2D dilate(const Mask2D& mask, double radius);
// Moved by (dx, dy) pixels; what leaves the slice is lost.
Mask2D shift(const Mask2D& mask, int64_t dx, int64_t dy);
// Backward warp by a smooth random displacement field (control points every `grid` pixels,
// N(0, amplitude^2) per axis, smoothstep-interpolated), nearest neighbour.
Mask2D elastic(const Mask2D& mask, double amplitude, int64_t grid, uint64_t key);
// Removes one component drawn at random; false when there is none.
bool drop_component(Mask2D& mask, synth::Rng& rng);
// Adds one elliptical component that touches no existing one (8-connectivity), centred on a
// liver pixel when `liver` is given (none on a slice without liver), else within
// blob_search_radius of a lesion (anywhere on a slice without one). False when no placement
// fits in max_tries.
bool add_blob(Mask2D& mask, const Mask2D* liver, const CorruptionParams& p, synth::Rng& rng);
// Bridges a random pair of components whose gap is <= merge_max_gap with a thick segment
// between their closest pixels; false when no pair is that close.
bool merge_components(Mask2D& mask, const CorruptionParams& p, synth::Rng& rng);
// Cuts a random component of >= split_min_pixels along a line through its centroid at a
// random angle, retrying other angles until it falls apart; false when none did.
bool split_component(Mask2D& mask, const CorruptionParams& p, synth::Rng& rng);

// The randomness key of one slice: a hash of the seed, the case id and the slice index.
uint64_t corruption_key(uint64_t seed, const std::string& case_id, int64_t slice);

// Applies each kind with its probability, in CorruptionKind order. Every kind draws from its
// own stream of `key`, so changing one probability does not change what the others do.
// `liver` (same size, may be null) steers the false blobs.
CorruptionResult corrupt_slice(const Mask2D& tumour, const Mask2D* liver,
                               const CorruptionParams& params, uint64_t key);

// Every axial slice of a LiTS label map: the tumour (label 2) is corrupted with the liver
// (label >= 1) as the blobs' guide; the result holds liver = 1 where the ground truth has
// liver or tumour, and 2 on the corrupted tumour (which may leave the liver, as a dilated
// or shifted prediction does).
LabelMap corrupt_volume(const LabelMap& ground_truth, const CorruptionParams& params, uint64_t seed,
                        const std::string& case_id);

}  // namespace aslseg::loop
