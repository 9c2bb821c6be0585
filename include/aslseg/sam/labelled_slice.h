// Labelled axial slices for fine-tuning SAM: the slices of labelled CT volumes that hold the
// tumour class, windowed to [0, 1] at their own resolution. They are brought to the model's
// frame exactly as SamPredictor does (sam_image_from_windowed), when they are encoded, so that
// training sees what inference sees; the loss is taken at the slice's own size, where the
// predictor's masks live.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "aslseg/dataset/split.h"
#include "aslseg/io/volume.h"
#include "aslseg/preprocess/intensity.h"

namespace aslseg::sam {

// Tumour slices smaller than this are skipped by default: a lesion of a few pixels gives a box
// of a few pixels, which teaches SAM little and is mostly label noise.
constexpr int64_t kDefaultMinTumourPixels = 10;

struct LabelledSlice {
  std::string source;      // "<case id> z=<z>", for logs
  torch::Tensor windowed;  // [height, width] float32 in [0, 1] (CPU)
  torch::Tensor mask;      // [height, width] uint8 0/1: the target class (CPU)
};

struct SliceSelection {
  preprocess::WindowParams window;
  uint8_t label = kTumour;  // LiTS: 2
  int64_t min_pixels = kDefaultMinTumourPixels;
  // 0: every qualifying slice; else at most this many per case, evenly spaced in z (bounds
  // memory: a 512x512 slice costs 1.25 MB here, plus its cached embedding when training).
  int64_t max_slices_per_case = 0;
};

// Axial slice z of `image` windowed to [0, 1]: [height, width] float32 (CPU), what
// SamPredictor::set_windowed and the crops of roi_crop.h take.
torch::Tensor windowed_slice(const Image& image, int64_t z, const preprocess::WindowParams& w);

// The axial slices of `labels` with at least min_pixels voxels of `label`, ascending z
// (thinned to max_slices_per_case). Throws std::invalid_argument when the grids differ.
std::vector<LabelledSlice> labelled_slices(const Image& image, const LabelMap& labels,
                                           const std::string& id, const SliceSelection& s);

// Reads each case (labels checked against the image grid: InputError naming the file) and
// collects its slices, in case order.
std::vector<LabelledSlice> load_labelled_slices(const std::vector<dataset::LabelledCase>& cases,
                                                const SliceSelection& s);

}  // namespace aslseg::sam
