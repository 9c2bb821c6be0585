// Data-length checks for MetaImage (.mha/.mhd) and NRRD (.nrrd/.nhdr) files, whose ITK
// readers can hand back voxels that are not in the file.
#pragma once

#include <filesystem>

namespace aslseg::io {

// Throws InputError naming the file when its header promises more voxel data than it holds.
void check_raw_data_length(const std::filesystem::path& path);

}  // namespace aslseg::io
