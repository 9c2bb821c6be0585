// Naming in the three export layouts (export/export_format.h), nnU-Net's dataset.json, the
// overlay's choice of slice and drawing, and the PNG round trip.
#include "aslseg/export/export_format.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "aslseg/export/overlay.h"
#include "aslseg/export/png_io.h"
#include "aslseg/io/error.h"
#include "common/test_util.h"

namespace aslseg::exporting {
namespace {

TEST(ExportFormat, ParsesTheThreeFormats) {
  EXPECT_EQ(parse_export_format("lits"), ExportFormat::kLits);
  EXPECT_EQ(parse_export_format("nnunet"), ExportFormat::kNnUnet);
  EXPECT_EQ(parse_export_format("plain"), ExportFormat::kPlain);
  EXPECT_THROW(parse_export_format("nifti"), InputError);
  for (ExportFormat f : {ExportFormat::kLits, ExportFormat::kNnUnet, ExportFormat::kPlain})
    EXPECT_EQ(parse_export_format(export_format_name(f)), f);
}

TEST(ExportFormat, Names) {
  EXPECT_EQ(output_names(ExportFormat::kLits, "7").image, "volume-7.nii.gz");
  EXPECT_EQ(output_names(ExportFormat::kLits, "7").label, "segmentation-7.nii.gz");
  EXPECT_EQ(output_names(ExportFormat::kNnUnet, "liver_7").image, "imagesTr/liver_7_0000.nii.gz");
  EXPECT_EQ(output_names(ExportFormat::kNnUnet, "liver_7").label, "labelsTr/liver_7.nii.gz");
  EXPECT_EQ(output_names(ExportFormat::kPlain, "a").image, "images/a.nii.gz");
  EXPECT_EQ(output_names(ExportFormat::kPlain, "a").label, "labels/a.nii.gz");
}

TEST(ExportFormat, LitsNumbersKeepNumericIdsAndFollowTheLargest) {
  const auto m = lits_numbers({"liver_10", "3", "17", "liver_2", "007", "abc"});
  EXPECT_EQ(m.at("3"), "3");
  EXPECT_EQ(m.at("17"), "17");
  EXPECT_EQ(m.at("007"), "007");
  // Natural order: abc < liver_2 < liver_10, numbered after 17.
  EXPECT_EQ(m.at("abc"), "18");
  EXPECT_EQ(m.at("liver_2"), "19");
  EXPECT_EQ(m.at("liver_10"), "20");
  EXPECT_EQ(lits_numbers({"x"}).at("x"), "0");
}

TEST(ExportFormat, NnUnetDatasetJson) {
  const auto j = nlohmann::json::parse(nnunet_dataset_json(4));
  EXPECT_EQ(j["channel_names"]["0"], "CT");
  EXPECT_EQ(j["labels"]["background"], 0);
  EXPECT_EQ(j["labels"]["liver"], 1);
  EXPECT_EQ(j["labels"]["tumour"], 2);
  EXPECT_EQ(j["numTraining"], 4);
  EXPECT_EQ(j["file_ending"], ".nii.gz");
}

TEST(Overlay, PicksTheSliceWithTheMostTumourAndDrawsOutlines) {
  Geometry g;
  g.size = {12, 10, 4};
  Image ct(g, -1000.0f);
  for (int64_t y = 0; y < 10; ++y)
    for (int64_t x = 0; x < 12; ++x) ct.at(x, y, 2) = x < 6 ? 60.0f : 260.0f;
  LabelMap pl(g, kBackground);
  for (int64_t y = 3; y <= 6; ++y)
    for (int64_t x = 3; x <= 7; ++x) pl.at(x, y, 2) = kTumour;
  pl.at(0, 0, 1) = kTumour;
  EXPECT_EQ(overlay_slice(pl, pl, pl), 2);
  const LabelMap empty(g, kBackground);
  EXPECT_EQ(overlay_slice(empty, pl, pl), 2) << "falls back to PL1";
  EXPECT_EQ(overlay_slice(empty, empty, empty), 2) << "middle slice";

  const RgbImage img = render_overlay(ct, empty, empty, pl, 2);
  ASSERT_EQ(img.width, 12);
  ASSERT_EQ(img.height, 10);
  EXPECT_EQ(img.at(3, 3), kPl3Colour);  // outline
  EXPECT_EQ(img.at(7, 6), kPl3Colour);
  EXPECT_EQ(img.at(5, 5).r, img.at(5, 5).g) << "the inside is CT, not filled";
  EXPECT_EQ(img.at(0, 0), (Rgb{128, 128, 128})) << "60 HU is the window's centre";
  EXPECT_EQ(img.at(11, 0), (Rgb{255, 255, 255})) << "260 HU is the window's top";
  // A grid whose x axis points to the patient's right is mirrored for display.
  Image flipped = ct;
  flipped.geometry.direction = {-1, 0, 0, 0, 1, 0, 0, 0, 1};
  const RgbImage m = render_overlay(flipped, empty, empty, pl, 2);
  EXPECT_EQ(m.at(11, 0), (Rgb{128, 128, 128}));
  EXPECT_EQ(m.at(11 - 3, 3), kPl3Colour);
}

TEST(Png, RoundTripsThroughItk) {
  testing::TempDir dir;
  RgbImage img(5, 3);
  img.set(0, 0, {1, 2, 3});
  img.set(4, 2, kPl2Colour);
  write_png(img, dir / "a.png");
  const RgbImage back = read_png(dir / "a.png");
  EXPECT_EQ(back.width, 5);
  EXPECT_EQ(back.height, 3);
  EXPECT_EQ(back.data, img.data);
  std::ofstream(dir / "bad.png") << "not a png";
  EXPECT_THROW(read_png(dir / "bad.png"), InputError);
}

}  // namespace
}  // namespace aslseg::exporting
