// Deterministic replacements for log, exp, sin and cos: built from + - * / and exact
// frexp/ldexp only, so phantoms are bit-identical whatever libm the binary links against
// (libm's transcendental functions are only promised to within an ulp or so).
#pragma once

namespace aslseg::synth::detmath {

// Natural logarithm for x > 0 (relative error ~1e-15); x <= 0 yields NaN.
double log(double x);

// e^x, relative error ~1e-15 for |x| < 700.
double exp(double x);

// sin and cos of an angle given in degrees. Multiples of 90 degrees are exact, so a
// rotation of 90 or 180 degrees gives an exact permutation matrix.
void sincos_deg(double degrees, double* sine, double* cosine);

}  // namespace aslseg::synth::detmath
