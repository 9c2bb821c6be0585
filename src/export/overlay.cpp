#include "aslseg/export/overlay.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace aslseg::exporting {

namespace {

constexpr double kMaxGrey = 255.0;

// Voxels per axial slice that satisfy `pred`.
template <typename Pred>
std::vector<int64_t> per_slice(const LabelMap& m, Pred pred) {
  std::vector<int64_t> counts(static_cast<size_t>(m.geometry.size[2]), 0);
  const int64_t n = m.geometry.slice_voxels();
  for (int64_t z = 0; z < m.geometry.size[2]; ++z) {
    const uint8_t* s = m.slice(z);
    counts[static_cast<size_t>(z)] = std::count_if(s, s + n, pred);
  }
  return counts;
}

// The first z with the largest count, or -1 when every count is 0.
int64_t argmax_positive(const std::vector<int64_t>& counts) {
  const auto it = std::max_element(counts.begin(), counts.end());
  if (it == counts.end() || *it == 0) return -1;
  return static_cast<int64_t>(it - counts.begin());
}

void draw_outline(RgbImage& img, const LabelMap& m, int64_t z, Rgb colour, bool flip_x,
                  bool flip_y) {
  const int64_t w = m.geometry.size[0], h = m.geometry.size[1];
  const uint8_t* s = m.slice(z);
  auto tumour = [&](int64_t x, int64_t y) {
    return x >= 0 && y >= 0 && x < w && y < h && s[x + w * y] == kTumour;
  };
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      if (tumour(x, y) &&
          !(tumour(x - 1, y) && tumour(x + 1, y) && tumour(x, y - 1) && tumour(x, y + 1)))
        img.set(flip_x ? w - 1 - x : x, flip_y ? h - 1 - y : y, colour);
}

}  // namespace

int64_t overlay_slice(const LabelMap& pl3, const LabelMap& pl1, const LabelMap& label) {
  auto is_tumour = [](uint8_t v) { return v == kTumour; };
  auto is_liver = [](uint8_t v) { return v >= kLiver; };
  for (const int64_t z :
       {argmax_positive(per_slice(pl3, is_tumour)), argmax_positive(per_slice(pl1, is_tumour)),
        argmax_positive(per_slice(label, is_liver))})
    if (z >= 0) return z;
  return label.geometry.size[2] / 2;
}

RgbImage render_overlay(const Image& ct, const LabelMap& pl1, const LabelMap& pl2,
                        const LabelMap& pl3, int64_t z, const LabelMap* label) {
  if (z < 0 || z >= ct.geometry.size[2]) throw std::out_of_range("overlay slice out of range");
  const int64_t w = ct.geometry.size[0], h = ct.geometry.size[1];
  // Direction columns are the axes in LPS: x toward the patient's left (+L) and y toward
  // posterior (+P) is the radiological view as stored.
  const auto& d = ct.geometry.direction;
  const bool flip_x = d[0] < 0.0;
  const bool flip_y = d[4] < 0.0;
  RgbImage img(w, h);
  const double lo = kOverlayWindowCenter - kOverlayWindowWidth / 2.0;
  const float* s = ct.slice(z);
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      const double t =
          std::clamp((static_cast<double>(s[x + w * y]) - lo) / kOverlayWindowWidth, 0.0, 1.0);
      const auto g = static_cast<uint8_t>(std::lround(t * kMaxGrey));
      img.set(flip_x ? w - 1 - x : x, flip_y ? h - 1 - y : y, {g, g, g});
    }
  }
  if (label) draw_outline(img, *label, z, kLabelColour, flip_x, flip_y);
  draw_outline(img, pl1, z, kPl1Colour, flip_x, flip_y);
  draw_outline(img, pl2, z, kPl2Colour, flip_x, flip_y);
  draw_outline(img, pl3, z, kPl3Colour, flip_x, flip_y);
  return img;
}

}  // namespace aslseg::exporting
