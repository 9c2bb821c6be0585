#include "aslseg/io/nifti_check.h"

#include <zlib.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "aslseg/io/error.h"

namespace aslseg::io {

namespace fs = std::filesystem;

namespace {

constexpr int kNifti1HeaderSize = 348;
constexpr int kNifti2HeaderSize = 540;
constexpr size_t kScanChunk = size_t{1} << 20;
// Anything larger is a header error, not a CT volume (64 Gi voxels).
constexpr int64_t kMaxVoxels = int64_t{1} << 36;

struct GzCloser {
  void operator()(gzFile_s* f) const {
    if (f) gzclose(f);
  }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

template <typename T>
T load(const unsigned char* p, bool swap) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, p, sizeof(T));
  if (swap) {
    for (size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
  }
  T v;
  std::memcpy(&v, b, sizeof(T));
  return v;
}

int bytes_for_datatype(int datatype, bool* is_float) {
  *is_float = false;
  switch (datatype) {
    case 2:    // uint8
    case 256:  // int8
      return 1;
    case 4:    // int16
    case 512:  // uint16
      return 2;
    case 8:    // int32
    case 768:  // uint32
      return 4;
    case 1024:  // int64
    case 1280:  // uint64
      return 8;
    case 16:  // float32
      *is_float = true;
      return 4;
    case 64:  // float64
      *is_float = true;
      return 8;
    default:
      return 0;  // complex, RGB, binary: not a CT scalar volume
  }
}

std::string gz_problem(gzFile_s* f) {
  int code = Z_OK;
  const char* msg = gzerror(f, &code);
  if (code == Z_BUF_ERROR) return "truncated: the gzip stream ends early";
  if (code == Z_DATA_ERROR) return std::string("corrupt gzip data (") + msg + ")";
  return std::string("read error (") + (msg ? msg : "unknown") + ")";
}

NiftiHeaderInfo parse_header(const fs::path& path, const unsigned char* h, int got) {
  const std::string p = path.string();
  if (got < 4) throw InputError(p, "not a NIfTI file: too short for a header");
  NiftiHeaderInfo info;
  const int32_t size_native = load<int32_t>(h, false);
  const int32_t size_swapped = load<int32_t>(h, true);
  bool swap = false;
  if (size_native == kNifti1HeaderSize || size_native == kNifti2HeaderSize) {
    info.version = size_native == kNifti1HeaderSize ? 1 : 2;
  } else if (size_swapped == kNifti1HeaderSize || size_swapped == kNifti2HeaderSize) {
    info.version = size_swapped == kNifti1HeaderSize ? 1 : 2;
    swap = true;
  } else {
    throw InputError(p, "not a NIfTI file (header size field is neither 348 nor 540)");
  }
  info.swapped = swap;
  const int need = info.version == 1 ? kNifti1HeaderSize : kNifti2HeaderSize;
  if (got < need) throw InputError(p, "truncated: the NIfTI header itself is incomplete");

  std::array<double, 8> pixdim{};
  std::array<int64_t, 8> dim{};
  if (info.version == 1) {
    if (std::memcmp(h + 344, "n+1", 4) != 0)
      throw InputError(p, "NIfTI-1 magic is not 'n+1' (separate .hdr/.img pairs are not read)");
    for (int i = 0; i < 8; ++i) dim[i] = load<int16_t>(h + 40 + 2 * i, swap);
    info.datatype = load<int16_t>(h + 70, swap);
    for (int i = 0; i < 8; ++i) pixdim[i] = load<float>(h + 76 + 4 * i, swap);
    const float off = load<float>(h + 108, swap);
    info.vox_offset = static_cast<int64_t>(off);
  } else {
    if (std::memcmp(h + 4, "n+2", 4) != 0)
      throw InputError(p, "NIfTI-2 magic is not 'n+2' (separate .hdr/.img pairs are not read)");
    info.datatype = load<int16_t>(h + 12, swap);
    for (int i = 0; i < 8; ++i) dim[i] = load<int64_t>(h + 16 + 8 * i, swap);
    for (int i = 0; i < 8; ++i) pixdim[i] = load<double>(h + 104 + 8 * i, swap);
    info.vox_offset = load<int64_t>(h + 168, swap);
  }
  info.ndim = static_cast<int>(dim[0]);
  if (info.ndim < 1 || info.ndim > 7)
    throw InputError(p, "invalid NIfTI header: dim[0]=" + std::to_string(dim[0]));
  for (int i = 1; i <= 7; ++i) info.dim[i - 1] = i <= info.ndim ? dim[i] : 1;
  for (int i = 1; i <= info.ndim; ++i) {
    if (dim[i] < 1)
      throw InputError(
          p, "invalid NIfTI header: dim[" + std::to_string(i) + "]=" + std::to_string(dim[i]));
  }
  for (int i = 0; i < 3; ++i) info.pixdim[i] = pixdim[i + 1];
  info.bytes_per_voxel = bytes_for_datatype(info.datatype, &info.is_float);
  if (info.bytes_per_voxel == 0)
    throw InputError(p, "unsupported NIfTI datatype " + std::to_string(info.datatype) +
                            " (a scalar integer or float volume is needed)");
  if (info.vox_offset < need)
    throw InputError(p, "invalid NIfTI header: vox_offset " + std::to_string(info.vox_offset) +
                            " lies inside the header");
  int64_t n = 1;
  for (int64_t d : info.dim) {
    if (d > kMaxVoxels / n) throw InputError(p, "invalid NIfTI header: implausible dimensions");
    n *= d;
  }
  return info;
}

void check_shape(const fs::path& path, const NiftiHeaderInfo& info,
                 const NiftiCheckOptions& options) {
  const std::string p = path.string();
  const auto& d = info.dim;
  bool extra = false;
  for (int i = 3; i < 7; ++i) extra = extra || d[i] > 1;
  if (extra) {
    std::string shape = std::to_string(d[0]);
    for (int i = 1; i < info.ndim; ++i) shape += "x" + std::to_string(d[i]);
    throw InputError(
        p, "is " + std::to_string(info.ndim) + "D (" + shape + "); a single 3D volume is needed");
  }
  if ((info.ndim < 3 || d[2] == 1) && !options.allow_single_slice) {
    throw InputError(p, "is 2D (" + std::to_string(d[0]) + "x" + std::to_string(d[1]) +
                            "); a 3D volume is needed");
  }
  const int spatial = std::min(info.ndim, 3);
  for (int i = 0; i < spatial; ++i) {
    if (!(info.pixdim[i] > 0.0) || !std::isfinite(info.pixdim[i]))
      throw InputError(p, "voxel spacing pixdim[" + std::to_string(i + 1) +
                              "]=" + std::to_string(info.pixdim[i]) +
                              " is not positive; the file's geometry cannot be trusted");
  }
}

// Counts non-finite values in a chunk of float data (either byte order) whose first voxel has
// index `first_voxel`; appends their indices to `indices` when given, up to `max_indices`.
int64_t count_non_finite(const unsigned char* data, size_t bytes, const NiftiHeaderInfo& info,
                         int64_t first_voxel, std::vector<int64_t>* indices, size_t max_indices) {
  int64_t bad = 0;
  const size_t step = static_cast<size_t>(info.bytes_per_voxel);
  for (size_t i = 0; i + step <= bytes; i += step) {
    const bool finite = step == 4 ? std::isfinite(load<float>(data + i, info.swapped))
                                  : std::isfinite(load<double>(data + i, info.swapped));
    if (finite) continue;
    ++bad;
    if (indices && indices->size() < max_indices)
      indices->push_back(first_voxel + static_cast<int64_t>(i / step));
  }
  return bad;
}

}  // namespace

int64_t NiftiHeaderInfo::num_voxels() const {
  int64_t n = 1;
  for (int64_t d : dim) n *= d;
  return n;
}

bool is_nifti_path(const fs::path& path) {
  const std::string n = path.filename().string();
  auto ends = [&](const std::string& e) {
    return n.size() > e.size() && n.compare(n.size() - e.size(), e.size(), e) == 0;
  };
  return ends(".nii") || ends(".nii.gz");
}

NiftiHeaderInfo check_nifti(const fs::path& path, const NiftiCheckOptions& options) {
  const std::string p = path.string();
  // gzopen reads plain files transparently, so one code path covers .nii and .nii.gz.
  GzFile f(gzopen(p.c_str(), "rb"));
  if (!f) throw InputError(p, "cannot open: " + std::string(std::strerror(errno)));
  gzbuffer(f.get(), 1 << 17);

  std::vector<unsigned char> header(kNifti2HeaderSize);
  const int got = gzread(f.get(), header.data(), kNifti1HeaderSize);
  if (got < 0) throw InputError(p, gz_problem(f.get()));
  int total = got;
  if (got == kNifti1HeaderSize && load<int32_t>(header.data(), false) != kNifti1HeaderSize &&
      load<int32_t>(header.data(), true) != kNifti1HeaderSize) {
    const int more =
        gzread(f.get(), header.data() + kNifti1HeaderSize, kNifti2HeaderSize - kNifti1HeaderSize);
    if (more < 0) throw InputError(p, gz_problem(f.get()));
    total += more;
  }
  NiftiHeaderInfo info = parse_header(path, header.data(), total);
  check_shape(path, info, options);
  if (!options.scan_data) return info;

  const int64_t data_bytes = info.num_voxels() * info.bytes_per_voxel;
  const int64_t required = info.vox_offset + data_bytes;
  // Stream the rest: counts the bytes (truncation), lets zlib verify the gzip CRC and length
  // trailer (corruption), and looks at float voxels before ITK's reader turns NaN into 0.
  std::vector<unsigned char> buf(kScanChunk);
  int64_t pos = total;
  int64_t non_finite = 0;
  // A volume that is mostly NaN is no CT; listing it would cost 8 bytes per voxel.
  const int64_t max_non_finite = info.num_voxels() / 2;
  const size_t max_listed = static_cast<size_t>(max_non_finite) + 1;
  size_t carry = 0;  // bytes of a float split across two chunks
  for (;;) {
    const int n = gzread(f.get(), buf.data() + carry, static_cast<unsigned>(kScanChunk - carry));
    if (n < 0) throw InputError(p, gz_problem(f.get()));
    if (n == 0) break;
    if (info.is_float) {
      // Only the voxel range [vox_offset, required) holds data.
      const int64_t chunk_start = pos - static_cast<int64_t>(carry);
      const int64_t chunk_end = pos + n;
      const int64_t lo = std::max(chunk_start, info.vox_offset);
      const int64_t hi = std::min(chunk_end, required);
      if (hi > lo) {
        const int64_t usable = (hi - lo) / info.bytes_per_voxel * info.bytes_per_voxel;
        non_finite +=
            count_non_finite(buf.data() + (lo - chunk_start), static_cast<size_t>(usable), info,
                             (lo - info.vox_offset) / info.bytes_per_voxel,
                             options.collect_non_finite ? &info.non_finite : nullptr, max_listed);
        const int64_t left = hi - lo - usable;
        if (left > 0)
          std::memmove(buf.data(), buf.data() + (lo - chunk_start) + usable,
                       static_cast<size_t>(left));
        carry = static_cast<size_t>(left);
      } else {
        carry = 0;
      }
    }
    pos += n;
  }
  int code = Z_OK;
  gzerror(f.get(), &code);
  if (code != Z_OK) throw InputError(p, gz_problem(f.get()));
  if (pos < required) {
    throw InputError(p, "truncated: the header describes " + std::to_string(required) +
                            " bytes of header and voxels, the file holds " + std::to_string(pos));
  }
  if (non_finite > max_non_finite)
    throw InputError(p, std::to_string(non_finite) + " voxels are NaN or Inf (more than half of " +
                            std::to_string(info.num_voxels()) + ")");
  if (non_finite > 0 && !options.collect_non_finite)
    throw InputError(p, std::to_string(non_finite) + " voxels are NaN or Inf");
  return info;
}

}  // namespace aslseg::io
