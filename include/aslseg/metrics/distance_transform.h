// Surface extraction and the exact Euclidean distance transform behind HD95 and ASD; both
// follow the definitions MONAI's surface metrics use (scipy.ndimage semantics).
#pragma once

#include "aslseg/io/volume.h"

namespace aslseg::metrics {

// Surface voxels of a binary mask (nonzero = foreground): mask XOR binary_erosion(mask) with
// the 6-connected cross and everything outside the volume counted as background
// (scipy.ndimage.binary_erosion's defaults, as in monai.metrics.utils.get_mask_edges), so a
// foreground voxel on the volume border is always a surface voxel. Output values are 0/1 on
// the same geometry.
LabelMap surface_voxels(const LabelMap& mask);

// Exact Euclidean distance in mm, using geometry.spacing per axis, from every voxel to the
// nearest nonzero voxel of `features`: 0 on a feature, +inf everywhere when there is none.
// Equals scipy.ndimage.distance_transform_edt(features == 0, sampling=spacing). Separable
// lower-envelope algorithm of Felzenszwalb & Huttenlocher ("Distance Transforms of Sampled
// Functions", Theory of Computing 8, 2012), run on squared distances, one axis at a time.
Volume<double> euclidean_distance_to(const LabelMap& features);

}  // namespace aslseg::metrics
