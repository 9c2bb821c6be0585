// synthesize_lesion: the ellipsoid's sections land on the liver only, with the drawn contrast
// added (texture kept) and the half-way pixels labelled tumour; its area follows the radius
// and the slice spacing; a section beyond the radius leaves its channel untouched.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "aslseg/ssl/lesion_synth.h"

namespace aslseg::ssl {
namespace {

constexpr int64_t kSide = 40;
constexpr int64_t kPlane = kSide * kSide;
constexpr double kPi = 3.14159265358979323846;

struct Stack {
  std::vector<std::vector<float>> image;
  std::vector<std::vector<uint8_t>> label;
  explicit Stack(int channels)
      : image(static_cast<size_t>(channels), std::vector<float>(kPlane, 0.5f)),
        label(static_cast<size_t>(channels), std::vector<uint8_t>(kPlane, 1)) {}
  LabelledStack view() const {
    LabelledStack s;
    for (size_t c = 0; c < image.size(); ++c) {
      s.channels.push_back(image[c].data());
      s.labels.push_back(label[c].data());
    }
    s.height = kSide;
    s.width = kSide;
    s.centre = static_cast<int64_t>(image.size() / 2);
    return s;
  }
};

SynthDraw round_lesion(double radius_mm, double contrast) {
  SynthDraw d;
  d.centre_x = 20.0;
  d.centre_y = 20.0;
  d.radius_mm = radius_mm;
  d.contrast = contrast;
  return d;
}

int64_t count(const std::vector<uint8_t>& label, uint8_t value) {
  int64_t n = 0;
  for (uint8_t v : label) n += v == value ? 1 : 0;
  return n;
}

TEST(LesionSynth, RoundLesionHasTheAreaOfItsRadiusAndTheDrawnContrast) {
  Stack s(3);
  // Texture: a checkerboard of +-0.02 the lesion must keep.
  for (auto& plane : s.image)
    for (int64_t i = 0; i < kPlane; ++i)
      plane[static_cast<size_t>(i)] += ((i / kSide + i % kSide) % 2 == 0) ? 0.02f : -0.02f;
  std::vector<float> out(3 * kPlane);
  std::vector<uint8_t> out_label(kPlane);
  const StackSpacing spacing{2.0, 5.0};  // mm
  const double radius_mm = 12.0;         // 6 px; sections at +-5 mm: sqrt(144 - 25) = 10.9 mm
  const int64_t labelled = synthesize_lesion(s.view(), spacing, round_lesion(radius_mm, -0.3),
                                             out.data(), out_label.data());
  const double expected = kPi * 6.0 * 6.0;  // 113 px
  EXPECT_EQ(labelled, count(out_label, 2));
  EXPECT_NEAR(static_cast<double>(labelled), expected, 0.08 * expected);
  // Deep inside: recipient + contrast exactly; far outside: the recipient.
  const auto at = [&](int64_t c, int64_t x, int64_t y) {
    return out[static_cast<size_t>(c * kPlane + y * kSide + x)];
  };
  const auto in = [&](int64_t c, int64_t x, int64_t y) {
    return s.image[static_cast<size_t>(c)][static_cast<size_t>(y * kSide + x)];
  };
  EXPECT_FLOAT_EQ(at(1, 20, 20), in(1, 20, 20) - 0.3f);
  EXPECT_FLOAT_EQ(at(1, 21, 20), in(1, 21, 20) - 0.3f);
  EXPECT_FLOAT_EQ(at(1, 30, 20), in(1, 30, 20));
  // The neighbouring slices carry the smaller section (5.4 px).
  EXPECT_FLOAT_EQ(at(0, 24, 20), in(0, 24, 20) - 0.3f);
  EXPECT_FLOAT_EQ(at(0, 26, 20), in(0, 26, 20));
  EXPECT_FLOAT_EQ(at(1, 25, 20), in(1, 25, 20) - 0.3f);
  // The 1-px soft edge: the pixel on the boundary gets half the contrast.
  EXPECT_NEAR(at(1, 26, 20), in(1, 26, 20) - 0.15f, 1e-6);
}

TEST(LesionSynth, StaysInsideTheLiverAndWithinItsRadiusInZ) {
  Stack s(3);
  for (int c = 0; c < 3; ++c)
    for (int64_t y = 0; y < kSide; ++y)
      for (int64_t x = 0; x < 20; ++x) s.label[c][static_cast<size_t>(y * kSide + x)] = 0;
  std::vector<float> out(3 * kPlane);
  std::vector<uint8_t> out_label(kPlane);
  const StackSpacing spacing{2.0, 5.0};
  // Radius 4 mm < slice spacing: the neighbouring channels are not reached.
  const int64_t labelled =
      synthesize_lesion(s.view(), spacing, round_lesion(4.0, 0.4), out.data(), out_label.data());
  EXPECT_GT(labelled, 0);
  for (int64_t y = 0; y < kSide; ++y)
    for (int64_t x = 0; x < kSide; ++x) {
      const size_t i = static_cast<size_t>(y * kSide + x);
      if (x < 20) {
        EXPECT_EQ(out_label[i], 0) << x << "," << y;
        EXPECT_EQ(out[kPlane + i], s.image[1][i]) << x << "," << y;
      }
      EXPECT_EQ(out[i], s.image[0][i]);
      EXPECT_EQ(out[2 * kPlane + i], s.image[2][i]);
    }
  // Bright lesions saturate at the window's top, never beyond.
  const int64_t again =
      synthesize_lesion(s.view(), spacing, round_lesion(4.0, 0.9), out.data(), out_label.data());
  EXPECT_EQ(again, labelled);
  EXPECT_FLOAT_EQ(out[kPlane + 20 * kSide + 21], 1.0f);
}

TEST(LesionSynth, ElongationAndIrregularityKeepTheAreaNearlyAndRejectBadDraws) {
  Stack s(1);
  std::vector<float> out(kPlane);
  std::vector<uint8_t> out_label(kPlane);
  const StackSpacing spacing{1.0, 1.0};
  SynthDraw d = round_lesion(8.0, -0.2);
  const int64_t round = synthesize_lesion(s.view(), spacing, d, out.data(), out_label.data());
  d.elongation = 1.5;  // an ellipse of semi-axes 12 and 5.3: the same area
  d.angle_rad = 0.5;
  const int64_t ellipse = synthesize_lesion(s.view(), spacing, d, out.data(), out_label.data());
  EXPECT_NEAR(static_cast<double>(ellipse), static_cast<double>(round), 0.08 * round);
  // Wider along its long axis than across it.
  int64_t along = 0, across = 0;
  for (int64_t k = -15; k <= 15; ++k) {
    const auto label_at = [&](double dx, double dy) {
      const int64_t x = static_cast<int64_t>(std::lround(20.0 + dx));
      const int64_t y = static_cast<int64_t>(std::lround(20.0 + dy));
      return out_label[static_cast<size_t>(y * kSide + x)] == 2 ? 1 : 0;
    };
    along += label_at(k * std::cos(0.5), k * std::sin(0.5));
    across += label_at(-k * std::sin(0.5), k * std::cos(0.5));
  }
  EXPECT_GT(along, across + 8);
  d.radius_mm = 0.0;
  EXPECT_THROW(synthesize_lesion(s.view(), spacing, d, out.data(), out_label.data()),
               std::invalid_argument);
}

}  // namespace
}  // namespace aslseg::ssl
