#include "aslseg/io/volume.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace aslseg {

namespace {

std::string join3(const double* v, const char* fmt) {
  char buf[128];
  std::snprintf(buf, sizeof buf, fmt, v[0], v[1], v[2]);
  return buf;
}

}  // namespace

std::string Geometry::difference(const Geometry& o, double tol) const {
  std::ostringstream s;
  if (size != o.size) {
    s << "size " << size[0] << "x" << size[1] << "x" << size[2] << " vs " << o.size[0] << "x"
      << o.size[1] << "x" << o.size[2];
    return s.str();
  }
  for (int i = 0; i < 3; ++i) {
    if (std::abs(spacing[i] - o.spacing[i]) > tol * std::max(1.0, std::abs(spacing[i])))
      return "spacing " + join3(spacing.data(), "%g,%g,%g") + " vs " +
             join3(o.spacing.data(), "%g,%g,%g");
  }
  for (int i = 0; i < 3; ++i) {
    if (std::abs(origin[i] - o.origin[i]) > tol)
      return "origin " + join3(origin.data(), "%g,%g,%g") + " vs " +
             join3(o.origin.data(), "%g,%g,%g");
  }
  for (int i = 0; i < 9; ++i) {
    if (std::abs(direction[i] - o.direction[i]) > tol) return "direction differs";
  }
  return "";
}

std::string Geometry::describe() const {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%lldx%lldx%lld @ %.3gx%.3gx%.3g mm",
                static_cast<long long>(size[0]), static_cast<long long>(size[1]),
                static_cast<long long>(size[2]), spacing[0], spacing[1], spacing[2]);
  return buf;
}

}  // namespace aslseg
