#include "aslseg/preprocess/slicing.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace aslseg::preprocess {
namespace {

template <typename T>
void require_slice(const Volume<T>& v, int64_t z, const char* what) {
  if (static_cast<int64_t>(v.voxels.size()) != v.geometry.num_voxels()) {
    throw std::invalid_argument(std::string(what) + ": volume holds " +
                                std::to_string(v.voxels.size()) + " voxels but its size is " +
                                v.geometry.describe());
  }
  if (z < 0 || z >= v.geometry.size[2]) {
    throw std::invalid_argument(std::string(what) + ": slice " + std::to_string(z) +
                                " outside [0, " + std::to_string(v.geometry.size[2]) + ")");
  }
}

}  // namespace

std::vector<int64_t> context_slice_indices(int64_t z, int context, int64_t depth) {
  if (context < 0) {
    throw std::invalid_argument("context slices must be >= 0, got " + std::to_string(context));
  }
  if (z < 0 || z >= depth) {
    throw std::invalid_argument("slice " + std::to_string(z) + " outside [0, " +
                                std::to_string(depth) + ")");
  }
  std::vector<int64_t> indices;
  indices.reserve(2 * static_cast<size_t>(context) + 1);
  for (int64_t dz = -context; dz <= context; ++dz) {
    indices.push_back(std::clamp<int64_t>(z + dz, 0, depth - 1));
  }
  return indices;
}

void slice_with_context(const Image& volume, int64_t z, const SliceParams& p, float* out) {
  require_slice(volume, z, "slice_with_context");
  if (out == nullptr) throw std::invalid_argument("slice_with_context: null output buffer");
  const int64_t plane = volume.geometry.slice_voxels();
  for (const int64_t src : context_slice_indices(z, p.context, volume.geometry.size[2])) {
    out = std::copy(volume.slice(src), volume.slice(src) + plane, out);
  }
}

FloatPlanes slice_with_context(const Image& volume, int64_t z, const SliceParams& p) {
  if (p.context < 0) {
    throw std::invalid_argument("context slices must be >= 0, got " + std::to_string(p.context));
  }
  FloatPlanes out(2 * static_cast<int64_t>(p.context) + 1, volume.geometry.size[1],
                  volume.geometry.size[0]);
  slice_with_context(volume, z, p, out.data.data());
  return out;
}

LabelPlanes label_slice(const LabelMap& labels, int64_t z) {
  require_slice(labels, z, "label_slice");
  LabelPlanes out(1, labels.geometry.size[1], labels.geometry.size[0]);
  std::copy(labels.slice(z), labels.slice(z) + labels.geometry.slice_voxels(), out.data.begin());
  return out;
}

void put_label_slice(const LabelPlanes& plane, LabelMap& labels, int64_t z) {
  require_slice(labels, z, "put_label_slice");
  const auto& s = labels.geometry.size;
  if (plane.channels != 1 || plane.height != s[1] || plane.width != s[0] ||
      static_cast<int64_t>(plane.data.size()) != plane.plane_size()) {
    throw std::invalid_argument("put_label_slice: plane is " + std::to_string(plane.channels) +
                                "x" + std::to_string(plane.height) + "x" +
                                std::to_string(plane.width) + ", expected 1x" +
                                std::to_string(s[1]) + "x" + std::to_string(s[0]));
  }
  std::copy(plane.data.begin(), plane.data.end(), labels.slice(z));
}

std::vector<int64_t> slices_containing(const LabelMap& labels, uint8_t label, int64_t min_voxels) {
  if (min_voxels < 1) {
    throw std::invalid_argument("slices_containing: min_voxels must be >= 1, got " +
                                std::to_string(min_voxels));
  }
  if (static_cast<int64_t>(labels.voxels.size()) != labels.geometry.num_voxels()) {
    throw std::invalid_argument("slices_containing: label map holds " +
                                std::to_string(labels.voxels.size()) + " voxels but its size is " +
                                labels.geometry.describe());
  }
  std::vector<int64_t> found;
  const int64_t plane = labels.geometry.slice_voxels();
  for (int64_t z = 0; z < labels.geometry.size[2]; ++z) {
    const uint8_t* s = labels.slice(z);
    if (std::count(s, s + plane, label) >= min_voxels) found.push_back(z);
  }
  return found;
}

}  // namespace aslseg::preprocess
