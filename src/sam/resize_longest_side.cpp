#include "aslseg/sam/resize_longest_side.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace aslseg::sam {

namespace {

constexpr int64_t kChannels = 3;

void check_size(int64_t height, int64_t width, const char* what) {
  if (height < 1 || width < 1)
    throw std::invalid_argument(std::string(what) + ": empty slice " + std::to_string(width) + "x" +
                                std::to_string(height));
}

}  // namespace

std::array<int64_t, 2> preprocess_shape(int64_t height, int64_t width, int64_t long_side) {
  check_size(height, width, "preprocess_shape");
  if (long_side < 1) throw std::invalid_argument("preprocess_shape: long side must be >= 1");
  // Python floats (double) and int(x + 0.5), exactly as get_preprocess_shape.
  const double scale =
      static_cast<double>(long_side) / static_cast<double>(std::max(height, width));
  const auto round_half_up = [](double v) { return static_cast<int64_t>(v + 0.5); };
  return {round_half_up(static_cast<double>(height) * scale),
          round_half_up(static_cast<double>(width) * scale)};
}

torch::Tensor apply_coords(const torch::Tensor& coords, std::array<int64_t, 2> original_size,
                           int64_t long_side) {
  if (coords.dim() < 1 || coords.size(-1) != 2)
    throw std::invalid_argument("apply_coords: expected [..., 2] (x, y), got " +
                                c10::str(coords.sizes()));
  const auto [new_h, new_w] = preprocess_shape(original_size[0], original_size[1], long_side);
  // The reference computes in float64 (numpy) before the model sees float32.
  const torch::Tensor scale =
      torch::tensor({static_cast<double>(new_w) / static_cast<double>(original_size[1]),
                     static_cast<double>(new_h) / static_cast<double>(original_size[0])},
                    torch::TensorOptions().dtype(torch::kDouble).device(coords.device()));
  return (coords.to(torch::kDouble) * scale).to(torch::kFloat);
}

torch::Tensor apply_boxes(const torch::Tensor& boxes, std::array<int64_t, 2> original_size,
                          int64_t long_side) {
  if (boxes.dim() != 2 || boxes.size(1) != 4)
    throw std::invalid_argument("apply_boxes: expected [B, 4], got " + c10::str(boxes.sizes()));
  return apply_coords(boxes.reshape({-1, 2, 2}), original_size, long_side).reshape({-1, 4});
}

torch::Tensor sam_image_from_windowed(const torch::Tensor& windowed, const models::SamConfig& c) {
  if (windowed.dim() != 2)
    throw std::invalid_argument("sam_image_from_windowed: expected [height, width], got " +
                                c10::str(windowed.sizes()));
  const int64_t h = windowed.size(0);
  const int64_t w = windowed.size(1);
  check_size(h, w, "sam_image_from_windowed");
  const auto [new_h, new_w] = preprocess_shape(h, w, c.image_size);
  const bool min_max = c.input_normalization == "min_max";
  torch::Tensor x = windowed.to(torch::kFloat).view({1, 1, h, w});
  if (!min_max) x = x * static_cast<float>(kUint8Range);
  // One channel is resized and then repeated: the three channels are identical.
  if (new_h != h || new_w != w) {
    namespace F = torch::nn::functional;
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{new_h, new_w})
                              .mode(torch::kBilinear)
                              .align_corners(false)
                              .antialias(true));
  }
  if (min_max) {
    const torch::Tensor lo = x.min();
    const torch::Tensor range = (x.max() - lo).clamp_min(kMinMaxEpsilon);
    x = (x - lo) / range;
  }
  return x.view({1, new_h, new_w}).expand({kChannels, new_h, new_w}).contiguous();
}

torch::Tensor sam_image_from_hu(const float* hu, int64_t width, int64_t height,
                                const preprocess::WindowParams& window,
                                const models::SamConfig& c) {
  check_size(height, width, "sam_image_from_hu");
  preprocess::validate(window);
  torch::Tensor windowed = torch::empty({height, width}, torch::kFloat);
  preprocess::apply_window(hu, nullptr, windowed.data_ptr<float>(),
                           static_cast<size_t>(height * width), window);
  return sam_image_from_windowed(windowed, c);
}

}  // namespace aslseg::sam
