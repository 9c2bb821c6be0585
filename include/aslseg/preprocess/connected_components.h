// Connected components of binary masks (3D: 6/26-connectivity, 2D: 4/8), component sizes,
// largest-component selection, small-component removal and hole filling. Iterative
// union-find, never recursive, so a 512x512x300 mask neither overflows a stack nor crawls.
#pragma once

#include <cstdint>
#include <vector>

#include "aslseg/io/volume.h"

namespace aslseg::preprocess {

// 6: face neighbours; 26: face, edge and corner neighbours.
enum class Connectivity3D { k6 = 6, k26 = 26 };
// 4: edge neighbours; 8: edge and corner neighbours.
enum class Connectivity2D { k4 = 4, k8 = 8 };

// A voxel is foreground when its mask value is != 0. Every mask this header returns holds
// only 0 and 1.

// Labels 1..count, numbered in order of each component's first voxel in buffer order (x
// fastest), so the numbering is deterministic; 0 = background.
struct Components {
  std::vector<int32_t> labels;  // one per voxel / pixel
  std::vector<int64_t> sizes;   // sizes[k] = voxels of component k; sizes[0] is unused (0)

  int32_t count() const { return sizes.empty() ? 0 : static_cast<int32_t>(sizes.size() - 1); }
  // Label of the largest component (ties: the lower label), 0 when there is none.
  int32_t largest() const;
};

Components label_components(const LabelMap& mask, Connectivity3D c = Connectivity3D::k26);
// One 2D slice of `width` x `height` pixels, x fastest.
Components label_components_2d(const uint8_t* mask, int64_t width, int64_t height,
                               Connectivity2D c = Connectivity2D::k8);

// Only the largest component; an empty mask stays empty.
LabelMap largest_component(const LabelMap& mask, Connectivity3D c = Connectivity3D::k26);

// Drops components with fewer than `min_voxels` voxels (min_voxels >= 0).
LabelMap remove_components_smaller_than(const LabelMap& mask, int64_t min_voxels,
                                        Connectivity3D c = Connectivity3D::k26);

// Hole filling: a background region not connected to the border becomes foreground. The
// defaults (6 / 4) are the background connectivities of scipy.ndimage.binary_fill_holes:
// a hole counts as open only through a face (edge) gap, not through a corner.
LabelMap fill_holes_3d(const LabelMap& mask, Connectivity3D background = Connectivity3D::k6);
// Every axial slice on its own. Use this for body masks: the body is open at the first and
// last slice, so 3D filling would not close gas in the bowel touching those slices.
LabelMap fill_holes_2d_per_slice(const LabelMap& mask,
                                 Connectivity2D background = Connectivity2D::k4);
// In place on one slice.
void fill_holes_2d(uint8_t* mask, int64_t width, int64_t height,
                   Connectivity2D background = Connectivity2D::k4);

}  // namespace aslseg::preprocess
