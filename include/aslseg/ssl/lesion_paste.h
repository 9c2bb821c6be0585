// Lesion copy-paste with contrast jitter, an augmentation of the labelled stream: one tumour
// of a labelled slice is pasted into the liver of another labelled slice, its contrast to the
// liver rescaled and sometimes inverted. TumorCP (Yang et al., MICCAI 2021) pastes tumours
// as they are; with a handful of labelled volumes the few lesions they hold span few
// contrasts, and a net trained on them calls a darker lesion background, so here the lesion's
// mean contrast is redrawn while its texture and shape are kept (docs/ssl_data.md).
// Torch-free and on raw planes, like augment.h: the batch workers run it.
#pragma once

#include <cstdint>
#include <vector>

namespace aslseg::ssl {

struct LesionPasteParams {
  double probability = 0.0;  // of a labelled sample getting one pasted lesion (0: off)
  // The donor's mean contrast to its liver is multiplied by a factor drawn uniformly in
  // [contrast_min, contrast_max] and negated with invert_probability (hypo <-> hyper).
  double contrast_min = 0.5;
  double contrast_max = 2.0;
  double invert_probability = 0.3;
};

// LiTS labels as the lesion augmentations read them: the liver is the organ with its tumours.
inline constexpr uint8_t kStackLiver = 1;
inline constexpr uint8_t kStackTumour = 2;
inline bool in_liver(uint8_t label) { return label == kStackLiver || label == kStackTumour; }

// A 2k+1 slice stack as windowed planes, with the label plane of every channel's slice.
struct LabelledStack {
  std::vector<const float*> channels;
  std::vector<const uint8_t*> labels;  // same order as channels
  int64_t height = 0;
  int64_t width = 0;
  int64_t centre = 0;  // index of the centre channel (k)
};

struct PasteDraw {
  int64_t donor_x = 0, donor_y = 0;    // a tumour pixel of the donor's centre slice
  int64_t target_x = 0, target_y = 0;  // where that pixel lands in the recipient
  double contrast_factor = 1.0;        // signed
};

// Writes the recipient with the donor's lesion pasted into `out_channels` (2k+1 planes) and
// `out_label` (the centre label plane). The lesion is the 4-connected tumour component of the
// donor's centre slice holding (donor_x, donor_y); on each channel, the donor's tumour pixels
// within that component's bounding box (plus a margin) move by target - donor and land only on
// recipient liver or tumour of the same channel, where they take the value
//   recipient liver mean + (donor - lesion mean) + factor * (lesion mean - donor liver mean),
// clamped to [0, 1] (means per channel, liver = label 1). Landed centre pixels become tumour.
// Returns the number of centre pixels that became tumour (0: outputs equal the recipient).
int64_t paste_lesion(const LabelledStack& donor, const LabelledStack& recipient,
                     const PasteDraw& draw, float* out_channels, uint8_t* out_label);

}  // namespace aslseg::ssl
