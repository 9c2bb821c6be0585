// The per-case picture of an export: one axial CT slice in grey with the tumour outlines of
// PL1 (SSL net), PL2 (SAM) and PL3 (adaptation net, the exported tumour) in three colours, so
// a reader can see at a glance what each stage did to the case's largest lesion.
#pragma once

#include <cstdint>

#include "aslseg/export/rgb_image.h"
#include "aslseg/io/volume.h"

namespace aslseg::exporting {

// Soft-tissue window (centre / width in HU), as radiologists read the liver.
inline constexpr double kOverlayWindowCenter = 60.0;
inline constexpr double kOverlayWindowWidth = 400.0;
// Okabe-Ito colours: distinguishable with the common colour-vision deficiencies, and none is
// grey (r, g and b differ), so an outline never blends into the CT.
inline constexpr Rgb kPl1Colour{230, 159, 0};     // orange
inline constexpr Rgb kPl2Colour{86, 180, 233};    // sky blue
inline constexpr Rgb kPl3Colour{0, 158, 115};     // bluish green
inline constexpr Rgb kLabelColour{240, 228, 66};  // yellow: the expert (or hidden) label

// The axial slice to show: the most PL3 tumour voxels; when PL3 has none, the most PL1
// tumour; then the most liver (label >= 1) of `label`; else the middle slice. Ties: the
// lowest z.
int64_t overlay_slice(const LabelMap& pl3, const LabelMap& pl1, const LabelMap& label);

// Slice z of `ct`, windowed to grey, with the tumour (label 2) outlines of pl1, pl2 and pl3
// drawn in that order (PL3 on top). Outline = tumour pixels with a 4-neighbour outside the
// tumour or on the slice edge. The picture is width x height of the slice; columns are
// mirrored when the x axis points to the patient's right and rows when the y axis points
// anteriorly, so it shows the usual radiological view (patient's right on the left, anterior
// up) for axis-aligned grids. With `label`, its tumour outline is drawn first, under the
// others (the run report shows the hidden label of a case next to its pseudo-labels).
RgbImage render_overlay(const Image& ct, const LabelMap& pl1, const LabelMap& pl2,
                        const LabelMap& pl3, int64_t z, const LabelMap* label = nullptr);

}  // namespace aslseg::exporting
