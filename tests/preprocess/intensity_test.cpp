#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "aslseg/preprocess/intensity.h"
#include "aslseg/preprocess/invalid_mask.h"

namespace pp = aslseg::preprocess;

namespace {
aslseg::Image row_image(const std::vector<float>& values) {
  aslseg::Geometry g;
  g.size = {static_cast<int64_t>(values.size()), 1, 1};
  aslseg::Image img(g);
  img.voxels = values;
  return img;
}
}  // namespace

TEST(PreprocessIntensity, WindowMapsBoundsAndLevel) {
  const pp::WindowParams w{60.0f, 400.0f};
  EXPECT_FLOAT_EQ(w.lower(), -140.0f);
  EXPECT_FLOAT_EQ(w.upper(), 260.0f);
  EXPECT_FLOAT_EQ(pp::window_value(-140.0f, w), 0.0f);
  EXPECT_FLOAT_EQ(pp::window_value(260.0f, w), 1.0f);
  EXPECT_FLOAT_EQ(pp::window_value(60.0f, w), 0.5f);
  EXPECT_FLOAT_EQ(pp::window_value(-40.0f, w), 0.25f);
  // Clipping on both sides.
  EXPECT_FLOAT_EQ(pp::window_value(-1000.0f, w), 0.0f);
  EXPECT_FLOAT_EQ(pp::window_value(3000.0f, w), 1.0f);
  EXPECT_FLOAT_EQ(pp::window_value(std::numeric_limits<float>::quiet_NaN(), w), 0.0f);
}

TEST(PreprocessIntensity, DefaultWindowIsLiverPreset) {
  const pp::WindowParams def;
  const pp::WindowParams liver = pp::window_preset("liver");
  EXPECT_EQ(def.level, liver.level);
  EXPECT_EQ(def.width, liver.width);
  const pp::WindowParams abdomen = pp::window_preset("abdomen");
  EXPECT_FLOAT_EQ(abdomen.lower(), -150.0f);
  EXPECT_FLOAT_EQ(abdomen.upper(), 250.0f);
  EXPECT_THROW(pp::window_preset("lung-ish"), std::invalid_argument);
  EXPECT_EQ(pp::window_preset_names().size(), 2u);
}

TEST(PreprocessIntensity, RejectsBadWindow) {
  const aslseg::Image img = row_image({0.0f});
  EXPECT_THROW(pp::apply_window(img, pp::WindowParams{60.0f, 0.0f}), std::invalid_argument);
  EXPECT_THROW(pp::apply_window(img, pp::WindowParams{60.0f, -10.0f}), std::invalid_argument);
  EXPECT_THROW(pp::apply_window(img, pp::WindowParams{NAN, 400.0f}), std::invalid_argument);
}

TEST(PreprocessIntensity, InvalidVoxelsAreFlagged) {
  pp::InvalidMaskParams p;
  p.padding_value_hu = -1024.0f;
  const aslseg::Image img =
      row_image({-3024.0f, -2000.0f, -1999.0f, -1024.0f, -1000.0f, 40.0f, NAN});
  const aslseg::LabelMap valid = pp::valid_mask(img, p);
  const std::vector<uint8_t> expected{0, 0, 1, 0, 1, 1, 0};
  EXPECT_EQ(valid.voxels, expected);
  EXPECT_EQ(pp::count_valid(valid), 3);
  // Without a padding value, -1024 is ordinary air.
  EXPECT_EQ(pp::valid_mask(img).voxels[3], 1);
}

TEST(PreprocessIntensity, InvalidVoxelsEndAtAirAfterWindowing) {
  // A padding value that lies inside the window: only the mask can send it to 0.
  pp::InvalidMaskParams p;
  p.padding_value_hu = 100.0f;
  const aslseg::Image img = row_image({-3024.0f, 100.0f, 60.0f, 100.5f});
  const aslseg::LabelMap valid = pp::valid_mask(img, p);
  const aslseg::Image w = pp::apply_window(img, valid);
  EXPECT_EQ(w.voxels[0], 0.0f);
  EXPECT_EQ(w.voxels[1], 0.0f);
  EXPECT_FLOAT_EQ(w.voxels[2], 0.5f);
  EXPECT_GT(w.voxels[3], 0.5f);
  EXPECT_EQ(w.geometry.size, img.geometry.size);
}

TEST(PreprocessIntensity, ZScoreIgnoresInvalidVoxels) {
  // Valid foreground: 10, 20, 30, 40 -> mean 25, population std sqrt(125).
  const aslseg::Image img = row_image({10.0f, 20.0f, -3024.0f, 30.0f, 40.0f, -1000.0f});
  const aslseg::LabelMap valid = pp::valid_mask(img);
  aslseg::LabelMap foreground(img.geometry, 1);
  foreground.voxels[5] = 0;  // air outside the body: excluded from the statistics
  const pp::MaskedStats s = pp::masked_mean_std(img, foreground, valid);
  EXPECT_EQ(s.count, 4);
  EXPECT_DOUBLE_EQ(s.mean, 25.0);
  EXPECT_DOUBLE_EQ(s.std, std::sqrt(125.0));

  const aslseg::Image z = pp::zscore_normalise(img, foreground, valid);
  const double sd = std::sqrt(125.0);
  EXPECT_NEAR(z.voxels[0], -15.0 / sd, 1e-6);
  EXPECT_NEAR(z.voxels[4], 15.0 / sd, 1e-6);
  // Outside the statistics mask still normalised; padding normalised as air (-1000).
  EXPECT_NEAR(z.voxels[5], -1025.0 / sd, 1e-4);
  EXPECT_NEAR(z.voxels[2], -1025.0 / sd, 1e-4);
}

TEST(PreprocessIntensity, ZScoreRejectsEmptyOrMismatchedMask) {
  const aslseg::Image img = row_image({1.0f, 2.0f});
  const aslseg::LabelMap empty(img.geometry, 0);
  EXPECT_THROW(pp::masked_mean_std(img, empty), std::invalid_argument);
  aslseg::Geometry other;
  other.size = {3, 1, 1};
  EXPECT_THROW(pp::masked_mean_std(img, aslseg::LabelMap(other, 1)), std::invalid_argument);
}
