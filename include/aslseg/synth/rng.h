// Portable random numbers for phantoms: splitmix64 hashing and a xoshiro256** generator with
// our own uniform, integer and normal draws. The std:: distributions are deliberately not
// used: their output is implementation-defined, and phantoms must be bit-identical on every
// machine for a given seed.
#pragma once

#include <cstdint>

#include "aslseg/synth/vec3.h"

namespace aslseg::synth {

// The splitmix64 finaliser: a bijective 64-bit mix with good avalanche.
uint64_t mix64(uint64_t x);

// Hash of a key and one or more integers; used for counter-based randomness (noise lattices,
// per-voxel noise) whose value must not depend on evaluation order.
uint64_t hash_combine(uint64_t key, uint64_t value);
uint64_t hash3(uint64_t key, int64_t a, int64_t b, int64_t c);

// Uniform double in [0, 1) from the top 53 bits of a 64-bit word.
double to_unit(uint64_t bits);

// Element `index` of the splitmix64 stream started at `key`: counter-based randomness, for
// per-voxel noise that must not depend on evaluation order.
uint64_t splitmix_at(uint64_t key, uint64_t index);

// N(0, 1) by inversion: the normal quantile of the uniform in (0, 1) held by the top 52 bits
// (Acklam's rational approximation, relative error < 1.2e-9; only + - * / sqrt and our log).
double normal_from_bits(uint64_t bits);

// Seed of case `index` in a set generated with `seed`: case 3 is the same whether 5 or 50
// cases are asked for.
uint64_t case_seed(uint64_t seed, uint64_t index);

// Independent streams within one case (anatomy, tumours, noise ...), so adding a draw to one
// part of the phantom does not change the others.
enum class Stream : uint64_t {
  kAnatomy = 1,
  kLiver = 2,
  kVessels = 3,
  kTumours = 4,
  kTexture = 5,
  kNoise = 6,
};
uint64_t stream_seed(uint64_t case_seed, Stream stream);

// xoshiro256** (Blackman & Vigna), state seeded through splitmix64.
class Rng {
 public:
  explicit Rng(uint64_t seed);

  uint64_t next();
  double uniform();                      // [0, 1)
  double uniform(double lo, double hi);  // [lo, hi)
  int uniform_int(int lo, int hi);       // inclusive, unbiased
  bool bernoulli(double p);
  double normal();  // N(0, 1), by inversion
  double log_uniform(double lo, double hi);
  Vec3 unit_vector();  // uniform on the sphere, by rejection

 private:
  uint64_t s_[4];
};

}  // namespace aslseg::synth
