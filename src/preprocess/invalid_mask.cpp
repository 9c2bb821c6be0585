#include "aslseg/preprocess/invalid_mask.h"

#include <algorithm>

namespace aslseg::preprocess {

LabelMap valid_mask(const Image& hu, const InvalidMaskParams& p) {
  LabelMap mask(hu.geometry, kInvalid);
  std::transform(hu.voxels.begin(), hu.voxels.end(), mask.voxels.begin(),
                 [&p](float v) { return is_valid_hu(v, p) ? kValid : kInvalid; });
  return mask;
}

int64_t count_valid(const LabelMap& valid) {
  return static_cast<int64_t>(valid.voxels.size()) -
         std::count(valid.voxels.begin(), valid.voxels.end(), kInvalid);
}

}  // namespace aslseg::preprocess
