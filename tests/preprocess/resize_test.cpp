#include <gtest/gtest.h>

#include <random>
#include <set>
#include <stdexcept>

#include "aslseg/preprocess/resize.h"

namespace pp = aslseg::preprocess;

namespace {
pp::FloatPlanes planes(int64_t c, int64_t h, int64_t w, const std::vector<float>& values) {
  pp::FloatPlanes p(c, h, w);
  p.data = values;
  return p;
}
}  // namespace

TEST(PreprocessResize, BilinearUpsampleMatchesTorchHalfPixel) {
  // torch.nn.functional.interpolate(x, size=(4, 4), mode='bilinear', align_corners=False)
  // of [[1, 2], [3, 4]].
  const pp::FloatPlanes out = pp::resize_bilinear(planes(1, 2, 2, {1, 2, 3, 4}), 4, 4);
  const std::vector<float> expected{1.00f, 1.25f, 1.75f, 2.00f,  //
                                    1.50f, 1.75f, 2.25f, 2.50f,  //
                                    2.50f, 2.75f, 3.25f, 3.50f,  //
                                    3.00f, 3.25f, 3.75f, 4.00f};
  ASSERT_EQ(out.data.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_FLOAT_EQ(out.data[i], expected[i]) << i;
}

TEST(PreprocessResize, BilinearNonIntegerRatio) {
  // 3 -> 5: scale 0.6, src = -0.2 (clamped to 0), 0.4, 1.0, 1.6, 2.2 (past the last pixel).
  // align_corners=True would give [0, 5, 10, 15, 20] instead.
  const pp::FloatPlanes out = pp::resize_bilinear(planes(1, 1, 3, {0, 10, 20}), 1, 5);
  const std::vector<float> expected{0, 4, 10, 16, 20};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(out.data[i], expected[i], 1e-5) << i;
}

TEST(PreprocessResize, BilinearDownsampleAveragesPairs) {
  const pp::FloatPlanes row = pp::resize_bilinear(planes(1, 1, 4, {1, 3, 5, 11}), 1, 2);
  EXPECT_FLOAT_EQ(row.data[0], 2.0f);
  EXPECT_FLOAT_EQ(row.data[1], 8.0f);
  // 2D, two channels kept apart: each output pixel is the mean of a 2x2 block.
  std::vector<float> v(32);
  for (int i = 0; i < 32; ++i) v[i] = static_cast<float>(i * i % 17);
  const pp::FloatPlanes in = planes(2, 4, 4, v);
  const pp::FloatPlanes out = pp::resize_bilinear(in, 2, 2);
  ASSERT_EQ(out.channels, 2);
  for (int c = 0; c < 2; ++c)
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 2; ++x) {
        const float mean = (in.at(c, 2 * y, 2 * x) + in.at(c, 2 * y, 2 * x + 1) +
                            in.at(c, 2 * y + 1, 2 * x) + in.at(c, 2 * y + 1, 2 * x + 1)) /
                           4.0f;
        EXPECT_FLOAT_EQ(out.at(c, y, x), mean) << c << "," << y << "," << x;
      }
}

TEST(PreprocessResize, ConstantImageRoundTripIsExact) {
  for (const auto [h, w, mh, mw] :
       {std::array<int64_t, 4>{512, 512, 256, 256}, std::array<int64_t, 4>{7, 5, 13, 11},
        std::array<int64_t, 4>{300, 200, 256, 256}}) {
    const pp::FloatPlanes in(1, h, w, 0.3f);
    const pp::FloatPlanes there = pp::image_to_model_size(in, pp::ResizeParams{mh, mw});
    const pp::FloatPlanes back = pp::to_original_size(there, h, w);
    ASSERT_EQ(back.height, h);
    ASSERT_EQ(back.width, w);
    for (float v : there.data) ASSERT_EQ(v, 0.3f);
    for (float v : back.data) ASSERT_EQ(v, 0.3f);
  }
}

TEST(PreprocessResize, NearestFollowsTorchFloorRule) {
  pp::LabelPlanes in(1, 1, 3);
  in.data = {0, 1, 2};
  // 3 -> 5: floor(dst * 0.6) = 0, 0, 1, 1, 2.
  EXPECT_EQ(pp::resize_nearest(in, 1, 5).data, (std::vector<uint8_t>{0, 0, 1, 1, 2}));
  pp::LabelPlanes five(1, 1, 5);
  five.data = {0, 1, 2, 1, 0};
  // 5 -> 2: floor(dst * 2.5) = 0, 2.
  EXPECT_EQ(pp::resize_nearest(five, 1, 2).data, (std::vector<uint8_t>{0, 2}));
  // 2x upsample repeats every pixel.
  pp::LabelPlanes two(1, 2, 2);
  two.data = {1, 2, 0, 1};
  EXPECT_EQ(pp::resize_nearest(two, 4, 4).data,
            (std::vector<uint8_t>{1, 1, 2, 2, 1, 1, 2, 2, 0, 0, 1, 1, 0, 0, 1, 1}));
}

TEST(PreprocessResize, NearestNeverInventsLabels) {
  // Only 0 and 2 in the input: an interpolating resize would create 1 (liver) on borders.
  std::mt19937 rng(7);
  pp::LabelPlanes in(1, 37, 29);
  for (auto& v : in.data) v = (rng() % 2) ? 2 : 0;
  for (const auto [h, w] : {std::pair<int64_t, int64_t>{256, 256}, {11, 13}, {37, 29}}) {
    const pp::LabelPlanes out = pp::to_original_size(pp::labels_to_model_size(in, {h, w}), 37, 29);
    const std::set<uint8_t> seen(out.data.begin(), out.data.end());
    for (uint8_t v : seen) EXPECT_TRUE(v == 0 || v == 2) << int(v);
    if (h == 37) {
      EXPECT_EQ(out.data, in.data);  // same size: identity
    }
  }
}

TEST(PreprocessResize, RejectsEmptySizes) {
  const pp::FloatPlanes in(1, 2, 2, 1.0f);
  EXPECT_THROW(pp::resize_bilinear(in, 0, 4), std::invalid_argument);
  EXPECT_THROW(pp::resize_bilinear(pp::FloatPlanes(), 4, 4), std::invalid_argument);
  pp::FloatPlanes torn(1, 2, 2);
  torn.data.pop_back();
  EXPECT_THROW(pp::resize_bilinear(torn, 4, 4), std::invalid_argument);
  EXPECT_THROW(pp::resize_nearest(pp::LabelPlanes(1, 2, 2), 3, -1), std::invalid_argument);
}
