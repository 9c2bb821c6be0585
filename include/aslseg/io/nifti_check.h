// Our own validation of NIfTI-1/NIfTI-2 files (.nii, .nii.gz) before ITK reads them.
// ITK 5.2 alone accepts truncated or corrupt gzip streams (missing voxels read as 0), headers
// whose data lies past the end of the file, zero pixdim (spacing silently 1), 4D files (first
// volume only) and turns NaN/Inf into 0; this check refuses all of those with an InputError
// naming the file, so no user is ever handed invented voxels.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace aslseg::io {

struct NiftiHeaderInfo {
  int version = 1;                 // 1 or 2
  int ndim = 0;                    // dim[0]
  std::array<int64_t, 7> dim{};    // dim[1..7]
  std::array<double, 3> pixdim{};  // pixdim[1..3]
  int datatype = 0;
  int bytes_per_voxel = 0;
  int64_t vox_offset = 0;
  bool swapped = false;  // header written with the other byte order
  bool is_float = false;
  // With NiftiCheckOptions::collect_non_finite: the indices (file order, which is ITK's buffer
  // order) of the NaN/Inf voxels, which ITK's reader would hand back as 0.
  std::vector<int64_t> non_finite;
  int64_t num_voxels() const;
};

struct NiftiCheckOptions {
  bool allow_single_slice = false;  // accept X×Y×1 / 2D files
  bool scan_data = true;            // stream the whole file: length, gzip CRC, NaN/Inf
  // NaN/Inf voxels of a float file: listed in NiftiHeaderInfo::non_finite for the caller (a
  // CT image: outside the field of view) instead of refusing the file (a label map). More
  // than half the volume non-finite is refused either way.
  bool collect_non_finite = false;
};

// Throws InputError(path, ...) on the first problem; returns the header when all is well.
NiftiHeaderInfo check_nifti(const std::filesystem::path& path, const NiftiCheckOptions& options);

// True for ".nii" and ".nii.gz" names.
bool is_nifti_path(const std::filesystem::path& path);

}  // namespace aslseg::io
