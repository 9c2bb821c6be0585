// A tiny 3-vector of doubles for phantom geometry (positions in millimetres).
#pragma once

#include <cmath>

namespace aslseg::synth {

struct Vec3 {
  double x = 0.0;
  double y = 0.0;
  double z = 0.0;

  Vec3 operator+(const Vec3& o) const { return {x + o.x, y + o.y, z + o.z}; }
  Vec3 operator-(const Vec3& o) const { return {x - o.x, y - o.y, z - o.z}; }
  Vec3 operator*(double s) const { return {x * s, y * s, z * s}; }
  double dot(const Vec3& o) const { return x * o.x + y * o.y + z * o.z; }
  double norm2() const { return dot(*this); }
  // std::sqrt is correctly rounded (IEEE 754), so it is safe for deterministic output.
  double norm() const { return std::sqrt(norm2()); }
};

}  // namespace aslseg::synth
