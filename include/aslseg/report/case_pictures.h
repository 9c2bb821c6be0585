// The pictures of one scored case in the run report: a few axial slices of its CT with the
// tumour outlines of its label (when known) and of PL1, PL2, PL3 (export/overlay.h draws them).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "aslseg/io/volume.h"

namespace aslseg::report {

struct CasePicture {
  int64_t z = 0;
  std::string data_uri;  // data:image/png;base64,...
};

struct CasePictures {
  std::vector<CasePicture> slices;  // ascending z
};

// Up to `count` distinct axial slices with the most tumour voxels in the label, PL1, PL2 or PL3
// together (ascending z); when none has tumour, the slice with the most liver in maps[0].
std::vector<int64_t> pick_slices(const std::vector<const LabelMap*>& maps, int count);

// Reads the CT and the label maps (a missing PL2/PL3 file, as when a stage was skipped, draws
// nothing for it) and renders the slices of pick_slices. InputError naming the file when the
// CT or a present label map cannot be read or is on another grid.
CasePictures render_case(const std::filesystem::path& image,
                         const std::optional<std::filesystem::path>& label,
                         const std::filesystem::path& pl1, const std::filesystem::path& pl2,
                         const std::filesystem::path& pl3, int count,
                         const std::filesystem::path& scratch_dir);

}  // namespace aslseg::report
