// Reading and writing volumes through ITK: NIfTI (.nii, .nii.gz), MetaImage (.mha, .mhd),
// NRRD (.nrrd, .nhdr) and DICOM series folders. Readers validate what ITK does not (truncated
// or corrupt data, headers claiming more voxels than the file holds, 2D/4D input, zero
// spacing, NaN/Inf) and throw InputError naming the file. Writers go through a temporary name
// in the destination folder and a rename, so a crash never leaves a half-written file.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "aslseg/io/error.h"
#include "aslseg/io/volume.h"

namespace aslseg::io {

// How voxel values are stored on disk when writing an image.
enum class PixelType { kUInt8, kInt16, kFloat32 };

// What a CT's NaN/Inf voxels (resampling fill in float exports) are read as: below
// preprocess::kPaddingThresholdHu (-2000), so they count as outside the scanner's field of
// view: predicted background, left out of training losses. -3024 is what scanners write there.
inline constexpr float kNonFiniteHu = -3024.0f;

// Reads a 3D CT volume (any scalar pixel type) as float HU. `path` may be a file or a folder
// holding one DICOM series. NaN/Inf voxels become kNonFiniteHu with one warning naming the
// file and their count; a volume more than half non-finite is refused (InputError).
// `dicom_series` picks a series of a DICOM folder holding several (by SeriesInstanceUID); empty:
// the one with most slices, with a warning listing them all.
Image read_image(const std::filesystem::path& path, const std::string& dicom_series = {});

// The DICOM series of a folder (GDCM's grouping, whatever the file names), most slices first.
struct DicomSeries {
  std::string uid;                 // the series' UID (GDCM appends details when series share one)
  std::vector<std::string> files;  // in GDCM's slice order
};
std::vector<DicomSeries> list_dicom_series(const std::filesystem::path& dir);

// Reads a 3D label map. Values must be integers in [0, 255]; anything else is an InputError.
// `allow_single_slice` accepts a 2D file as an X×Y×1 volume (a mask slice for a metric test,
// say); everything that trains or infers needs true 3D input.
LabelMap read_labels(const std::filesystem::path& path, bool allow_single_slice = false);

// Reads only the geometry (header), cheaply, after the same header checks as read_image.
Geometry read_geometry(const std::filesystem::path& path);

// Reads the label map and checks that its grid matches `image_geometry`; the error names the
// label file and the first difference.
LabelMap read_labels_matching(const std::filesystem::path& path, const Geometry& image_geometry);

// Atomic writes; the format follows the extension (.nii.gz, .nii, .mha, .nrrd).
void write_labels(const LabelMap& labels, const std::filesystem::path& path);
void write_image(const Image& image, const std::filesystem::path& path,
                 PixelType pixel_type = PixelType::kInt16);

// True for the file names and folders read_image understands.
bool is_volume_path(const std::filesystem::path& path);

// A DICOM file by its name (.dcm, any case) or, whatever its name, by its content: the "DICM"
// magic after the 128-byte preamble of DICOM Part 10.
bool is_dicom_file(const std::filesystem::path& path);

// "volume-3" for "volume-3.nii.gz", "case_0001_0000" for "case_0001_0000.nii" ...
std::string volume_stem(const std::filesystem::path& path);

}  // namespace aslseg::io
