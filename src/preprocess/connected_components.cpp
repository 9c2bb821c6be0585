#include "aslseg/preprocess/connected_components.h"

#include <limits>
#include <stdexcept>
#include <string>

namespace aslseg::preprocess {
namespace {

struct Offset {
  int dx, dy, dz;
};

// The "backward" half of each neighbourhood: neighbours already visited in buffer order (x
// fastest). A raster scan that links each voxel to these sees every adjacent pair once.
const std::vector<Offset> kBackward6 = {{-1, 0, 0}, {0, -1, 0}, {0, 0, -1}};
const std::vector<Offset> kBackward4 = {{-1, 0, 0}, {0, -1, 0}};
const std::vector<Offset> kBackward8 = {{-1, 0, 0}, {-1, -1, 0}, {0, -1, 0}, {1, -1, 0}};

std::vector<Offset> backward26() {
  std::vector<Offset> offsets;
  for (int dz = -1; dz <= 0; ++dz) {
    for (int dy = -1; dy <= 1; ++dy) {
      for (int dx = -1; dx <= 1; ++dx) {
        // Strictly before (0,0,0) in buffer order.
        if (dz < 0 || dy < 0 || (dy == 0 && dx < 0)) offsets.push_back({dx, dy, dz});
      }
    }
  }
  return offsets;
}

const std::vector<Offset>& backward(Connectivity3D c) {
  static const std::vector<Offset> k26 = backward26();
  return c == Connectivity3D::k6 ? kBackward6 : k26;
}

const std::vector<Offset>& backward(Connectivity2D c) {
  return c == Connectivity2D::k4 ? kBackward4 : kBackward8;
}

int32_t find_root(std::vector<int32_t>& parent, int32_t l) {
  while (parent[l] != l) {
    parent[l] = parent[parent[l]];  // path halving keeps the trees flat without recursion
    l = parent[l];
  }
  return l;
}

// Links the sets of a and b under the smaller root and returns it. Keeping the smaller label
// as root makes every root its component's first label in buffer order.
int32_t unite(std::vector<int32_t>& parent, int32_t a, int32_t b) {
  a = find_root(parent, a);
  b = find_root(parent, b);
  if (a == b) return a;
  if (a < b) {
    parent[b] = a;
    return a;
  }
  parent[a] = b;
  return b;
}

// Two-pass union-find labelling of the voxels whose "is nonzero" equals `target_nonzero`
// (true: foreground components; false: background components, for hole filling).
Components label_impl(const uint8_t* mask, int64_t nx, int64_t ny, int64_t nz,
                      const std::vector<Offset>& offsets, bool target_nonzero) {
  Components out;
  const int64_t n = nx * ny * nz;
  out.labels.assign(static_cast<size_t>(n), 0);
  int32_t* labels = out.labels.data();
  std::vector<int32_t> parent{0};

  struct Active {
    int dx;
    int64_t linear;
  };
  std::vector<Active> active;
  active.reserve(offsets.size());
  for (int64_t z = 0; z < nz; ++z) {
    for (int64_t y = 0; y < ny; ++y) {
      // Offsets whose y and z stay inside the volume on this row; x is checked per voxel.
      active.clear();
      for (const Offset& o : offsets) {
        if (y + o.dy < 0 || y + o.dy >= ny || z + o.dz < 0) continue;
        active.push_back({o.dx, o.dx + nx * (o.dy + ny * static_cast<int64_t>(o.dz))});
      }
      const int64_t row = nx * (y + ny * z);
      for (int64_t x = 0; x < nx; ++x) {
        const int64_t i = row + x;
        if ((mask[i] != 0) != target_nonzero) continue;
        int32_t current = 0;
        for (const Active& a : active) {
          if (x + a.dx < 0 || x + a.dx >= nx) continue;
          const int32_t neighbour = labels[i + a.linear];
          if (neighbour == 0 || neighbour == current) continue;
          current = current == 0 ? neighbour : unite(parent, current, neighbour);
        }
        if (current == 0) {
          if (parent.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
            throw std::invalid_argument("label_components: more than 2^31 provisional labels");
          }
          current = static_cast<int32_t>(parent.size());
          parent.push_back(current);
        }
        labels[i] = current;
      }
    }
  }

  // Provisional -> final labels, 1..count in order of first appearance (roots are minimal).
  std::vector<int32_t> final_label(parent.size(), 0);
  int32_t count = 0;
  for (size_t l = 1; l < parent.size(); ++l) {
    const int32_t root = find_root(parent, static_cast<int32_t>(l));
    final_label[l] = root == static_cast<int32_t>(l) ? ++count : final_label[root];
  }
  out.sizes.assign(static_cast<size_t>(count) + 1, 0);
  for (int64_t i = 0; i < n; ++i) {
    if (labels[i] == 0) continue;
    labels[i] = final_label[labels[i]];
    ++out.sizes[labels[i]];
  }
  return out;
}

void require_consistent(const LabelMap& mask, const char* what) {
  const Geometry& g = mask.geometry;
  if (g.size[0] < 0 || g.size[1] < 0 || g.size[2] < 0 ||
      static_cast<int64_t>(mask.voxels.size()) != g.num_voxels()) {
    throw std::invalid_argument(std::string(what) + ": mask holds " +
                                std::to_string(mask.voxels.size()) + " voxels but its size is " +
                                g.describe());
  }
}

void require_2d(const uint8_t* mask, int64_t width, int64_t height, const char* what) {
  if (width < 0 || height < 0) {
    throw std::invalid_argument(std::string(what) + ": negative slice size " +
                                std::to_string(width) + "x" + std::to_string(height));
  }
  if (mask == nullptr && width * height > 0) {
    throw std::invalid_argument(std::string(what) + ": null slice buffer");
  }
}

// Marks the labels that touch the border: the x and y edges of every slice, plus the first
// and last slice when `include_z_faces` (3D filling; a lone 2D slice has no z faces).
std::vector<uint8_t> border_labels(const Components& c, int64_t nx, int64_t ny, int64_t nz,
                                   bool include_z_faces) {
  std::vector<uint8_t> touches(c.sizes.size(), 0);
  for (int64_t z = 0; z < nz; ++z) {
    const bool z_face = include_z_faces && (z == 0 || z == nz - 1);
    for (int64_t y = 0; y < ny; ++y) {
      const int64_t row = nx * (y + ny * z);
      if (z_face || y == 0 || y == ny - 1) {
        for (int64_t x = 0; x < nx; ++x) touches[c.labels[row + x]] = 1;
      } else if (nx > 0) {
        touches[c.labels[row]] = 1;
        touches[c.labels[row + nx - 1]] = 1;
      }
    }
  }
  return touches;
}

LabelMap select_components(const LabelMap& mask, const Components& c,
                           const std::vector<uint8_t>& keep) {
  LabelMap out(mask.geometry, 0);
  for (size_t i = 0; i < out.voxels.size(); ++i) out.voxels[i] = keep[c.labels[i]];
  return out;
}

}  // namespace

int32_t Components::largest() const {
  int32_t best = 0;
  for (size_t k = 1; k < sizes.size(); ++k) {
    if (best == 0 || sizes[k] > sizes[best]) best = static_cast<int32_t>(k);
  }
  return best;
}

Components label_components(const LabelMap& mask, Connectivity3D c) {
  require_consistent(mask, "label_components");
  const auto& s = mask.geometry.size;
  return label_impl(mask.voxels.data(), s[0], s[1], s[2], backward(c), true);
}

Components label_components_2d(const uint8_t* mask, int64_t width, int64_t height,
                               Connectivity2D c) {
  require_2d(mask, width, height, "label_components_2d");
  return label_impl(mask, width, height, 1, backward(c), true);
}

LabelMap largest_component(const LabelMap& mask, Connectivity3D c) {
  const Components comps = label_components(mask, c);
  std::vector<uint8_t> keep(comps.sizes.size(), 0);
  if (const int32_t best = comps.largest(); best != 0) keep[best] = 1;
  return select_components(mask, comps, keep);
}

LabelMap remove_components_smaller_than(const LabelMap& mask, int64_t min_voxels,
                                        Connectivity3D c) {
  if (min_voxels < 0) {
    throw std::invalid_argument("remove_components_smaller_than: min_voxels must be >= 0, got " +
                                std::to_string(min_voxels));
  }
  const Components comps = label_components(mask, c);
  std::vector<uint8_t> keep(comps.sizes.size(), 0);
  for (size_t k = 1; k < comps.sizes.size(); ++k) keep[k] = comps.sizes[k] >= min_voxels;
  return select_components(mask, comps, keep);
}

LabelMap fill_holes_3d(const LabelMap& mask, Connectivity3D background) {
  require_consistent(mask, "fill_holes_3d");
  const auto& s = mask.geometry.size;
  const Components bg =
      label_impl(mask.voxels.data(), s[0], s[1], s[2], backward(background), false);
  const std::vector<uint8_t> open = border_labels(bg, s[0], s[1], s[2], true);
  LabelMap out(mask.geometry, 0);
  for (size_t i = 0; i < out.voxels.size(); ++i) {
    out.voxels[i] = mask.voxels[i] != 0 || !open[bg.labels[i]];
  }
  return out;
}

void fill_holes_2d(uint8_t* mask, int64_t width, int64_t height, Connectivity2D background) {
  require_2d(mask, width, height, "fill_holes_2d");
  const Components bg = label_impl(mask, width, height, 1, backward(background), false);
  const std::vector<uint8_t> open = border_labels(bg, width, height, 1, false);
  const int64_t n = width * height;
  for (int64_t i = 0; i < n; ++i) mask[i] = mask[i] != 0 || !open[bg.labels[i]];
}

LabelMap fill_holes_2d_per_slice(const LabelMap& mask, Connectivity2D background) {
  require_consistent(mask, "fill_holes_2d_per_slice");
  LabelMap out = mask;
  const auto& s = mask.geometry.size;
  for (int64_t z = 0; z < s[2]; ++z) fill_holes_2d(out.slice(z), s[0], s[1], background);
  return out;
}

}  // namespace aslseg::preprocess
