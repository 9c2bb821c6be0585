#include "aslseg/synth/detmath.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace aslseg::synth::detmath {

namespace {
constexpr double kLn2 = 0.69314718055994530942;
constexpr double kSqrtHalf = 0.70710678118654752440;
constexpr double kPi = 3.14159265358979323846;
constexpr double kQuarterTurnDeg = 90.0;
constexpr double kHalfTurnDeg = 180.0;
// Series lengths: enough terms that the truncation error is below double precision on the
// reduced ranges used below.
constexpr int kLogTerms = 10;
constexpr int kExpTerms = 14;
constexpr int kTrigTerms = 10;
// 1/(2k+1): compile-time constants are correctly rounded, like a runtime division, but free.
constexpr double kOddReciprocals[kLogTerms] = {1.0,      1.0 / 3,  1.0 / 5,  1.0 / 7,  1.0 / 9,
                                               1.0 / 11, 1.0 / 13, 1.0 / 15, 1.0 / 17, 1.0 / 19};
constexpr int kMantissaBits = 52;
constexpr int kExponentBias = 1023;
constexpr uint64_t kMantissaMask = (uint64_t{1} << kMantissaBits) - 1;
constexpr uint64_t kHalfExponent = uint64_t{1022} << kMantissaBits;  // exponent of 0.5
}  // namespace

double log(double x) {
  if (!(x > 0.0) || !std::isfinite(x)) return std::numeric_limits<double>::quiet_NaN();
  int exponent = 0;
  double m = 0.0;
  uint64_t bits = 0;
  std::memcpy(&bits, &x, sizeof bits);
  if ((bits >> kMantissaBits) != 0) {
    // Normal number: read the exponent and set it to -1, giving m in [0.5, 1) exactly.
    exponent = static_cast<int>(bits >> kMantissaBits) - kExponentBias + 1;
    bits = (bits & kMantissaMask) | kHalfExponent;
    std::memcpy(&m, &bits, sizeof m);
  } else {
    m = std::frexp(x, &exponent);  // subnormal: rare, let libm do it (also exact)
  }
  if (m < kSqrtHalf) {
    m *= 2.0;  // exact
    --exponent;
  }
  // log(m) = 2 atanh(s) with s = (m-1)/(m+1); |s| <= 0.172 on [sqrt(1/2), sqrt(2)).
  const double s = (m - 1.0) / (m + 1.0);
  const double s2 = s * s;
  double sum = 0.0;
  for (int k = kLogTerms - 1; k >= 0; --k) sum = sum * s2 + kOddReciprocals[k];
  return 2.0 * s * sum + exponent * kLn2;
}

double exp(double x) {
  if (std::isnan(x)) return x;
  // x = k ln2 + r with |r| <= ln2/2, e^x = 2^k e^r; ldexp is exact.
  const double k = std::floor(x / kLn2 + 0.5);
  const double r = x - k * kLn2;
  double sum = 1.0;
  for (int n = kExpTerms; n >= 1; --n) sum = 1.0 + sum * r / n;
  return std::ldexp(sum, static_cast<int>(k));
}

void sincos_deg(double degrees, double* sine, double* cosine) {
  // Reduce in degrees so that multiples of 90 leave an exact zero remainder.
  const double quarter = std::floor(degrees / kQuarterTurnDeg + 0.5);
  const double r = (degrees - quarter * kQuarterTurnDeg) * (kPi / kHalfTurnDeg);
  const double r2 = r * r;
  double s = 1.0;
  double c = 1.0;
  for (int n = kTrigTerms; n >= 1; --n) {
    s = 1.0 - s * r2 / ((2.0 * n) * (2.0 * n + 1.0));
    c = 1.0 - c * r2 / ((2.0 * n - 1.0) * (2.0 * n));
  }
  s *= r;
  // Quadrant 0..3 of the remaining quarter turns.
  const long q = static_cast<long>(quarter) % 4;
  const int quadrant = static_cast<int>(q < 0 ? q + 4 : q);
  switch (quadrant) {
    case 0:
      *sine = s;
      *cosine = c;
      break;
    case 1:
      *sine = c;
      *cosine = -s;
      break;
    case 2:
      *sine = -s;
      *cosine = -c;
      break;
    default:
      *sine = -c;
      *cosine = s;
      break;
  }
  // Avoid a negative zero in matrices written to headers.
  if (*sine == 0.0) *sine = 0.0;
  if (*cosine == 0.0) *cosine = 0.0;
}

}  // namespace aslseg::synth::detmath
