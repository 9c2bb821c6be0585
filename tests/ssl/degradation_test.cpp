// Image degradations of the training slices (nnU-Net's GaussianNoise / GaussianBlur): the noise
// has the drawn sigma and repeats from its seed, the blur is a normalised Gaussian that keeps
// flat regions flat, and neither touches padding or labels.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "aslseg/ssl/augment.h"

namespace aslseg::ssl {
namespace {

constexpr int64_t kSide = 96;
constexpr int64_t kPad = 8;  // columns of padding (valid 0) on the left

struct Plane {
  std::vector<float> image;
  std::vector<uint8_t> label;
  std::vector<uint8_t> valid;
};

// A flat plane of `value` whose first kPad columns are padding (image 0 there, as prepare
// leaves padding), labels 1 in the right half.
Plane flat_plane(float value) {
  Plane p;
  p.image.assign(kSide * kSide, value);
  p.label.assign(kSide * kSide, 0);
  p.valid.assign(kSide * kSide, 1);
  for (int64_t y = 0; y < kSide; ++y)
    for (int64_t x = 0; x < kSide; ++x) {
      if (x < kPad) {
        p.valid[y * kSide + x] = 0;
        p.image[y * kSide + x] = 0.0f;
      }
      if (x >= kSide / 2) p.label[y * kSide + x] = 1;
    }
  return p;
}

struct Rendered {
  std::vector<float> image;
  std::vector<int64_t> label;
  std::vector<float> valid;
};

Rendered render(const Plane& p, const AugmentDraw& draw) {
  SliceInput in;
  in.channels = {p.image.data()};
  in.label = p.label.data();
  in.valid = p.valid.data();
  in.height = kSide;
  in.width = kSide;
  Rendered r;
  r.image.assign(kSide * kSide, -1.0f);
  r.label.assign(kSide * kSide, -1);
  r.valid.assign(kSide * kSide, -1.0f);
  render_sample(in, &draw, SliceOutput{r.image.data(), r.label.data(), r.valid.data()});
  return r;
}

TEST(Degradation, NoiseHasTheDrawnSigmaAndRepeatsFromItsSeed) {
  const Plane p = flat_plane(0.5f);
  AugmentDraw draw;
  draw.degradation.noise_sigma = 0.05;
  draw.degradation.noise_seed = 1234;
  const Rendered a = render(p, draw);
  double sum = 0.0, sum2 = 0.0;
  int64_t n = 0;
  for (int64_t i = 0; i < kSide * kSide; ++i) {
    EXPECT_EQ(a.label[i], p.label[i]);
    if (p.valid[i] == 0) {
      ASSERT_EQ(a.image[i], 0.0f) << "padding got noise at " << i;
      continue;
    }
    sum += a.image[i];
    sum2 += static_cast<double>(a.image[i]) * a.image[i];
    ++n;
  }
  const double mean = sum / static_cast<double>(n);
  const double sd = std::sqrt(sum2 / static_cast<double>(n) - mean * mean);
  // 8448 samples: the standard error of the mean is 0.0005 and of the sd ~0.0004.
  EXPECT_NEAR(mean, 0.5, 0.003);
  EXPECT_NEAR(sd, 0.05, 0.002);

  EXPECT_EQ(render(p, draw).image, a.image) << "same seed, same noise";
  draw.degradation.noise_seed = 1235;
  EXPECT_NE(render(p, draw).image, a.image) << "another seed, other noise";
}

TEST(Degradation, BlurIsANormalisedGaussianThatKeepsFlatRegionsAndPadding) {
  // An impulse far from every edge: the output is the 2D kernel, exp(-r^2 / 2 s^2) / Z^2 with
  // Z the 1D kernel's sum over |i| <= ceil(3 s).
  Plane p = flat_plane(0.0f);
  const int64_t cy = kSide / 2, cx = kSide / 2;
  p.image[cy * kSide + cx] = 1.0f;
  AugmentDraw draw;
  const double sigma = 1.0;
  draw.degradation.blur_sigma_px = sigma;
  const Rendered r = render(p, draw);
  double z = 0.0;
  for (int i = -3; i <= 3; ++i) z += std::exp(-0.5 * i * i / (sigma * sigma));
  EXPECT_NEAR(r.image[cy * kSide + cx], 1.0 / (z * z), 1e-6);
  EXPECT_NEAR(r.image[cy * kSide + cx + 1], std::exp(-0.5) / (z * z), 1e-6);
  EXPECT_NEAR(r.image[(cy + 2) * kSide + cx + 1], std::exp(-2.5) / (z * z), 1e-6);
  EXPECT_EQ(r.image[cy * kSide + cx + 4], 0.0f) << "beyond the kernel's reach";

  // Flat body next to padding: the padding's zeros must not darken the body's edge, and the
  // padding must stay 0.
  const Plane flat = flat_plane(0.7f);
  const Rendered f = render(flat, draw);
  for (int64_t y = 0; y < kSide; ++y)
    for (int64_t x = 0; x < kSide; ++x) {
      const int64_t i = y * kSide + x;
      if (x < kPad)
        ASSERT_EQ(f.image[i], 0.0f) << "padding changed at x=" << x;
      else
        ASSERT_NEAR(f.image[i], 0.7f, 1e-6) << "flat region changed at x=" << x << " y=" << y;
      ASSERT_EQ(f.label[i], flat.label[i]);
    }
}

TEST(Degradation, IdentityDrawLeavesTheSampleAsItIs) {
  const Plane p = flat_plane(0.25f);
  const Rendered r = render(p, AugmentDraw{});
  for (int64_t i = 0; i < kSide * kSide; ++i) ASSERT_EQ(r.image[i], p.image[i]);
}

}  // namespace
}  // namespace aslseg::ssl
