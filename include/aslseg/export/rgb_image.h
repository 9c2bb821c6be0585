// An 8-bit RGB raster (x fastest, row 0 at the top): what the export overlays are drawn into
// and what png_io.h writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace aslseg::exporting {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb& o) const { return r == o.r && g == o.g && b == o.b; }
};

struct RgbImage {
  int64_t width = 0;
  int64_t height = 0;
  std::vector<uint8_t> data;  // r, g, b per pixel

  RgbImage() = default;
  RgbImage(int64_t w, int64_t h) : width(w), height(h), data(static_cast<size_t>(w * h * 3), 0) {}
  Rgb at(int64_t x, int64_t y) const {
    const size_t i = static_cast<size_t>((x + width * y) * 3);
    return {data[i], data[i + 1], data[i + 2]};
  }
  void set(int64_t x, int64_t y, Rgb c) {
    const size_t i = static_cast<size_t>((x + width * y) * 3);
    data[i] = c.r;
    data[i + 1] = c.g;
    data[i + 2] = c.b;
  }
};

}  // namespace aslseg::exporting
