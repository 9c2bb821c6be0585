// Synthetic lesions, an augmentation of the labelled stream: an irregular ellipsoid of drawn
// size and contrast is added to the liver of a labelled slice stack and labelled tumour. After
// label-free tumour synthesis (Hu et al., "Label-Free Liver Tumor Segmentation", CVPR 2023):
// with a handful of labelled volumes the net sees only the few lesions they hold, so it learns
// those (their size, their contrast sign) instead of "a blob that differs from the liver".
// Synthesis keeps the recipient's texture and noise (the contrast is added, not painted) and
// draws sizes and contrasts from wide, generic ranges, not from any one data set
// (docs/ssl_data.md). Torch-free and on raw planes, like augment.h: the batch workers run it.
#pragma once

#include <cstdint>
#include <vector>

#include "aslseg/ssl/lesion_paste.h"

namespace aslseg::ssl {

struct LesionSynthParams {
  double probability = 0.0;  // of a labelled sample getting one synthetic lesion (0: off)
  // Radius in mm, log-uniform: small lesions are the common and the hard ones.
  double radius_min_mm = 3.0;
  double radius_max_mm = 25.0;
  // |contrast| to the liver in HU, uniform; negative (hypodense) with hypo_probability.
  double contrast_min_hu = 15.0;
  double contrast_max_hu = 90.0;
  double hypo_probability = 0.6;
  double irregularity = 0.2;  // max relative radius perturbation (0: an ellipse per slice)
};

// One lesion, fully drawn: a pure function of these numbers and the stack.
struct SynthDraw {
  double centre_x = 0.0, centre_y = 0.0;  // pixels of the stack's planes
  double centre_z_mm = 0.0;               // offset of the centre from the centre slice
  double radius_mm = 5.0;
  double elongation = 1.0;               // semi-axes radius * e and radius / e in-plane
  double angle_rad = 0.0;                // of the long axis
  double harmonic2 = 0.0, phase2 = 0.0;  // boundary r(t) *= 1 + h2 cos(2t + p2) + h3 cos(3t + p3)
  double harmonic3 = 0.0, phase3 = 0.0;
  double contrast = 0.0;  // in window units ([0, 1] = the HU window), signed
};

// Geometry of the stack at model resolution.
struct StackSpacing {
  double pixel_mm = 1.0;  // in-plane (x and y alike after the square resize)
  double slice_mm = 1.0;  // between channels
};

// Writes the recipient with the lesion added into `out_channels` (2k+1 planes) and `out_label`
// (the centre label plane). On each channel the lesion is the ellipsoid's section at that
// slice's height; a pixel of recipient liver or tumour at distance d inside a section of
// radius R gets contrast * clamp(R - d + 1/2, 0, 1) (a one-pixel soft edge), clamped to
// [0, 1]. Centre pixels with weight >= 1/2 become tumour. Pixels outside the liver are never
// changed, so the lesion stays inside the organ it belongs to. Returns the number of centre
// pixels that became tumour (0: outputs equal the recipient).
int64_t synthesize_lesion(const LabelledStack& recipient, const StackSpacing& spacing,
                          const SynthDraw& draw, float* out_channels, uint8_t* out_label);

}  // namespace aslseg::ssl
