#include "aslseg/synth/rng.h"

#include <cmath>

#include "aslseg/synth/detmath.h"

namespace aslseg::synth {

namespace {
constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;
constexpr uint64_t kCaseSalt = 0xC0FFEE5EEDCA5E00ULL;
constexpr double kTwoPow53Inv = 1.0 / 9007199254740992.0;  // 2^-53
constexpr double kTwoPow52Inv = 1.0 / 4503599627370496.0;  // 2^-52

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// Inverse normal CDF coefficients from P. J. Acklam, "An algorithm for computing the inverse
// normal cumulative distribution function" (2003); relative error below 1.15e-9.
constexpr double kA[6] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                          1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
constexpr double kB[5] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                          6.680131188771972e+01, -1.328068155288572e+01};
constexpr double kC[6] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                          -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
constexpr double kD[4] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                          3.754408661907416e+00};
constexpr double kTail = 0.02425;  // below this probability the tail formula is used

// Lower-tail quantile for p < kTail.
double tail_quantile(double p) {
  const double q = std::sqrt(-2.0 * detmath::log(p));
  return (((((kC[0] * q + kC[1]) * q + kC[2]) * q + kC[3]) * q + kC[4]) * q + kC[5]) /
         ((((kD[0] * q + kD[1]) * q + kD[2]) * q + kD[3]) * q + 1.0);
}
}  // namespace

uint64_t mix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t hash_combine(uint64_t key, uint64_t value) { return mix64(key ^ mix64(value + kGolden)); }

uint64_t hash3(uint64_t key, int64_t a, int64_t b, int64_t c) {
  uint64_t h = hash_combine(key, static_cast<uint64_t>(a));
  h = hash_combine(h, static_cast<uint64_t>(b));
  return hash_combine(h, static_cast<uint64_t>(c));
}

double to_unit(uint64_t bits) { return static_cast<double>(bits >> 11) * kTwoPow53Inv; }

uint64_t case_seed(uint64_t seed, uint64_t index) {
  return hash_combine(mix64(seed ^ kCaseSalt), index);
}

uint64_t stream_seed(uint64_t case_seed_value, Stream stream) {
  return hash_combine(case_seed_value, static_cast<uint64_t>(stream));
}

Rng::Rng(uint64_t seed) {
  uint64_t x = seed;
  for (uint64_t& s : s_) {
    x += kGolden;
    s = mix64(x);
  }
}

uint64_t Rng::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return to_unit(next()); }

double Rng::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

int Rng::uniform_int(int lo, int hi) {
  if (hi <= lo) return lo;
  const uint64_t range = static_cast<uint64_t>(hi - lo) + 1;
  // Rejection of the top partial block keeps every value equally likely.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
  uint64_t x = 0;
  do {
    x = next();
  } while (x >= limit);
  return lo + static_cast<int>(x % range);
}

bool Rng::bernoulli(double p) { return uniform() < p; }

double Rng::normal() { return normal_from_bits(next()); }

double Rng::log_uniform(double lo, double hi) {
  return lo * detmath::exp(uniform() * detmath::log(hi / lo));
}

Vec3 Rng::unit_vector() {
  Vec3 v;
  double n2 = 0.0;
  do {
    v = {uniform(-1.0, 1.0), uniform(-1.0, 1.0), uniform(-1.0, 1.0)};
    n2 = v.norm2();
  } while (n2 > 1.0 || n2 < 1e-6);
  return v * (1.0 / std::sqrt(n2));
}

uint64_t splitmix_at(uint64_t key, uint64_t index) { return mix64(key + (index + 1) * kGolden); }

double normal_from_bits(uint64_t bits) {
  // p in (0, 1), never 0 or 1: the centre of one of 2^52 equal bins (with 53 bits the top
  // centre would round to 1).
  const double p = (static_cast<double>(bits >> 12) + 0.5) * kTwoPow52Inv;
  if (p < kTail) return tail_quantile(p);
  if (p > 1.0 - kTail) return -tail_quantile(1.0 - p);  // 1 - p is exact here
  const double q = p - 0.5;
  const double r = q * q;
  return (((((kA[0] * r + kA[1]) * r + kA[2]) * r + kA[3]) * r + kA[4]) * r + kA[5]) * q /
         (((((kB[0] * r + kB[1]) * r + kB[2]) * r + kB[3]) * r + kB[4]) * r + 1.0);
}

}  // namespace aslseg::synth
