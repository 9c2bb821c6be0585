// SAM on a region of interest (roi_crop.h): the square around a box, the crop of a slice with
// zeros past its edge, prompts moved into the crop, and predict_in_rois equal to SAM run by
// hand on each crop with the moved box, pasted back at the crop's place.
#include "aslseg/sam/roi_crop.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "aslseg/models/sam_config.h"

namespace aslseg::sam {
namespace {

TEST(SamRoi, SquareAroundTheBoxHoldsItAtTheAskedScale) {
  RoiParams p;
  p.context = 2.0;
  p.min_side = 24;
  // A 21 x 6 box: side 42, centred on (20, 22.5).
  const Roi r = roi_around({10.0f, 20.0f, 30.0f, 25.0f}, p);
  EXPECT_EQ(r.side, 42);
  EXPECT_EQ(r.x0, 0);  // 20 - 20.5 + 0.5
  EXPECT_EQ(r.y0, 2);  // floor(22.5 - 20.5 + 0.5)
  EXPECT_LE(r.x0, 10);
  EXPECT_GE(r.x0 + r.side - 1, 30);
  // A speck gets the minimum side and may reach past the slice's corner.
  const Roi s = roi_around({2.0f, 3.0f, 3.0f, 3.0f}, p);
  EXPECT_EQ(s.side, 24);
  EXPECT_EQ(s.x0, -9);  // floor(2.5 - 11.5 + 0.5)
  EXPECT_EQ(s.y0, -8);  // floor(3 - 11.5 + 0.5)
  RoiParams bad;
  bad.context = 0.5;
  EXPECT_THROW(validate(bad), std::invalid_argument);
}

TEST(SamRoi, CropCopiesThePixelsAndIsZeroPastTheSlice) {
  const torch::Tensor slice = torch::arange(1, 1 + 10 * 12, torch::kFloat).view({10, 12});
  const Roi r{-2, 5, 6};  // columns -2..3, rows 5..10 (row 10 is past the slice)
  const torch::Tensor c = crop(slice, r);
  ASSERT_EQ(c.sizes(), (std::vector<int64_t>{6, 6}));
  for (int64_t y = 0; y < 6; ++y)
    for (int64_t x = 0; x < 6; ++x) {
      const int64_t sx = x - 2, sy = y + 5;
      const float expected = (sx >= 0 && sy < 10) ? slice[sy][sx].item<float>() : 0.0f;
      EXPECT_EQ(c[y][x].item<float>(), expected) << x << "," << y;
    }
}

TEST(SamRoi, PromptsMoveIntoTheCropAndPointsOutsideItArePadding) {
  SamPrompts p =
      SamPrompts::single(std::array<float, 4>{10, 20, 14, 26}, {{12.0f, 22.0f}, {40.0f, 22.0f}},
                         {kPointPositive, kPointNegative});
  const Roi r{5, 15, 16};
  const SamPrompts q = to_roi(p, r);
  EXPECT_TRUE(torch::equal(q.boxes, torch::tensor({{5.0f, 5.0f, 9.0f, 11.0f}})));
  EXPECT_FLOAT_EQ(q.point_coords[0][0][0].item<float>(), 7.0f);
  EXPECT_FLOAT_EQ(q.point_coords[0][0][1].item<float>(), 7.0f);
  EXPECT_EQ(q.point_labels[0][0].item<int64_t>(), kPointPositive);
  EXPECT_EQ(q.point_labels[0][1].item<int64_t>(), kPointPadding);  // x = 35 > 15
}

TEST(SamRoi, PredictInRoisIsSamOnEachCropPastedBack) {
  torch::manual_seed(3);
  const models::SamConfig cfg =
      models::load_sam_config(std::filesystem::path(ASLSEG_SOURCE_DIR) / "configs/sam/tiny.json");
  models::Sam sam(cfg);
  SamPredictor predictor(sam, torch::kCPU);
  const torch::Tensor slice = torch::rand({40, 48});
  SamPrompts boxes;
  boxes.boxes = torch::tensor({{4.0f, 6.0f, 9.0f, 12.0f}, {30.0f, 20.0f, 44.0f, 30.0f}});
  RoiParams p;
  p.enabled = true;
  const torch::Tensor got = predict_in_rois(predictor, slice, boxes, p);
  ASSERT_EQ(got.sizes(), (std::vector<int64_t>{40, 48}));

  torch::Tensor expected = torch::zeros({40, 48}, torch::kBool);
  for (int64_t b = 0; b < 2; ++b) {
    const auto box = boxes.boxes[b];
    const Roi r = roi_around(
        {box[0].item<float>(), box[1].item<float>(), box[2].item<float>(), box[3].item<float>()},
        p);
    predictor.set_windowed(crop(slice, r));
    SamPrompts moved;
    moved.boxes = boxes.boxes.narrow(0, b, 1) -
                  torch::tensor({float(r.x0), float(r.y0), float(r.x0), float(r.y0)});
    const torch::Tensor m = predictor.predict(moved, false).masks[0][0];
    for (int64_t y = 0; y < r.side; ++y)
      for (int64_t x = 0; x < r.side; ++x) {
        const int64_t sx = r.x0 + x, sy = r.y0 + y;
        if (sx < 0 || sy < 0 || sx >= 48 || sy >= 40 || !m[y][x].item<bool>()) continue;
        expected[sy][sx] = true;
      }
  }
  EXPECT_TRUE(torch::equal(got, expected));
  EXPECT_GT(got.sum().item<int64_t>(), 0) << "a random SAM gave no mask: the test shows nothing";
  // Nothing lands outside the two crops.
  const Roi r0 = roi_around({4, 6, 9, 12}, p), r1 = roi_around({30, 20, 44, 30}, p);
  for (int64_t y = 0; y < 40; ++y)
    for (int64_t x = 0; x < 48; ++x) {
      const bool in0 = x >= r0.x0 && x < r0.x0 + r0.side && y >= r0.y0 && y < r0.y0 + r0.side;
      const bool in1 = x >= r1.x0 && x < r1.x0 + r1.side && y >= r1.y0 && y < r1.y0 + r1.side;
      if (!in0 && !in1) ASSERT_FALSE(got[y][x].item<bool>()) << x << "," << y;
    }
  // Without a box there is no region.
  SamPrompts points = SamPrompts::single(std::nullopt, {{5.0f, 5.0f}}, {kPointPositive});
  EXPECT_THROW(predict_in_rois(predictor, slice, points, p), std::invalid_argument);
}

}  // namespace
}  // namespace aslseg::sam
