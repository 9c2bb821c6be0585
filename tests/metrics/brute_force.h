// Brute-force references for the metric tests, written from the definitions and nothing else.
#pragma once

#include <cstdint>

#include "aslseg/io/volume.h"

namespace aslseg::testing {

// A surface voxel: foreground with a 6-neighbour that is background or outside the volume
// (scipy's binary_erosion with border_value 0, as MONAI uses it).
inline bool is_surface(const LabelMap& m, int64_t x, int64_t y, int64_t z) {
  if (!m.at(x, y, z)) return false;
  const auto& s = m.geometry.size;
  const int64_t nb[6][3] = {{x - 1, y, z}, {x + 1, y, z}, {x, y - 1, z},
                            {x, y + 1, z}, {x, y, z - 1}, {x, y, z + 1}};
  for (const auto& n : nb)
    if (n[0] < 0 || n[0] >= s[0] || n[1] < 0 || n[1] >= s[1] || n[2] < 0 || n[2] >= s[2] ||
        !m.at(n[0], n[1], n[2]))
      return true;
  return false;
}

}  // namespace aslseg::testing
