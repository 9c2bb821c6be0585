// A 3D volume in memory: voxels in ITK buffer order (x fastest, then y, then z) plus the
// physical geometry (size, spacing, origin, direction) that every output must hand back.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace aslseg {

// Physical grid of a volume, with ITK's conventions: spacing and origin in millimetres,
// direction a row-major 3x3 matrix whose columns are the axis directions (LPS).
struct Geometry {
  std::array<int64_t, 3> size{0, 0, 0};
  std::array<double, 3> spacing{1.0, 1.0, 1.0};
  std::array<double, 3> origin{0.0, 0.0, 0.0};
  std::array<double, 9> direction{1, 0, 0, 0, 1, 0, 0, 0, 1};

  int64_t num_voxels() const { return size[0] * size[1] * size[2]; }
  int64_t slice_voxels() const { return size[0] * size[1]; }

  // Tolerance for comparing two grids: relative for spacing, absolute (mm) for origin and
  // absolute for the direction cosines. Loose enough for float round-off in file headers,
  // tight enough to catch a real mismatch (a voxel is far bigger than 1e-3 mm).
  static constexpr double kTolerance = 1e-3;

  // Empty string when the grids match; otherwise names the first difference,
  // e.g. "size 512x512x120 vs 512x512x119".
  std::string difference(const Geometry& other, double tol = kTolerance) const;
  bool matches(const Geometry& other, double tol = kTolerance) const {
    return difference(other, tol).empty();
  }
  std::string describe() const;  // "512x512x120 @ 0.70x0.70x2.50 mm"
};

template <typename T>
struct Volume {
  Geometry geometry;
  std::vector<T> voxels;

  Volume() = default;
  explicit Volume(const Geometry& g, T fill = T{})
      : geometry(g), voxels(static_cast<size_t>(g.num_voxels()), fill) {}

  int64_t index(int64_t x, int64_t y, int64_t z) const {
    return x + geometry.size[0] * (y + geometry.size[1] * z);
  }
  T& at(int64_t x, int64_t y, int64_t z) { return voxels[static_cast<size_t>(index(x, y, z))]; }
  const T& at(int64_t x, int64_t y, int64_t z) const {
    return voxels[static_cast<size_t>(index(x, y, z))];
  }
  const T* slice(int64_t z) const { return voxels.data() + z * geometry.slice_voxels(); }
  T* slice(int64_t z) { return voxels.data() + z * geometry.slice_voxels(); }
};

// CT intensities (HU) are held as float so that every reader (int16, uint16, float DICOM
// rescales) lands in one type; labels (LiTS: 0 background, 1 liver, 2 tumour) as uint8.
using Image = Volume<float>;
using LabelMap = Volume<uint8_t>;

// LiTS label values.
enum Label : uint8_t { kBackground = 0, kLiver = 1, kTumour = 2 };

}  // namespace aslseg
