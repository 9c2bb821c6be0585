#include "aslseg/loop/mask2d.h"

#include <algorithm>

#include "aslseg/io/volume.h"
#include "aslseg/metrics/distance_transform.h"

namespace aslseg::loop {

namespace {

// A one-slice LabelMap with unit spacing, so metrics' 3D transform works in pixels.
LabelMap as_slice_volume(int64_t width, int64_t height) {
  Geometry g;
  g.size = {width, height, 1};
  return LabelMap(g, 0);
}

}  // namespace

Mask2D Mask2D::from_buffer(const uint8_t* data, int64_t w, int64_t h) {
  Mask2D m(w, h);
  for (size_t i = 0; i < m.pixels.size(); ++i) m.pixels[i] = data[i] ? 1 : 0;
  return m;
}

Mask2D Mask2D::from_label(const uint8_t* data, int64_t w, int64_t h, uint8_t value) {
  Mask2D m(w, h);
  for (size_t i = 0; i < m.pixels.size(); ++i) m.pixels[i] = data[i] == value ? 1 : 0;
  return m;
}

int64_t Mask2D::count() const {
  return static_cast<int64_t>(
      std::count_if(pixels.begin(), pixels.end(), [](uint8_t v) { return v != 0; }));
}

std::vector<double> distance_to_foreground(const Mask2D& features) {
  LabelMap vol = as_slice_volume(features.width, features.height);
  std::copy(features.pixels.begin(), features.pixels.end(), vol.voxels.begin());
  return std::move(metrics::euclidean_distance_to(vol).voxels);
}

std::vector<double> distance_to_background(const Mask2D& mask) {
  // One pixel of background all round stands for "outside the slice"; a farther outside pixel
  // is never nearer than the ring pixel it is clamped to.
  const int64_t pw = mask.width + 2, ph = mask.height + 2;
  LabelMap background = as_slice_volume(pw, ph);
  std::fill(background.voxels.begin(), background.voxels.end(), 1);
  for (int64_t y = 0; y < mask.height; ++y)
    for (int64_t x = 0; x < mask.width; ++x) background.at(x + 1, y + 1, 0) = mask.at(x, y) ? 0 : 1;
  const Volume<double> padded = metrics::euclidean_distance_to(background);
  std::vector<double> out(mask.pixels.size());
  for (int64_t y = 0; y < mask.height; ++y)
    for (int64_t x = 0; x < mask.width; ++x)
      out[static_cast<size_t>(mask.index(x, y))] = padded.at(x + 1, y + 1, 0);
  return out;
}

}  // namespace aslseg::loop
