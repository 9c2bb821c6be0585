// Helpers for the slice data tests: prepared volumes built in memory (no I/O), whose pixels
// say where they came from, and bitwise tensor comparison.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "aslseg/ssl/slice_data.h"

namespace aslseg::testing {

// Bitwise: same dtype, shape and bytes (torch::equal would call -0 and +0 equal).
inline bool bitwise_equal(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const torch::Tensor ca = a.contiguous();
  const torch::Tensor cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.numel() * ca.element_size()) == 0;
}

inline bool bitwise_equal(const ssl::Batch& a, const ssl::Batch& b) {
  return bitwise_equal(a.image, b.image) && bitwise_equal(a.label, b.label) &&
         bitwise_equal(a.valid, b.valid);
}

struct CodedVolumeSpec {
  std::string id = "v";
  int64_t depth = 8;
  int64_t side = 32;
  std::vector<int64_t> tumour_slices;  // slices that get a tumour square
  float tag = 0.0f;                    // added to the image so volumes differ
  bool with_label = true;
  // image = label / 2 (for the augmentation tests) instead of the coded values.
  bool image_is_half_label = false;
};

// A [Z, S, S] volume: valid inside a disc of radius 0.45 S (image 0 outside); liver a disc of
// radius 0.3 S on slices 1 .. Z-2; a tumour square of side S/4 on the listed slices. Image
// values encode slice and pixel, so a sample's provenance can be checked.
inline ssl::PreparedVolume coded_volume(const CodedVolumeSpec& spec) {
  const int64_t s = spec.side;
  ssl::PreparedVolume v;
  v.id = spec.id;
  v.image = torch::zeros({spec.depth, s, s}, torch::kFloat32);
  v.valid = torch::zeros({spec.depth, s, s}, torch::kUInt8);
  torch::Tensor label = torch::zeros({spec.depth, s, s}, torch::kUInt8);
  float* img = v.image.data_ptr<float>();
  uint8_t* val = v.valid.data_ptr<uint8_t>();
  uint8_t* lab = label.data_ptr<uint8_t>();
  const double c = 0.5 * static_cast<double>(s - 1);
  for (int64_t z = 0; z < spec.depth; ++z) {
    const bool tumour = std::find(spec.tumour_slices.begin(), spec.tumour_slices.end(), z) !=
                        spec.tumour_slices.end();
    for (int64_t y = 0; y < s; ++y) {
      for (int64_t x = 0; x < s; ++x) {
        const int64_t i = (z * s + y) * s + x;
        const double r = std::hypot(static_cast<double>(x) - c, static_cast<double>(y) - c);
        if (r > 0.45 * static_cast<double>(s)) continue;  // padding: valid 0, image 0, label 0
        val[i] = 1;
        if (z >= 1 && z + 1 < spec.depth && r < 0.3 * static_cast<double>(s)) lab[i] = 1;
        if (tumour && x >= s / 2 && x < s / 2 + s / 4 && y >= s / 3 && y < s / 3 + s / 4) {
          lab[i] = 2;
        }
        img[i] = spec.image_is_half_label
                     ? 0.5f * static_cast<float>(lab[i])
                     : spec.tag +
                           0.5f * static_cast<float>(z + 1) / static_cast<float>(spec.depth) +
                           0.25f * static_cast<float>(y * s + x) / static_cast<float>(s * s);
      }
    }
  }
  for (int64_t z = 0; z < spec.depth; ++z) {
    const torch::Tensor plane = label[z];
    if ((plane == 2).any().item<bool>()) v.tumour_slices.push_back(z);
    if ((plane >= 1).any().item<bool>()) v.liver_slices.push_back(z);
  }
  if (spec.with_label) {
    v.label = label;
  } else {
    v.tumour_slices.clear();
    v.liver_slices.clear();
  }
  return v;
}

// Three labelled volumes of different depths; the middle one has no tumour.
inline std::vector<ssl::PreparedVolume> coded_set(int64_t side = 32, bool with_label = true) {
  std::vector<ssl::PreparedVolume> out;
  CodedVolumeSpec a;
  a.id = "a";
  a.depth = 20;
  a.side = side;
  a.tumour_slices = {4, 5, 6};
  a.with_label = with_label;
  CodedVolumeSpec b = a;
  b.id = "b";
  b.depth = 30;
  b.tumour_slices = {};
  b.tag = 0.1f;
  CodedVolumeSpec c = a;
  c.id = "c";
  c.depth = 10;
  c.tumour_slices = {2, 8};
  c.tag = 0.2f;
  for (const CodedVolumeSpec& s : {a, b, c}) out.push_back(coded_volume(s));
  return out;
}

}  // namespace aslseg::testing
