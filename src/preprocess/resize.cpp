#include "aslseg/preprocess/resize.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace aslseg::preprocess {
namespace {

template <typename T>
void require_resizable(const Planes<T>& in, int64_t out_height, int64_t out_width,
                       const char* what) {
  if (in.channels < 1 || in.height < 1 || in.width < 1 ||
      static_cast<int64_t>(in.data.size()) != in.channels * in.plane_size()) {
    throw std::invalid_argument(std::string(what) + ": input " + std::to_string(in.channels) + "x" +
                                std::to_string(in.height) + "x" + std::to_string(in.width) +
                                " with " + std::to_string(in.data.size()) +
                                " values is empty or torn");
  }
  if (out_height < 1 || out_width < 1) {
    throw std::invalid_argument(std::string(what) + ": output size " + std::to_string(out_height) +
                                "x" + std::to_string(out_width) + " must be at least 1x1");
  }
}

// Source taps of one axis for bilinear, align_corners=False (see resize.h).
struct LinearTaps {
  std::vector<int64_t> i0, i1;
  std::vector<float> lambda;
};

LinearTaps linear_taps(int64_t in, int64_t out) {
  LinearTaps t;
  t.i0.resize(static_cast<size_t>(out));
  t.i1.resize(static_cast<size_t>(out));
  t.lambda.resize(static_cast<size_t>(out));
  // float, like torch's opmath for float tensors, so the taps land on the same pixels.
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t d = 0; d < out; ++d) {
    const float src = std::max(scale * (static_cast<float>(d) + 0.5f) - 0.5f, 0.0f);
    const int64_t i0 = std::min(static_cast<int64_t>(src), in - 1);
    t.i0[d] = i0;
    t.i1[d] = std::min(i0 + 1, in - 1);
    t.lambda[d] = src - static_cast<float>(i0);
  }
  return t;
}

// torch's nearest_idx: floor(dst * scale) with scale = in / out in float.
std::vector<int64_t> nearest_taps(int64_t in, int64_t out) {
  std::vector<int64_t> src(static_cast<size_t>(out));
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t d = 0; d < out; ++d) {
    src[d] = std::min(static_cast<int64_t>(std::floor(static_cast<float>(d) * scale)), in - 1);
  }
  return src;
}

template <typename T>
Planes<T> nearest_impl(const Planes<T>& in, int64_t out_height, int64_t out_width) {
  require_resizable(in, out_height, out_width, "resize_nearest");
  const std::vector<int64_t> ys = nearest_taps(in.height, out_height);
  const std::vector<int64_t> xs = nearest_taps(in.width, out_width);
  Planes<T> out(in.channels, out_height, out_width);
  T* dst = out.data.data();
  for (int64_t c = 0; c < in.channels; ++c) {
    for (int64_t y = 0; y < out_height; ++y) {
      const T* row = in.plane(c) + ys[y] * in.width;
      for (int64_t x = 0; x < out_width; ++x) *dst++ = row[xs[x]];
    }
  }
  return out;
}

}  // namespace

FloatPlanes resize_bilinear(const FloatPlanes& in, int64_t out_height, int64_t out_width) {
  require_resizable(in, out_height, out_width, "resize_bilinear");
  const LinearTaps ty = linear_taps(in.height, out_height);
  const LinearTaps tx = linear_taps(in.width, out_width);
  FloatPlanes out(in.channels, out_height, out_width);
  // Each input row is interpolated along x once per output row that uses it; two rows of
  // scratch keep this simple without caching across output rows.
  std::vector<float> row0(static_cast<size_t>(out_width)), row1(static_cast<size_t>(out_width));
  const auto lerp_row = [&tx, out_width](const float* src, float* dst) {
    for (int64_t x = 0; x < out_width; ++x) {
      const float a = src[tx.i0[x]];
      dst[x] = a + tx.lambda[x] * (src[tx.i1[x]] - a);
    }
  };
  float* dst = out.data.data();
  for (int64_t c = 0; c < in.channels; ++c) {
    const float* plane = in.plane(c);
    for (int64_t y = 0; y < out_height; ++y) {
      lerp_row(plane + ty.i0[y] * in.width, row0.data());
      lerp_row(plane + ty.i1[y] * in.width, row1.data());
      const float ly = ty.lambda[y];
      for (int64_t x = 0; x < out_width; ++x) *dst++ = row0[x] + ly * (row1[x] - row0[x]);
    }
  }
  return out;
}

LabelPlanes resize_nearest(const LabelPlanes& in, int64_t out_height, int64_t out_width) {
  return nearest_impl(in, out_height, out_width);
}

FloatPlanes resize_nearest(const FloatPlanes& in, int64_t out_height, int64_t out_width) {
  return nearest_impl(in, out_height, out_width);
}

}  // namespace aslseg::preprocess
