// Body (foreground) mask of a CT volume: everything denser than air that belongs to the
// patient, without the table, the air around it or the scanner's padding.
#pragma once

#include "aslseg/io/volume.h"
#include "aslseg/preprocess/connected_components.h"
#include "aslseg/preprocess/invalid_mask.h"

namespace aslseg::preprocess {

// Halfway between air (-1000) and fat (-100): lung parenchyma (~-850) falls out, skin and fat
// stay in; the lungs come back through hole filling.
constexpr float kBodyThresholdHu = -500.0f;

struct BodyMaskParams {
  // Voxels strictly above this value (and valid) are candidate body voxels.
  float threshold_hu = kBodyThresholdHu;
  // Connectivity for the largest-component step. 6 (faces only) keeps a table that touches
  // the patient at a single corner out of the body.
  Connectivity3D connectivity = Connectivity3D::k6;
  // Fill enclosed air (bowel gas, lungs) slice by slice, with this background connectivity.
  bool fill_holes = true;
  Connectivity2D hole_connectivity = Connectivity2D::k4;
  // Used by the form without an explicit valid mask.
  InvalidMaskParams invalid;
};

// threshold on valid voxels -> largest 3D component -> 2D hole filling per axial slice.
// Returns 0/1 with the geometry of `hu`; an all-air volume gives an empty mask.
LabelMap body_mask(const Image& hu, const BodyMaskParams& p = {});
// Same with a valid mask computed elsewhere (1 = valid); p.invalid is then unused.
LabelMap body_mask(const Image& hu, const LabelMap& valid, const BodyMaskParams& p = {});

}  // namespace aslseg::preprocess
