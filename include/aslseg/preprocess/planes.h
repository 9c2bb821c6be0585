// A stack of 2D planes in channel-major order [C][Y][X] (x fastest): the layout of one network
// input or output slice, ready to be copied into a torch tensor of shape (C, H, W).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace aslseg::preprocess {

template <typename T>
struct Planes {
  int64_t channels = 0;
  int64_t height = 0;  // y
  int64_t width = 0;   // x
  std::vector<T> data;

  Planes() = default;
  Planes(int64_t c, int64_t h, int64_t w, T fill = T{}) : channels(c), height(h), width(w) {
    if (c < 0 || h < 0 || w < 0) {
      throw std::invalid_argument("Planes: negative size " + std::to_string(c) + "x" +
                                  std::to_string(h) + "x" + std::to_string(w));
    }
    data.assign(static_cast<size_t>(c * h * w), fill);
  }

  int64_t plane_size() const { return height * width; }
  int64_t index(int64_t c, int64_t y, int64_t x) const { return x + width * (y + height * c); }
  T& at(int64_t c, int64_t y, int64_t x) { return data[static_cast<size_t>(index(c, y, x))]; }
  const T& at(int64_t c, int64_t y, int64_t x) const {
    return data[static_cast<size_t>(index(c, y, x))];
  }
  T* plane(int64_t c) { return data.data() + c * plane_size(); }
  const T* plane(int64_t c) const { return data.data() + c * plane_size(); }
};

using FloatPlanes = Planes<float>;
using LabelPlanes = Planes<uint8_t>;

}  // namespace aslseg::preprocess
