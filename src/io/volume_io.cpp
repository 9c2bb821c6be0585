#include "aslseg/io/volume_io.h"

#include <gdcmTrace.h>
#include <itkGDCMImageIO.h>
#include <itkGDCMImageIOFactory.h>
#include <itkGDCMSeriesFileNames.h>
#include <itkImage.h>
#include <itkImageFileWriter.h>
#include <itkImageIOBase.h>
#include <itkImageIOFactory.h>
#include <itkImageSeriesReader.h>
#include <itkMetaDataObject.h>
#include <itkMetaImageIOFactory.h>
#include <itkNiftiImageIOFactory.h>
#include <itkNrrdImageIOFactory.h>

#include <spdlog/spdlog.h>

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <mutex>
#include <sstream>
#include <type_traits>

#include "aslseg/io/atomic_file.h"
#include "aslseg/io/nifti_check.h"
#include "aslseg/io/raw_check.h"

namespace aslseg::io {

namespace fs = std::filesystem;

namespace {

constexpr unsigned kDim = 3;
constexpr const char* kBitsAllocatedTag = "0028|0100";
// zlib level for .nii.gz outputs: level 1 compresses CT-like int16 volumes to within a few
// percent of level 6 at several times the speed (docs/benchmarks.md).
constexpr int kNiftiGzipLevel = 1;
constexpr size_t kGzipBufferBytes = size_t{1} << 20;

const char* const kVolumeExtensions[] = {".nii.gz", ".nii",  ".mha", ".mhd",
                                         ".nrrd",   ".nhdr", ".dcm"};

bool ends_with(const std::string& s, const std::string& e) {
  return s.size() > e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
}

// Voxels of any scalar type as read from disk, before conversion to float or uint8.
struct RawVolume {
  Geometry geometry;
  itk::IOComponentEnum component = itk::IOComponentEnum::UNKNOWNCOMPONENTTYPE;
  std::vector<unsigned char> bytes;
  // NIfTI read with `collect_non_finite`: where the file held NaN/Inf (ITK reads them as 0).
  std::vector<int64_t> non_finite;
};

// ITK's descriptions span several lines and start with an object address; keep one line.
std::string itk_message(const itk::ExceptionObject& e) {
  std::string out;
  std::string line;
  std::istringstream in(e.GetDescription());
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    if (!out.empty()) out += "; ";
    out += line.substr(first);
  }
  return out;
}

void check_exists(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError(path.string(), "no such file or folder");
}

// Geometry from an ImageIO after ReadImageInformation, with the 2D/4D checks.
Geometry geometry_from_io(const fs::path& path, itk::ImageIOBase& io, bool allow_single_slice) {
  const std::string p = path.string();
  const unsigned nd = io.GetNumberOfDimensions();
  if (io.GetNumberOfComponents() != 1)
    throw InputError(p, "has " + std::to_string(io.GetNumberOfComponents()) +
                            " components per voxel; a scalar (grey-value) volume is needed");
  for (unsigned i = kDim; i < nd; ++i) {
    if (io.GetDimensions(i) > 1)
      throw InputError(p, "is " + std::to_string(nd) + "D; a single 3D volume is needed");
  }
  Geometry g;
  for (unsigned i = 0; i < kDim; ++i) {
    g.size[i] = i < nd ? static_cast<int64_t>(io.GetDimensions(i)) : 1;
    g.spacing[i] = i < nd ? io.GetSpacing(i) : 1.0;
    g.origin[i] = i < nd ? io.GetOrigin(i) : 0.0;
    for (unsigned r = 0; r < kDim; ++r) {
      double v = (r == i) ? 1.0 : 0.0;
      if (i < nd) {
        const std::vector<double> col = io.GetDirection(i);
        if (r < col.size()) v = col[r];
      }
      g.direction[r * kDim + i] = v;
    }
  }
  if ((nd < kDim || g.size[2] == 1) && !allow_single_slice)
    throw InputError(p, "is 2D (" + std::to_string(g.size[0]) + "x" + std::to_string(g.size[1]) +
                            "); a 3D volume is needed");
  for (unsigned i = 0; i < kDim; ++i) {
    if (!(g.spacing[i] > 0.0) || !std::isfinite(g.spacing[i]))
      throw InputError(p, "voxel spacing along axis " + std::to_string(i) + " is " +
                              std::to_string(g.spacing[i]) + "; it must be positive");
  }
  return g;
}

// Registered explicitly (not through ITK's CMake-generated manager) so that the library works
// the same inside the CLI, the tests and any program that links it.
void register_itk_factories() {
  static std::once_flag once;
  std::call_once(once, [] {
    itk::NiftiImageIOFactory::RegisterOneFactory();
    itk::MetaImageIOFactory::RegisterOneFactory();
    itk::NrrdImageIOFactory::RegisterOneFactory();
    itk::GDCMImageIOFactory::RegisterOneFactory();
    // GDCM narrates every quirk of a vendor file on stderr (hundreds of MB for some GE
    // series, and seconds per file spent printing it); errors still reach us as exceptions.
    gdcm::Trace::WarningOff();
    gdcm::Trace::DebugOff();
  });
}

itk::ImageIOBase::Pointer open_io(const fs::path& path) {
  register_itk_factories();
  auto io = itk::ImageIOFactory::CreateImageIO(path.c_str(), itk::IOFileModeEnum::ReadMode);
  if (!io)
    throw InputError(path.string(), "not a readable image (unknown format or corrupt header)");
  io->SetFileName(path.string());
  return io;
}

// Checks that ITK cannot do on its own, by format. They run before ITK touches the voxels.
// Returns the indices of a NIfTI float file's NaN/Inf voxels when `collect_non_finite` (else
// such a file is refused).
std::vector<int64_t> validate_file(const fs::path& path, bool allow_single_slice, bool scan_data,
                                   bool collect_non_finite = false) {
  if (is_nifti_path(path)) {
    NiftiCheckOptions options;
    options.allow_single_slice = allow_single_slice;
    options.scan_data = scan_data;
    options.collect_non_finite = collect_non_finite;
    return check_nifti(path, options).non_finite;
  } else if (ends_with(path.filename().string(), ".mha") ||
             ends_with(path.filename().string(), ".mhd") ||
             ends_with(path.filename().string(), ".nrrd") ||
             ends_with(path.filename().string(), ".nhdr")) {
    if (scan_data) check_raw_data_length(path);
  }
  return {};
}

RawVolume read_file(const fs::path& path, bool allow_single_slice, bool collect_non_finite) {
  RawVolume raw;
  raw.non_finite = validate_file(path, allow_single_slice, /*scan_data=*/true, collect_non_finite);
  try {
    auto io = open_io(path);
    io->ReadImageInformation();
    raw.geometry = geometry_from_io(path, *io, allow_single_slice);
    raw.component = io->GetComponentType();
    const size_t bytes = static_cast<size_t>(raw.geometry.num_voxels()) * io->GetComponentSize();
    raw.bytes.resize(bytes);
    itk::ImageIORegion region(io->GetNumberOfDimensions());
    for (unsigned i = 0; i < io->GetNumberOfDimensions(); ++i) {
      region.SetIndex(i, 0);
      region.SetSize(i, io->GetDimensions(i));
    }
    io->SetIORegion(region);
    io->Read(raw.bytes.data());
  } catch (const itk::ExceptionObject& e) {
    throw InputError(path.string(), "cannot read: " + itk_message(e));
  }
  return raw;
}

// "uid1 (129 slices), uid2 (3 slices)".
std::string describe_series(const std::vector<DicomSeries>& series) {
  std::string out;
  for (const auto& s : series)
    out += (out.empty() ? "" : ", ") + s.uid + " (" + std::to_string(s.files.size()) + " slices)";
  return out;
}

// A DICOM series folder (or one multi-frame file) through GDCM; rescale slope/intercept applied.
// `series_uid` picks one series of a folder holding several; empty: the one with most slices.
RawVolume read_dicom(const fs::path& path, bool allow_single_slice,
                     const std::string& series_uid = {}) {
  using FloatImage = itk::Image<float, kDim>;
  const std::string p = path.string();
  std::vector<std::string> files;
  try {
    if (fs::is_directory(path)) {
      const std::vector<DicomSeries> series = list_dicom_series(path);
      if (series.empty()) throw InputError(p, "folder holds no DICOM series");
      if (!series_uid.empty()) {
        const auto it = std::find_if(series.begin(), series.end(),
                                     [&](const DicomSeries& s) { return s.uid == series_uid; });
        if (it == series.end())
          throw InputError(p, "holds no DICOM series " + series_uid +
                                  "; its series: " + describe_series(series));
        files = it->files;
      } else {
        // Several series: the one with most slices, as a viewer would show first.
        files = series.front().files;
        if (series.size() > 1)
          spdlog::warn(
              "{}: {} DICOM series found: {}; reading {} (choose another with "
              "--dicom-series UID)",
              p, series.size(), describe_series(series), series.front().uid);
      }
    } else {
      files.push_back(p);
    }
    register_itk_factories();
    auto dicom = itk::GDCMImageIO::New();
    auto reader = itk::ImageSeriesReader<FloatImage>::New();
    reader->SetImageIO(dicom);
    reader->SetFileNames(files);
    reader->Update();
    FloatImage::Pointer image = reader->GetOutput();
    RawVolume raw;
    const auto size = image->GetLargestPossibleRegion().GetSize();
    for (unsigned i = 0; i < kDim; ++i) {
      raw.geometry.size[i] = static_cast<int64_t>(size[i]);
      raw.geometry.spacing[i] = image->GetSpacing()[i];
      raw.geometry.origin[i] = image->GetOrigin()[i];
      for (unsigned c = 0; c < kDim; ++c)
        raw.geometry.direction[i * kDim + c] = image->GetDirection()(i, c);
    }
    if (raw.geometry.size[2] == 1 && !allow_single_slice)
      throw InputError(p, "is a single DICOM slice (" + std::to_string(size[0]) + "x" +
                              std::to_string(size[1]) + "); a 3D series is needed");
    raw.component = itk::IOComponentEnum::FLOAT;
    raw.bytes.resize(static_cast<size_t>(raw.geometry.num_voxels()) * sizeof(float));
    float* voxels = image->GetBufferPointer();
    // GDCM unpacks 1-bit pixels (DICOM SEG, binary masks) to 0/255; the stored value is 1.
    std::string bits_allocated;
    if (itk::ExposeMetaData<std::string>(dicom->GetMetaDataDictionary(), kBitsAllocatedTag,
                                         bits_allocated) &&
        std::stoi(bits_allocated) == 1) {
      const size_t n = static_cast<size_t>(raw.geometry.num_voxels());
      for (size_t i = 0; i < n; ++i) voxels[i] = voxels[i] != 0.0f ? 1.0f : 0.0f;
    }
    std::memcpy(raw.bytes.data(), voxels, raw.bytes.size());
    return raw;
  } catch (const itk::ExceptionObject& e) {
    throw InputError(p, "cannot read DICOM: " + itk_message(e));
  }
}

RawVolume read_raw(const fs::path& path, bool allow_single_slice, bool collect_non_finite = false,
                   const std::string& dicom_series = {}) {
  check_exists(path);
  if (fs::is_directory(path) || ends_with(path.filename().string(), ".dcm"))
    return read_dicom(path, allow_single_slice, dicom_series);
  return read_file(path, allow_single_slice, collect_non_finite);
}

template <typename Src, typename Fn>
void for_each_voxel(const RawVolume& raw, Fn&& fn) {
  const Src* src = reinterpret_cast<const Src*>(raw.bytes.data());
  const size_t n = raw.bytes.size() / sizeof(Src);
  for (size_t i = 0; i < n; ++i) fn(i, src[i]);
}

// Dispatches on the on-disk component type.
template <typename Fn>
void visit_component(const fs::path& path, const RawVolume& raw, Fn&& fn) {
  using C = itk::IOComponentEnum;
  switch (raw.component) {
    case C::UCHAR:
      return fn(static_cast<const uint8_t*>(nullptr));
    case C::CHAR:
      return fn(static_cast<const int8_t*>(nullptr));
    case C::USHORT:
      return fn(static_cast<const uint16_t*>(nullptr));
    case C::SHORT:
      return fn(static_cast<const int16_t*>(nullptr));
    case C::UINT:
      return fn(static_cast<const uint32_t*>(nullptr));
    case C::INT:
      return fn(static_cast<const int32_t*>(nullptr));
    case C::ULONG:
    case C::ULONGLONG:
      return fn(static_cast<const uint64_t*>(nullptr));
    case C::LONG:
    case C::LONGLONG:
      return fn(static_cast<const int64_t*>(nullptr));
    case C::FLOAT:
      return fn(static_cast<const float*>(nullptr));
    case C::DOUBLE:
      return fn(static_cast<const double*>(nullptr));
    default:
      throw InputError(path.string(), "unsupported voxel type");
  }
}

bool is_gzipped_nifti(const fs::path& path) {
  return ends_with(path.filename().string(), ".nii.gz");
}

// Deflates `src` into the gzip file `dst`.
void gzip_file(const fs::path& src, const fs::path& dst, int level) {
  std::ifstream in(src, std::ios::binary);
  if (!in) throw InputError(src.string(), "cannot reopen the temporary file");
  const std::string mode = "wb" + std::to_string(level);
  gzFile out = gzopen(dst.c_str(), mode.c_str());
  if (!out) throw InputError(dst.string(), "cannot open for writing");
  gzbuffer(out, kGzipBufferBytes);
  std::vector<char> buf(kGzipBufferBytes);
  bool ok = true;
  while (ok && in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<unsigned>(in.gcount());
    if (n > 0) ok = gzwrite(out, buf.data(), n) == static_cast<int>(n);
  }
  ok = (gzclose(out) == Z_OK) && ok;
  if (!ok) throw InputError(dst.string(), "write failed (disk full?)");
}

template <typename TPixel>
void write_itk(const Volume<TPixel>& vol, const fs::path& path) {
  using ItkImage = itk::Image<TPixel, kDim>;
  auto image = ItkImage::New();
  typename ItkImage::SizeType size;
  typename ItkImage::SpacingType spacing;
  typename ItkImage::PointType origin;
  typename ItkImage::DirectionType direction;
  for (unsigned i = 0; i < kDim; ++i) {
    size[i] = static_cast<itk::SizeValueType>(vol.geometry.size[i]);
    spacing[i] = vol.geometry.spacing[i];
    origin[i] = vol.geometry.origin[i];
    for (unsigned c = 0; c < kDim; ++c) direction(i, c) = vol.geometry.direction[i * kDim + c];
  }
  image->SetRegions(typename ItkImage::RegionType(size));
  image->SetSpacing(spacing);
  image->SetOrigin(origin);
  image->SetDirection(direction);
  // Let ITK view our buffer instead of copying it.
  image->GetPixelContainer()->SetImportPointer(const_cast<TPixel*>(vol.voxels.data()),
                                               vol.voxels.size(), false);
  register_itk_factories();
  const auto itk_write = [&](const fs::path& file, bool compress) {
    auto writer = itk::ImageFileWriter<ItkImage>::New();
    writer->SetFileName(file.string());
    writer->SetInput(image);
    writer->SetUseCompression(compress);
    try {
      writer->Update();
    } catch (const itk::ExceptionObject& e) {
      throw InputError(path.string(), "cannot write: " + itk_message(e));
    }
  };
  write_atomically(path, [&](const fs::path& tmp) {
    if (!is_gzipped_nifti(path)) return itk_write(tmp, /*compress=*/true);
    // ITK 5.2's NIfTI writer ignores the compression level and deflates at about 15 MB/s;
    // ITK writes the plain .nii and we deflate it at a fast level (4x faster, see
    // docs/benchmarks.md). The file is an ordinary .nii.gz.
    const fs::path plain = temporary_sibling(path.parent_path() / (volume_stem(path) + ".nii"));
    try {
      itk_write(plain, /*compress=*/false);
      gzip_file(plain, tmp, kNiftiGzipLevel);
    } catch (...) {
      std::error_code ignored;
      fs::remove(plain, ignored);
      throw;
    }
    fs::remove(plain);
  });
}

void check_writable(const Geometry& g, size_t voxels, const fs::path& path) {
  if (static_cast<int64_t>(voxels) != g.num_voxels() || g.num_voxels() == 0)
    throw InputError(path.string(), "refusing to write: voxel count does not match the geometry");
  if (!is_volume_path(path) || ends_with(path.filename().string(), ".dcm"))
    throw InputError(path.string(), "unknown output format (use .nii.gz, .nii, .mha or .nrrd)");
}

}  // namespace

std::vector<DicomSeries> list_dicom_series(const fs::path& dir) {
  std::vector<DicomSeries> out;
  try {
    auto names = itk::GDCMSeriesFileNames::New();
    names->SetUseSeriesDetails(true);
    names->SetDirectory(dir.string());
    for (const auto& uid : names->GetSeriesUIDs()) out.push_back({uid, names->GetFileNames(uid)});
  } catch (const itk::ExceptionObject& e) {
    throw InputError(dir.string(), "cannot list DICOM series: " + itk_message(e));
  }
  // Most slices first; ties by UID, so the choice does not depend on directory order.
  std::stable_sort(out.begin(), out.end(), [](const DicomSeries& a, const DicomSeries& b) {
    return a.files.size() != b.files.size() ? a.files.size() > b.files.size() : a.uid < b.uid;
  });
  return out;
}

Image read_image(const fs::path& path, const std::string& dicom_series) {
  RawVolume raw =
      read_raw(path, /*allow_single_slice=*/false, /*collect_non_finite=*/true, dicom_series);
  Image image(raw.geometry);
  int64_t non_finite = 0;
  visit_component(path, raw, [&](auto tag) {
    using Src = std::remove_const_t<std::remove_pointer_t<decltype(tag)>>;
    for_each_voxel<Src>(raw, [&](size_t i, Src v) {
      float f = static_cast<float>(v);
      if constexpr (std::is_floating_point_v<Src>) {
        if (!std::isfinite(f)) {
          f = kNonFiniteHu;
          ++non_finite;
        }
      }
      image.voxels[i] = f;
    });
  });
  for (const int64_t i : raw.non_finite) image.voxels[static_cast<size_t>(i)] = kNonFiniteHu;
  non_finite += static_cast<int64_t>(raw.non_finite.size());
  // The same bound as the NIfTI scan's (io::check_nifti), for the other formats.
  if (non_finite > image.geometry.num_voxels() / 2)
    throw InputError(path.string(), std::to_string(non_finite) +
                                        " voxels are NaN or Inf (more than half of " +
                                        std::to_string(image.geometry.num_voxels()) + ")");
  if (non_finite > 0)
    spdlog::warn(
        "{}: {} voxels are NaN or Inf; read as {} HU, outside the field of view "
        "(predicted background, left out of training losses)",
        path.string(), non_finite, kNonFiniteHu);
  return image;
}

LabelMap read_labels(const fs::path& path, bool allow_single_slice) {
  RawVolume raw = read_raw(path, allow_single_slice);
  LabelMap labels(raw.geometry);
  int64_t bad = 0;
  double first_bad = 0;
  visit_component(path, raw, [&](auto tag) {
    using Src = std::remove_const_t<std::remove_pointer_t<decltype(tag)>>;
    for_each_voxel<Src>(raw, [&](size_t i, Src v) {
      const double d = static_cast<double>(v);
      if (!(d >= 0.0 && d <= 255.0 && d == std::floor(d))) {
        if (bad++ == 0) first_bad = d;
        return;
      }
      labels.voxels[i] = static_cast<uint8_t>(d);
    });
  });
  if (bad > 0)
    throw InputError(path.string(), "not a label map: " + std::to_string(bad) +
                                        " voxels are not integers in 0..255 (first: " +
                                        std::to_string(first_bad) + ")");
  return labels;
}

Geometry read_geometry(const fs::path& path) {
  check_exists(path);
  if (fs::is_directory(path) || ends_with(path.filename().string(), ".dcm"))
    return read_dicom(path, false).geometry;
  validate_file(path, false, /*scan_data=*/false);
  try {
    auto io = open_io(path);
    io->ReadImageInformation();
    return geometry_from_io(path, *io, false);
  } catch (const itk::ExceptionObject& e) {
    throw InputError(path.string(), "cannot read header: " + itk_message(e));
  }
}

LabelMap read_labels_matching(const fs::path& path, const Geometry& image_geometry) {
  LabelMap labels = read_labels(path);
  const std::string diff = labels.geometry.difference(image_geometry);
  if (!diff.empty())
    throw InputError(path.string(), "label geometry does not match its image: " + diff);
  return labels;
}

void write_labels(const LabelMap& labels, const fs::path& path) {
  check_writable(labels.geometry, labels.voxels.size(), path);
  write_itk(labels, path);
}

void write_image(const Image& image, const fs::path& path, PixelType pixel_type) {
  check_writable(image.geometry, image.voxels.size(), path);
  switch (pixel_type) {
    case PixelType::kFloat32:
      return write_itk(image, path);
    case PixelType::kInt16: {
      Volume<int16_t> v(image.geometry);
      for (size_t i = 0; i < v.voxels.size(); ++i) {
        const float c = std::clamp(std::round(image.voxels[i]),
                                   static_cast<float>(std::numeric_limits<int16_t>::min()),
                                   static_cast<float>(std::numeric_limits<int16_t>::max()));
        v.voxels[i] = static_cast<int16_t>(c);
      }
      return write_itk(v, path);
    }
    case PixelType::kUInt8: {
      Volume<uint8_t> v(image.geometry);
      for (size_t i = 0; i < v.voxels.size(); ++i)
        v.voxels[i] = static_cast<uint8_t>(std::clamp(std::round(image.voxels[i]), 0.0f, 255.0f));
      return write_itk(v, path);
    }
  }
}

bool is_volume_path(const fs::path& path) {
  const std::string n = path.filename().string();
  for (const char* e : kVolumeExtensions)
    if (ends_with(n, e)) return true;
  return false;
}

bool is_dicom_file(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".dcm") return true;
  if (is_volume_path(path)) return false;  // .nii.gz, .mha ...: their own formats
  // DICOM Part 10: a 128-byte preamble, then "DICM". PACS exports and public sets (IM0001,
  // image_0, SOP instance UIDs) often carry no extension at all.
  constexpr std::streamoff kPreambleBytes = 128;
  constexpr char kMagic[] = {'D', 'I', 'C', 'M'};
  std::ifstream f(path, std::ios::binary);
  char magic[sizeof(kMagic)] = {};
  if (!f.seekg(kPreambleBytes) || !f.read(magic, sizeof(magic))) return false;
  return std::equal(std::begin(kMagic), std::end(kMagic), magic);
}

std::string volume_stem(const fs::path& path) {
  const std::string n = path.filename().string();
  for (const char* e : kVolumeExtensions)
    if (ends_with(n, e)) return n.substr(0, n.size() - std::strlen(e));
  return n;
}

}  // namespace aslseg::io
