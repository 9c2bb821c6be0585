// Smooth low-frequency noise for phantoms: value noise on a lattice anchored in physical
// millimetres, interpolated with smoothstep weights. Node values are hashes of the node's
// integer coordinates, so a shape is the same whatever voxel grid samples it, and the nodes
// inside the region of interest are cached so that a lookup costs 8 loads and a few lerps.
#pragma once

#include <climits>
#include <cstdint>
#include <limits>
#include <vector>

#include "aslseg/synth/vec3.h"

namespace aslseg::synth {

class LatticeNoise {
 public:
  // `cell_mm`: lattice spacing (the feature size of the noise). Nodes covering [lo, hi] are
  // cached; points outside still get the exact same values, only slower.
  LatticeNoise(uint64_t key, double cell_mm, const Vec3& lo, const Vec3& hi);

  // Smooth (C1) value in [-1, 1].
  double at(const Vec3& p) const;

  double cell_mm() const { return cell_; }

  // Remembers the corner values of the last lattice cell, so a run of lookups inside one
  // cell (a row of voxels) skips the eight node reads. Bit-identical to LatticeNoise::at.
  // One per thread: it holds state.
  class Sampler {
   public:
    explicit Sampler(const LatticeNoise& noise) : noise_(noise) {}
    double at(const Vec3& p);

   private:
    const LatticeNoise& noise_;
    int64_t cell_[3] = {INT64_MIN, INT64_MIN, INT64_MIN};
    double corner_[8] = {};
    // y and z of the last lookup and the corner values interpolated there (x = 0 and 1).
    double last_y_ = std::numeric_limits<double>::quiet_NaN();
    double last_z_ = std::numeric_limits<double>::quiet_NaN();
    double yz_[2] = {0.0, 0.0};
  };

 private:
  double node(int64_t ix, int64_t iy, int64_t iz) const;
  // Corner values of the cell whose lowest node is (ix, iy, iz), x fastest.
  void corners(int64_t ix, int64_t iy, int64_t iz, double out[8]) const;

  uint64_t key_;
  double cell_;
  double inv_cell_;
  int64_t lo_[3] = {0, 0, 0};
  int64_t n_[3] = {0, 0, 0};
  std::vector<float> cache_;
};

}  // namespace aslseg::synth
