// Writes NIfTI-1 files byte by byte, so tests can make headers that no well-behaved writer
// would produce (wrong dims, zero pixdim, data shorter than promised, NaN voxels).
#pragma once

#include <zlib.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

namespace aslseg::testing {

struct NiftiSpec {
  std::array<int16_t, 8> dim{3, 4, 4, 4, 1, 1, 1, 1};
  std::array<float, 8> pixdim{1, 1, 1, 1, 1, 1, 1, 1};
  int16_t datatype = 4;  // int16
  int16_t bitpix = 16;
};

inline std::vector<char> nifti_header(const NiftiSpec& spec) {
  constexpr int kHeader = 348;
  constexpr float kVoxOffset = 352;
  std::vector<char> h(352, 0);
  const int32_t size = kHeader;
  std::memcpy(h.data(), &size, 4);
  std::memcpy(h.data() + 40, spec.dim.data(), 16);
  std::memcpy(h.data() + 70, &spec.datatype, 2);
  std::memcpy(h.data() + 72, &spec.bitpix, 2);
  std::memcpy(h.data() + 76, spec.pixdim.data(), 32);
  std::memcpy(h.data() + 108, &kVoxOffset, 4);
  const float slope = 1.0f;
  std::memcpy(h.data() + 112, &slope, 4);
  const int16_t qform = 1;  // scanner coordinates; pixdim[0] = 1 (qfac)
  std::memcpy(h.data() + 252, &qform, 2);
  std::memcpy(h.data() + 344, "n+1\0", 4);
  return h;
}

// Header plus `data`; gzip-compressed when the name ends in .gz.
inline void write_nifti(const std::filesystem::path& path, const NiftiSpec& spec,
                        const std::vector<char>& data) {
  std::vector<char> bytes = nifti_header(spec);
  bytes.insert(bytes.end(), data.begin(), data.end());
  if (path.extension() == ".gz") {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
}

template <typename T>
std::vector<char> as_bytes(const std::vector<T>& v) {
  std::vector<char> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

}  // namespace aslseg::testing
