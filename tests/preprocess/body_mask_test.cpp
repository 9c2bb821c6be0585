#include <gtest/gtest.h>

#include "aslseg/preprocess/body_mask.h"

namespace pp = aslseg::preprocess;

namespace {

// 40x40x6 phantom: -3024 padding outside the reconstruction circle, -1000 air, an elliptic
// body (40 HU) with a -1000 HU gas pocket fully inside it, and a small dense table below.
struct Phantom {
  aslseg::Image image;
  static constexpr int kN = 40, kDepth = 6;

  Phantom() {
    aslseg::Geometry g;
    g.size = {kN, kN, kDepth};
    image = aslseg::Image(g, -1000.0f);
    for (int z = 0; z < kDepth; ++z)
      for (int y = 0; y < kN; ++y)
        for (int x = 0; x < kN; ++x) {
          const double cx = x - 19.5, cy = y - 19.5;
          float v = -1000.0f;
          if (cx * cx + cy * cy > 20.0 * 20.0) v = -3024.0f;  // corners
          if (in_body(x, y)) v = 40.0f;
          if (in_gas(x, y)) v = -1000.0f;
          if (in_table(x, y)) v = 300.0f;
          image.at(x, y, z) = v;
        }
  }
  static bool in_body(int x, int y) {
    const double ex = (x - 20.0) / 14.0, ey = (y - 17.0) / 10.0;
    return ex * ex + ey * ey <= 1.0;
  }
  static bool in_gas(int x, int y) { return x >= 18 && x <= 22 && y >= 15 && y <= 18; }
  static bool in_table(int x, int y) { return x >= 16 && x <= 24 && y >= 31 && y <= 32; }
};

}  // namespace

TEST(PreprocessBodyMask, KeepsBodyFillsGasDropsTableAndPadding) {
  const Phantom ph;
  const aslseg::LabelMap body = pp::body_mask(ph.image);
  ASSERT_EQ(body.geometry.size, ph.image.geometry.size);
  for (int z = 0; z < Phantom::kDepth; ++z)
    for (int y = 0; y < Phantom::kN; ++y)
      for (int x = 0; x < Phantom::kN; ++x) {
        const bool expected = Phantom::in_body(x, y);  // gas pocket included
        ASSERT_EQ(body.at(x, y, z), expected ? 1 : 0) << x << "," << y << "," << z;
      }
  // The table is denser than the body and still removed; the padding corner is not body.
  EXPECT_EQ(body.at(20, 31, 2), 0);
  EXPECT_EQ(body.at(0, 0, 2), 0);
  EXPECT_EQ(body.at(20, 16, 0), 1);  // gas, first slice: filled in 2D although open in z
}

TEST(PreprocessBodyMask, WithoutHoleFillingGasStaysOut) {
  const Phantom ph;
  pp::BodyMaskParams p;
  p.fill_holes = false;
  const aslseg::LabelMap body = pp::body_mask(ph.image, p);
  EXPECT_EQ(body.at(20, 16, 2), 0);
  EXPECT_EQ(body.at(10, 17, 2), 1);
}

TEST(PreprocessBodyMask, PaddingIsNeverBodyEvenAboveThreshold) {
  // A field of view that cuts the body (x < 8 is outside it), padded with a value above the
  // threshold (0 HU, e.g. raw 1024 with intercept -1024): it touches the body, and must not
  // be merged into it once declared as padding.
  Phantom ph;
  for (int z = 0; z < Phantom::kDepth; ++z)
    for (int y = 0; y < Phantom::kN; ++y)
      for (int x = 0; x < 8; ++x) ph.image.at(x, y, z) = 0.0f;
  pp::BodyMaskParams p;
  p.invalid.padding_value_hu = 0.0f;
  const aslseg::LabelMap body = pp::body_mask(ph.image, p);
  EXPECT_EQ(body.at(0, 0, 2), 0);
  EXPECT_EQ(body.at(7, 17, 2), 0);
  EXPECT_EQ(body.at(8, 17, 2), 1);
  EXPECT_EQ(body.at(20, 16, 2), 1);
  // Undeclared, the padding strip is taken for tissue and joins the body.
  EXPECT_EQ(pp::body_mask(ph.image).at(0, 0, 2), 1);
}

TEST(PreprocessBodyMask, AllAirGivesEmptyMask) {
  aslseg::Geometry g;
  g.size = {8, 8, 3};
  const aslseg::LabelMap body = pp::body_mask(aslseg::Image(g, -1000.0f));
  for (uint8_t v : body.voxels) ASSERT_EQ(v, 0);
}
