// Helpers for I/O tests: a temporary folder removed at the end, small volumes with a
// non-trivial geometry, and byte-level file surgery for the rejection tests.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "aslseg/io/volume.h"
#include "common/test_util.h"

namespace aslseg::testing {

// Anisotropic spacing, an off-axis origin and a rotation about z plus a flip of y, so that a
// reader or writer that drops or transposes any part of the geometry is caught.
inline Geometry oblique_geometry(int64_t x, int64_t y, int64_t z) {
  Geometry g;
  g.size = {x, y, z};
  g.spacing = {0.7, 0.9, 2.5};
  g.origin = {-120.5, 33.25, -7.0};
  const double c = 0.8, s = 0.6;  // a 36.87 degree rotation
  g.direction = {c, s, 0, s, -c, 0, 0, 0, 1};
  return g;
}

template <typename T>
Volume<T> ramp_volume(const Geometry& g, T (*value)(int64_t)) {
  Volume<T> v(g);
  for (size_t i = 0; i < v.voxels.size(); ++i) v.voxels[i] = value(static_cast<int64_t>(i));
  return v;
}

inline std::vector<char> read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}

inline void write_bytes(const std::filesystem::path& p, const std::vector<char>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace aslseg::testing
