#include "aslseg/ssl/augment.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "aslseg/synth/detmath.h"
#include "aslseg/synth/rng.h"

namespace aslseg::ssl {
namespace {

// a + f * (b - a): exact when a == b, so uniform regions survive resampling bit for bit.
inline float lerp(float a, float b, float f) { return a + f * (b - a); }

// Copy without augmentation: the planes as they are, uint8 label / valid widened.
void copy_sample(const SliceInput& in, const SliceOutput& out) {
  const int64_t n = in.height * in.width;
  for (size_t c = 0; c < in.channels.size(); ++c) {
    std::memcpy(out.image + static_cast<int64_t>(c) * n, in.channels[c],
                static_cast<size_t>(n) * sizeof(float));
  }
  for (int64_t i = 0; i < n; ++i) out.valid[i] = in.valid[i] != 0 ? 1.0f : 0.0f;
  if (out.label != nullptr) {
    for (int64_t i = 0; i < n; ++i) out.label[i] = in.label[i];
  }
}

// floor() for |v| < 2^62 without a libm call (x86-64's baseline has no SSE4.1 roundsd).
inline int64_t floor_to_int(double v) {
  const int64_t t = static_cast<int64_t>(v);  // truncates towards zero
  return static_cast<double>(t) > v ? t - 1 : t;
}

// Output size and map of a sample: the whole slice, or a patch whose centre lands on the
// window's centre point.
struct OutputGrid {
  int64_t height = 0;
  int64_t width = 0;
  SourceMap map;
};

OutputGrid output_grid(const SliceInput& in, const SliceAffine& affine, const PatchWindow* window) {
  OutputGrid g;
  g.height = window != nullptr ? window->size : in.height;
  g.width = window != nullptr ? window->size : in.width;
  g.map = source_map(affine, g.height, g.width);
  if (window != nullptr) {
    g.map.t[0] += window->centre_x - 0.5 * static_cast<double>(g.width - 1);
    g.map.t[1] += window->centre_y - 0.5 * static_cast<double>(g.height - 1);
  }
  return g;
}

void resample(const SliceInput& in, const OutputGrid& grid, const SliceOutput& out) {
  const int64_t h = in.height;
  const int64_t w = in.width;
  const int64_t n = grid.height * grid.width;
  const int64_t channels = static_cast<int64_t>(in.channels.size());
  const SourceMap& map = grid.map;
  for (int64_t y = 0; y < grid.height; ++y) {
    for (int64_t x = 0; x < grid.width; ++x) {
      const int64_t i = y * grid.width + x;
      double sx = 0.0;
      double sy = 0.0;
      // Evaluated afresh per pixel (not accumulated), so every pixel's source point is the
      // same few roundings wherever it sits in the loop.
      map.source(static_cast<double>(x), static_cast<double>(y), &sx, &sy);
      // Nearest (round half up) for the masks; outside the slice counts as padding. Source
      // points far outside (a large zoom-out) stay far inside int64's range.
      const int64_t rx = floor_to_int(sx + 0.5);
      const int64_t ry = floor_to_int(sy + 0.5);
      const bool inside = rx >= 0 && ry >= 0 && rx < w && ry < h;
      const int64_t near = inside ? ry * w + rx : 0;
      const bool valid = inside && in.valid[near] != 0;
      out.valid[i] = valid ? 1.0f : 0.0f;
      if (out.label != nullptr) out.label[i] = inside ? in.label[near] : 0;
      if (!valid) {
        for (int64_t c = 0; c < channels; ++c) out.image[c * n + i] = 0.0f;
        continue;
      }
      // Bilinear with zero padding: a tap outside the slice contributes 0.
      const int64_t x0 = floor_to_int(sx);
      const int64_t y0 = floor_to_int(sy);
      const float fx = static_cast<float>(sx - static_cast<double>(x0));
      const float fy = static_cast<float>(sy - static_cast<double>(y0));
      const int64_t o00 = y0 * w + x0;
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h) {  // the common case
        for (int64_t c = 0; c < channels; ++c) {
          const float* p = in.channels[static_cast<size_t>(c)] + o00;
          out.image[c * n + i] = lerp(lerp(p[0], p[1], fx), lerp(p[w], p[w + 1], fx), fy);
        }
        continue;
      }
      const bool x0_in = x0 >= 0 && x0 < w;
      const bool x1_in = x0 + 1 >= 0 && x0 + 1 < w;
      const bool y0_in = y0 >= 0 && y0 < h;
      const bool y1_in = y0 + 1 >= 0 && y0 + 1 < h;
      for (int64_t c = 0; c < channels; ++c) {
        const float* p = in.channels[static_cast<size_t>(c)];
        const float a = (y0_in && x0_in) ? p[o00] : 0.0f;
        const float b = (y0_in && x1_in) ? p[o00 + 1] : 0.0f;
        const float d = (y1_in && x0_in) ? p[o00 + w] : 0.0f;
        const float e = (y1_in && x1_in) ? p[o00 + w + 1] : 0.0f;
        out.image[c * n + i] = lerp(lerp(a, b, fx), lerp(d, e, fx), fy);
      }
    }
  }
}

void jitter_intensity(const IntensityJitter& jitter, int64_t channels, int64_t n,
                      const SliceOutput& out) {
  for (int64_t c = 0; c < channels; ++c) {
    float* plane = out.image + c * n;
    for (int64_t i = 0; i < n; ++i) {
      if (out.valid[i] == 0.0f) continue;
      plane[i] = std::clamp(plane[i] * jitter.multiplier + jitter.shift, 0.0f, 1.0f);
    }
  }
}

// Kernel radius in sigmas: the weights beyond 3 sigma sum to < 0.3 %.
constexpr double kBlurRadiusSigmas = 3.0;

// One pass of a separable blur, along x (stride 1) or y (stride w), edges clamped: each valid
// output pixel is the kernel-weighted mean of the valid pixels it reaches (itself always among
// them), so padding (valid 0) neither gives nor receives intensity. Padding pixels of `dst`
// are left as they are.
void blur_pass(const float* src, float* dst, const float* valid, int64_t h, int64_t w, bool along_x,
               const std::vector<float>& kernel) {
  const int64_t radius = static_cast<int64_t>(kernel.size() / 2);
  const int64_t stride = along_x ? 1 : w;
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const int64_t i = y * w + x;
      if (valid[i] == 0.0f) continue;
      const int64_t pos = along_x ? x : y, last = (along_x ? w : h) - 1;
      float sum = 0.0f, weight = 0.0f;
      for (int64_t d = -radius; d <= radius; ++d) {
        const int64_t j = i + (std::clamp<int64_t>(pos + d, 0, last) - pos) * stride;
        if (valid[j] == 0.0f) continue;
        const float k = kernel[static_cast<size_t>(d + radius)];
        sum += k * src[j];
        weight += k;
      }
      dst[i] = sum / weight;
    }
}

// Separable Gaussian blur of one plane in place (`scratch` holds the horizontal pass).
void blur_plane(float* plane, const float* valid, int64_t h, int64_t w, double sigma,
                std::vector<float>& scratch) {
  const int64_t radius =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(kBlurRadiusSigmas * sigma)));
  std::vector<float> kernel(static_cast<size_t>(2 * radius + 1));
  for (int64_t i = -radius; i <= radius; ++i)
    kernel[static_cast<size_t>(i + radius)] = static_cast<float>(
        synth::detmath::exp(-0.5 * static_cast<double>(i * i) / (sigma * sigma)));
  scratch.assign(static_cast<size_t>(h * w), 0.0f);
  blur_pass(plane, scratch.data(), valid, h, w, /*along_x=*/true, kernel);
  blur_pass(scratch.data(), plane, valid, h, w, /*along_x=*/false, kernel);
}

void degrade(const Degradation& d, int64_t channels, int64_t h, int64_t w, const SliceOutput& out) {
  const int64_t n = h * w;
  if (d.blur_sigma_px > 0.0) {
    std::vector<float> scratch;
    for (int64_t c = 0; c < channels; ++c)
      blur_plane(out.image + c * n, out.valid, h, w, d.blur_sigma_px, scratch);
  }
  if (d.noise_sigma > 0.0) {
    synth::Rng rng(d.noise_seed);
    for (int64_t c = 0; c < channels; ++c) {
      float* plane = out.image + c * n;
      for (int64_t i = 0; i < n; ++i) {
        if (out.valid[i] == 0.0f) continue;
        plane[i] =
            std::clamp(plane[i] + static_cast<float>(d.noise_sigma * rng.normal()), 0.0f, 1.0f);
      }
    }
  }
}

}  // namespace

SourceMap source_map(const SliceAffine& a, int64_t height, int64_t width) {
  double sine = 0.0;
  double cosine = 1.0;
  synth::detmath::sincos_deg(a.angle_deg, &sine, &cosine);
  const double fx = a.flip_x ? -1.0 : 1.0;
  const double fy = a.flip_y ? -1.0 : 1.0;
  // T(q) = c + scale * R(angle) * F * (q - c), so T^-1(p) = c + F * R(-angle) * (p - c) / scale.
  SourceMap map;
  map.m = {fx * cosine / a.scale, fx * sine / a.scale, -fy * sine / a.scale, fy * cosine / a.scale};
  const double cx = 0.5 * static_cast<double>(width - 1);
  const double cy = 0.5 * static_cast<double>(height - 1);
  map.t = {cx - (map.m[0] * cx + map.m[1] * cy), cy - (map.m[2] * cx + map.m[3] * cy)};
  return map;
}

void render_sample(const SliceInput& in, const AugmentDraw* draw, const SliceOutput& out,
                   const PatchWindow* window) {
  const SliceAffine identity;
  const SliceAffine& affine = draw != nullptr ? draw->affine : identity;
  const OutputGrid grid = output_grid(in, affine, window);
  if (window == nullptr && affine.is_identity()) {
    copy_sample(in, out);
  } else {
    resample(in, grid, out);
  }
  if (draw != nullptr && !draw->intensity.is_identity()) {
    jitter_intensity(draw->intensity, static_cast<int64_t>(in.channels.size()),
                     grid.height * grid.width, out);
  }
  if (draw != nullptr && !draw->degradation.is_identity())
    degrade(draw->degradation, static_cast<int64_t>(in.channels.size()), grid.height, grid.width,
            out);
}

}  // namespace aslseg::ssl
