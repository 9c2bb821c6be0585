#include "aslseg/preprocess/body_mask.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace aslseg::preprocess {

LabelMap body_mask(const Image& hu, const BodyMaskParams& p) {
  return body_mask(hu, valid_mask(hu, p.invalid), p);
}

LabelMap body_mask(const Image& hu, const LabelMap& valid, const BodyMaskParams& p) {
  if (hu.geometry.size != valid.geometry.size) {
    throw std::invalid_argument("body_mask: valid mask size " + valid.geometry.describe() +
                                " differs from image size " + hu.geometry.describe());
  }
  if (std::isnan(p.threshold_hu)) {
    throw std::invalid_argument("body_mask: threshold_hu is NaN");
  }
  LabelMap candidate(hu.geometry, 0);
  for (size_t i = 0; i < hu.voxels.size(); ++i) {
    candidate.voxels[i] = valid.voxels[i] != 0 && hu.voxels[i] > p.threshold_hu;
  }
  LabelMap body = largest_component(candidate, p.connectivity);
  if (p.fill_holes) body = fill_holes_2d_per_slice(body, p.hole_connectivity);
  return body;
}

}  // namespace aslseg::preprocess
