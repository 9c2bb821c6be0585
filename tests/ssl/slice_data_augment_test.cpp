// Augmentation of training slices: image, label and valid mask move together; flips are exact
// permutations; intensity jitter touches valid pixels only; and the cost of a batch.
#include <gtest/gtest.h>

#include <time.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <stdexcept>
#include <vector>

#include "ssl/slice_data_test_util.h"

namespace aslseg::ssl {
namespace {

using testing::bitwise_equal;

constexpr int64_t kSide = 48;
constexpr int64_t kSamples = 32;

std::vector<PreparedVolume> half_label_volumes() {
  testing::CodedVolumeSpec spec;
  spec.side = kSide;
  spec.depth = 6;
  spec.tumour_slices = {1, 2, 3, 4};
  spec.image_is_half_label = true;
  return {testing::coded_volume(spec)};
}

SliceDataParams geometric_only() {
  SliceDataParams p;
  p.image_size = kSide;
  p.context = 0;
  p.tumour_slice_fraction = 0.75;
  p.augment.flip = true;
  p.augment.rotate_deg = 10.0;
  p.augment.scale = 0.1;
  p.augment.intensity_scale = 0.0;
  p.augment.intensity_shift = 0.0;
  return p;
}

// With image = label / 2, one affine applied to both keeps image * 2 == label. Where the
// bilinear footprint (the 2x2 source pixels around the sample point) holds one label and one
// valid value, nearest picks one of those four pixels, so the equality must be exact there;
// elsewhere (label edges) bilinear blends while nearest picks, and no exact rule holds.
TEST(SliceDataAugment, GeometryMovesImageLabelAndValidTogether) {
  const auto volumes = half_label_volumes();
  const SliceDataParams p = geometric_only();
  SliceDataParams plain = p;
  plain.augment.enabled = false;
  const Batch b = make_batch(volumes, true, kSamples, p, 17, 0);
  const Batch ref = make_batch(volumes, true, kSamples, plain, 17, 0);
  const PreparedVolume& v = volumes[0];
  int64_t checked = 0;
  int64_t changed_samples = 0;
  for (int64_t i = 0; i < kSamples; ++i) {
    const SampleChoice c = choose_sample(volumes, true, p, 17, 0, i);
    const SourceMap map = source_map(c.augment.affine, kSide, kSide);
    // Named tensors: accessors must not outlive the tensor they view.
    const torch::Tensor src_label_t = v.label[c.slice];
    const torch::Tensor src_valid_t = v.valid[c.slice];
    const torch::Tensor img_t = b.image[i][0];
    const torch::Tensor lab_t = b.label[i];
    const torch::Tensor val_t = b.valid[i];
    const auto src_label = src_label_t.accessor<uint8_t, 2>();
    const auto src_valid = src_valid_t.accessor<uint8_t, 2>();
    const auto img = img_t.accessor<float, 2>();
    const auto lab = lab_t.accessor<int64_t, 2>();
    const auto val = val_t.accessor<float, 2>();
    changed_samples += bitwise_equal(b.label[i], ref.label[i]) ? 0 : 1;
    for (int64_t y = 0; y < kSide; ++y) {
      for (int64_t x = 0; x < kSide; ++x) {
        double sx = 0.0;
        double sy = 0.0;
        map.source(static_cast<double>(x), static_cast<double>(y), &sx, &sy);
        const int64_t rx = static_cast<int64_t>(std::floor(sx + 0.5));
        const int64_t ry = static_cast<int64_t>(std::floor(sy + 0.5));
        if (rx < 0 || ry < 0 || rx >= kSide || ry >= kSide) {
          // Sampled from outside the slice: padding.
          EXPECT_EQ(img[y][x], 0.0f);
          EXPECT_EQ(lab[y][x], 0);
          EXPECT_EQ(val[y][x], 0.0f);
          continue;
        }
        const int64_t x0 = static_cast<int64_t>(std::floor(sx));
        const int64_t y0 = static_cast<int64_t>(std::floor(sy));
        if (x0 < 0 || y0 < 0 || x0 + 1 >= kSide || y0 + 1 >= kSide) continue;
        const uint8_t l = src_label[y0][x0];
        const uint8_t m = src_valid[y0][x0];
        bool uniform = true;
        for (int64_t dy = 0; dy <= 1; ++dy) {
          for (int64_t dx = 0; dx <= 1; ++dx) {
            uniform =
                uniform && src_label[y0 + dy][x0 + dx] == l && src_valid[y0 + dy][x0 + dx] == m;
          }
        }
        if (!uniform) continue;
        ++checked;
        ASSERT_EQ(lab[y][x], l) << i << " " << x << "," << y;
        ASSERT_EQ(val[y][x], static_cast<float>(m)) << i << " " << x << "," << y;
        ASSERT_EQ(img[y][x] * 2.0f, static_cast<float>(m ? l : 0)) << i << " " << x << "," << y;
      }
    }
  }
  // Non-vacuous. Excluded are the ~2-pixel bands along the edges of the valid disc, the liver
  // disc and the tumour square (about a quarter of a 48x48 slice) and the slice border; the
  // rest, about three quarters, is checked.
  EXPECT_GT(checked, kSamples * kSide * kSide * 2 / 3);
  EXPECT_GT(changed_samples, kSamples * 3 / 4);
}

TEST(SliceDataAugment, DrawsStayInTheirRanges) {
  const auto volumes = half_label_volumes();
  SliceDataParams p = geometric_only();
  p.augment.intensity_scale = 0.1;
  p.augment.intensity_shift = 0.05;
  int flips_x = 0;
  int flips_y = 0;
  double max_angle = 0.0;
  for (int64_t i = 0; i < 200; ++i) {
    const AugmentDraw d = choose_sample(volumes, true, p, 1, 0, i).augment;
    EXPECT_LE(std::abs(d.affine.angle_deg), 10.0);
    EXPECT_GE(d.affine.scale, 0.9);
    EXPECT_LE(d.affine.scale, 1.1);
    EXPECT_GE(d.intensity.multiplier, 0.9f);
    EXPECT_LE(d.intensity.multiplier, 1.1f);
    EXPECT_LE(std::abs(d.intensity.shift), 0.05f);
    flips_x += d.affine.flip_x ? 1 : 0;
    flips_y += d.affine.flip_y ? 1 : 0;
    max_angle = std::max(max_angle, std::abs(d.affine.angle_deg));
  }
  EXPECT_GT(flips_x, 60);  // ~ Binomial(200, 0.5)
  EXPECT_LT(flips_x, 140);
  EXPECT_GT(flips_y, 60);
  EXPECT_LT(flips_y, 140);
  EXPECT_GT(max_angle, 8.0);
  p.augment.enabled = false;
  EXPECT_TRUE(choose_sample(volumes, true, p, 1, 0, 0).augment.affine.is_identity());
}

// Noise and blur draw from a generator of their own: switching them on keeps every other draw
// of the sample (affine, intensity, patch, lesion) as it was, and their values stay in range.
TEST(SliceDataAugment, DegradationsKeepTheOtherDrawsAndTheirRanges) {
  const auto volumes = half_label_volumes();
  const SliceDataParams plain = geometric_only();
  SliceDataParams degraded = plain;
  degraded.augment.noise_probability = 0.5;
  degraded.augment.noise_max = 0.08;
  degraded.augment.blur_probability = 0.5;
  degraded.augment.blur_max_px = 1.5;
  int noisy = 0;
  int blurred = 0;
  for (int64_t i = 0; i < 200; ++i) {
    const SampleChoice a = choose_sample(volumes, true, plain, 3, 0, i);
    const SampleChoice b = choose_sample(volumes, true, degraded, 3, 0, i);
    ASSERT_TRUE(a.augment.degradation.is_identity());
    ASSERT_EQ(a.slice, b.slice);
    ASSERT_EQ(a.augment.affine.angle_deg, b.augment.affine.angle_deg);
    ASSERT_EQ(a.augment.affine.scale, b.augment.affine.scale);
    ASSERT_EQ(a.augment.intensity.shift, b.augment.intensity.shift);
    const Degradation& d = b.augment.degradation;
    EXPECT_GE(d.noise_sigma, 0.0);
    EXPECT_LE(d.noise_sigma, 0.08);
    if (d.blur_sigma_px > 0.0) {
      EXPECT_GE(d.blur_sigma_px, 0.5);
      EXPECT_LE(d.blur_sigma_px, 1.5);
    }
    noisy += d.noise_sigma > 0.0 ? 1 : 0;
    blurred += d.blur_sigma_px > 0.0 ? 1 : 0;
  }
  EXPECT_GT(noisy, 60);  // ~ Binomial(200, 0.5)
  EXPECT_LT(noisy, 140);
  EXPECT_GT(blurred, 60);
  EXPECT_LT(blurred, 140);

  SliceDataParams bad = degraded;
  bad.augment.blur_max_px = 10.0;
  EXPECT_THROW(choose_sample(volumes, true, bad, 3, 0, 0), std::invalid_argument);
  bad = degraded;
  bad.augment.noise_probability = 1.5;
  EXPECT_THROW(choose_sample(volumes, true, bad, 3, 0, 0), std::invalid_argument);
}

// Flips alone are pixel permutations: exactly torch::flip of the plain sample.
TEST(SliceDataAugment, FlipsAreExactPermutations) {
  auto volumes = testing::coded_set(kSide);
  SliceDataParams p = geometric_only();
  p.context = 1;
  p.augment.rotate_deg = 0.0;
  p.augment.scale = 0.0;
  SliceDataParams plain = p;
  plain.augment.enabled = false;
  const Batch b = make_batch(volumes, true, kSamples, p, 23, 4);
  const Batch ref = make_batch(volumes, true, kSamples, plain, 23, 4);
  bool seen[2][2] = {{false, false}, {false, false}};
  for (int64_t i = 0; i < kSamples; ++i) {
    const SliceAffine a = choose_sample(volumes, true, p, 23, 4, i).augment.affine;
    seen[a.flip_x][a.flip_y] = true;
    std::vector<int64_t> dims;
    if (a.flip_y) dims.push_back(-2);
    if (a.flip_x) dims.push_back(-1);
    auto flip = [&dims](const torch::Tensor& t) { return dims.empty() ? t : torch::flip(t, dims); };
    EXPECT_TRUE(bitwise_equal(b.image[i], flip(ref.image[i]))) << i;
    EXPECT_TRUE(bitwise_equal(b.label[i], flip(ref.label[i]))) << i;
    EXPECT_TRUE(bitwise_equal(b.valid[i], flip(ref.valid[i]))) << i;
  }
  for (const auto& row : seen) {
    for (bool s : row) EXPECT_TRUE(s);  // all four flip combinations occurred
  }
}

TEST(SliceDataAugment, IntensityJitterOnlyOnValidPixels) {
  auto volumes = testing::coded_set(kSide);
  SliceDataParams p = geometric_only();
  p.augment.flip = false;
  p.augment.rotate_deg = 0.0;
  p.augment.scale = 0.0;
  p.augment.intensity_scale = 0.1;
  p.augment.intensity_shift = 0.05;
  SliceDataParams plain = p;
  plain.augment.enabled = false;
  const Batch b = make_batch(volumes, true, kSamples, p, 29, 2);
  const Batch ref = make_batch(volumes, true, kSamples, plain, 29, 2);
  EXPECT_TRUE(bitwise_equal(b.label, ref.label));
  EXPECT_TRUE(bitwise_equal(b.valid, ref.valid));
  for (int64_t i = 0; i < kSamples; ++i) {
    const IntensityJitter j = choose_sample(volumes, true, p, 29, 2, i).augment.intensity;
    const torch::Tensor valid = ref.valid[i].to(torch::kBool);
    const torch::Tensor expected =
        torch::where(valid, (ref.image[i] * j.multiplier + j.shift).clamp(0.0, 1.0), ref.image[i]);
    EXPECT_TRUE(torch::allclose(b.image[i], expected, 0.0, 1e-6)) << i;
    // Padding stays exactly 0.
    EXPECT_EQ(b.image[i].masked_select(~valid).abs().max().item<float>(), 0.0f) << i;
  }
}

double thread_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return 1e3 * static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_nsec);
}

// Cost of one training batch (8 x 3 x 128 x 128 with every augmentation on). Thread CPU time
// is reported besides wall time: on a busy machine the wall time mostly measures the others.
TEST(SliceDataSpeed, MakeBatch8At128) {
  const auto volumes = testing::coded_set(128);
  SliceDataParams p;
  p.image_size = 128;
  p.context = 1;
  constexpr int kRepeats = 50;
  make_batch(volumes, true, 8, p, 0, 0);  // warm-up (allocator)
  const double cpu_start = thread_cpu_ms();
  const auto start = std::chrono::steady_clock::now();
  for (int s = 0; s < kRepeats; ++s) make_batch(volumes, true, 8, p, 0, s);
  const double wall =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() /
      kRepeats;
  const double cpu = (thread_cpu_ms() - cpu_start) / kRepeats;
  std::cout << "make_batch 8x3x128x128 augmented: " << wall << " ms wall, " << cpu << " ms CPU\n";
  RecordProperty("make_batch_ms", std::to_string(wall));
  // Generous: a few ms on one core; a debug or sanitizer build is ~10x slower.
  EXPECT_LT(cpu, 100.0);
}

}  // namespace
}  // namespace aslseg::ssl
