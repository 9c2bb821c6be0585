// A binary 2D mask (one axial slice, x fastest) and the exact Euclidean distance maps that the
// prompt extraction and the pseudo-label corruptions are built on. Torch-free on purpose: the
// loop's bookkeeping must compile and test without LibTorch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace aslseg::loop {

struct Mask2D {
  int64_t width = 0;
  int64_t height = 0;
  std::vector<uint8_t> pixels;  // 0 or 1, x fastest

  Mask2D() = default;
  Mask2D(int64_t w, int64_t h, uint8_t fill = 0)
      : width(w), height(h), pixels(static_cast<size_t>(w * h), fill) {}
  // Copies a slice buffer; any nonzero value becomes 1.
  static Mask2D from_buffer(const uint8_t* data, int64_t w, int64_t h);
  // The pixels of `data` equal to `value` (a LiTS label, say) become 1.
  static Mask2D from_label(const uint8_t* data, int64_t w, int64_t h, uint8_t value);

  bool contains(int64_t x, int64_t y) const { return x >= 0 && y >= 0 && x < width && y < height; }
  int64_t index(int64_t x, int64_t y) const { return x + width * y; }
  uint8_t at(int64_t x, int64_t y) const { return pixels[static_cast<size_t>(index(x, y))]; }
  void set(int64_t x, int64_t y, uint8_t v) { pixels[static_cast<size_t>(index(x, y))] = v; }
  int64_t count() const;  // foreground pixels
  bool empty() const { return count() == 0; }
};

// Exact Euclidean distance in pixels from every pixel to the nearest foreground pixel of
// `features`: 0 on a feature, +inf everywhere when there is none (metrics'
// euclidean_distance_to on one slice, unit spacing).
std::vector<double> distance_to_foreground(const Mask2D& features);

// Exact Euclidean distance in pixels from every pixel to the nearest background pixel, where
// everything outside the slice counts as background: 0 on background, 1 on a foreground pixel
// touching background (4-neighbour) or the slice edge, larger deeper inside.
std::vector<double> distance_to_background(const Mask2D& mask);

}  // namespace aslseg::loop
