#include "aslseg/ssl/lesion_synth.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace aslseg::ssl {
namespace {

// A centre pixel joins the label where the soft edge is at least half way in.
constexpr double kLabelWeight = 0.5;

}  // namespace

int64_t synthesize_lesion(const LabelledStack& recipient, const StackSpacing& spacing,
                          const SynthDraw& draw, float* out_channels, uint8_t* out_label) {
  const int64_t h = recipient.height;
  const int64_t w = recipient.width;
  const int64_t n = h * w;
  const size_t channels = recipient.channels.size();
  if (recipient.labels.size() != channels || channels == 0)
    throw std::invalid_argument("synthesize_lesion: the stack needs a label plane per channel");
  if (!(spacing.pixel_mm > 0.0) || !(spacing.slice_mm > 0.0) || !(draw.radius_mm > 0.0) ||
      !(draw.elongation > 0.0))
    throw std::invalid_argument("synthesize_lesion: spacing, radius and elongation must be > 0");
  for (size_t c = 0; c < channels; ++c)
    std::memcpy(out_channels + static_cast<int64_t>(c) * n, recipient.channels[c],
                static_cast<size_t>(n) * sizeof(float));
  std::memcpy(out_label, recipient.labels[static_cast<size_t>(recipient.centre)],
              static_cast<size_t>(n));

  const double cos_a = std::cos(draw.angle_rad);
  const double sin_a = std::sin(draw.angle_rad);
  const double max_boundary = draw.radius_mm * std::max(draw.elongation, 1.0 / draw.elongation) *
                              (1.0 + std::fabs(draw.harmonic2) + std::fabs(draw.harmonic3));
  const int64_t reach = static_cast<int64_t>(std::ceil(max_boundary / spacing.pixel_mm)) + 1;
  const int64_t x0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(draw.centre_x)) - reach);
  const int64_t x1 =
      std::min<int64_t>(w - 1, static_cast<int64_t>(std::ceil(draw.centre_x)) + reach);
  const int64_t y0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(draw.centre_y)) - reach);
  const int64_t y1 =
      std::min<int64_t>(h - 1, static_cast<int64_t>(std::ceil(draw.centre_y)) + reach);
  int64_t labelled = 0;
  for (size_t c = 0; c < channels; ++c) {
    const double z_mm =
        static_cast<double>(static_cast<int64_t>(c) - recipient.centre) * spacing.slice_mm -
        draw.centre_z_mm;
    if (std::fabs(z_mm) >= draw.radius_mm) continue;
    const double section = std::sqrt(draw.radius_mm * draw.radius_mm - z_mm * z_mm);
    const uint8_t* label = recipient.labels[c];
    float* out = out_channels + static_cast<int64_t>(c) * n;
    const bool centre = static_cast<int64_t>(c) == recipient.centre;
    for (int64_t y = y0; y <= y1; ++y) {
      for (int64_t x = x0; x <= x1; ++x) {
        const int64_t i = y * w + x;
        if (!in_liver(label[i])) continue;
        const double dx = (static_cast<double>(x) - draw.centre_x) * spacing.pixel_mm;
        const double dy = (static_cast<double>(y) - draw.centre_y) * spacing.pixel_mm;
        // In the lesion's own axes, squeezed to a circle.
        const double u = (dx * cos_a + dy * sin_a) / draw.elongation;
        const double v = (-dx * sin_a + dy * cos_a) * draw.elongation;
        const double t = std::atan2(v, u);
        const double boundary = section * (1.0 + draw.harmonic2 * std::cos(2.0 * t + draw.phase2) +
                                           draw.harmonic3 * std::cos(3.0 * t + draw.phase3));
        const double inside_px = (boundary - std::hypot(u, v)) / spacing.pixel_mm;
        const double weight = std::clamp(inside_px + 0.5, 0.0, 1.0);
        if (weight <= 0.0) continue;
        out[i] = static_cast<float>(std::clamp(out[i] + weight * draw.contrast, 0.0, 1.0));
        if (centre && weight >= kLabelWeight) {
          labelled += out_label[i] != kStackTumour ? 1 : 0;
          out_label[i] = kStackTumour;
        }
      }
    }
  }
  return labelled;
}

}  // namespace aslseg::ssl
