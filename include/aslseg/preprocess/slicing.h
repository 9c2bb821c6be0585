// Axial slices for the 2D / 2.5D networks: slice z with k neighbours on each side as channels,
// label slices, writing predicted slices back, and listing the slices holding a label.
#pragma once

#include <cstdint>
#include <vector>

#include "aslseg/io/volume.h"
#include "aslseg/preprocess/planes.h"

namespace aslseg::preprocess {

// k = 1: three channels (z-1, z, z+1), the usual 2.5D input; k = 0 is plain 2D.
constexpr int kDefaultContextSlices = 1;

struct SliceParams {
  // k: slices taken on each side of the centre; the network sees 2k+1 channels.
  int context = kDefaultContextSlices;
};

// The 2k+1 source slice indices for centre z, in channel order z-k .. z+k (the centre is
// channel k). Indices outside [0, depth) are clamped to the nearest end slice (edge
// replication, like torch's 'replicate' padding): a real slice, so the first and last slices
// see intensities of the same kind as every other slice instead of zeros.
// Throws std::invalid_argument when z is outside [0, depth) or context < 0.
std::vector<int64_t> context_slice_indices(int64_t z, int context, int64_t depth);

// [2k+1][Y][X] floats: channel c is axial slice context_slice_indices(z)[c] of `volume`.
FloatPlanes slice_with_context(const Image& volume, int64_t z, const SliceParams& p = {});
// Same into a caller's buffer of (2k+1) * X * Y floats (e.g. a tensor's storage).
void slice_with_context(const Image& volume, int64_t z, const SliceParams& p, float* out);

// [1][Y][X] copy of axial slice z.
LabelPlanes label_slice(const LabelMap& labels, int64_t z);

// Writes a [1][Y][X] plane (sized like the volume's slices) into axial slice z.
void put_label_slice(const LabelPlanes& plane, LabelMap& labels, int64_t z);

// Axial slices (ascending z) with at least `min_voxels` voxels equal to `label`, e.g. the
// tumour slices to over-sample during training. min_voxels >= 1.
std::vector<int64_t> slices_containing(const LabelMap& labels, uint8_t label,
                                       int64_t min_voxels = 1);

}  // namespace aslseg::preprocess
