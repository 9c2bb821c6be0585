// The run report's parts: base64, SVG charts, slice choice, inline PNGs (issue 13 item 5).
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "aslseg/export/png_io.h"
#include "aslseg/report/case_pictures.h"
#include "aslseg/report/svg_chart.h"
#include "common/test_util.h"

namespace aslseg {
namespace {

TEST(Report, Base64MatchesRfc4648Vectors) {
  // RFC 4648, section 10.
  EXPECT_EQ(report::base64(""), "");
  EXPECT_EQ(report::base64("f"), "Zg==");
  EXPECT_EQ(report::base64("fo"), "Zm8=");
  EXPECT_EQ(report::base64("foo"), "Zm9v");
  EXPECT_EQ(report::base64("foob"), "Zm9vYg==");
  EXPECT_EQ(report::base64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(report::base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(report::base64(std::string("\xff\xfe\x00", 3)), "//4A");
}

TEST(Report, EscapesHtml) {
  EXPECT_EQ(report::escape_html("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
}

// The extremes of the data land on the plot's corners; one polyline per series with points.
TEST(Report, ChartMapsDataOntoThePlotArea) {
  report::ChartOptions o{"t", "x", "y"};
  o.width = 490;
  o.height = 200;
  const std::string svg =
      report::line_chart_svg({{"a", {{0, 0}, {10, 1}}}, {"b", {{5, 0.5}}}, {"empty", {}}}, o);
  // Plot area: x 64 .. 490-240 = 250, y 28 .. 200-40 = 160 (margins of svg_chart.cpp).
  EXPECT_NE(svg.find("points=\"64.0,160.0 250.0,28.0 \""), std::string::npos) << svg;
  EXPECT_NE(svg.find("points=\"157.0,94.0 \""), std::string::npos) << svg;
  const std::regex polyline("<polyline");
  EXPECT_EQ(
      std::distance(std::sregex_iterator(svg.begin(), svg.end(), polyline), std::sregex_iterator()),
      2);
  EXPECT_NE(svg.find("empty (no data)"), std::string::npos);
}

TEST(Report, LogChartLeavesOutNonPositiveValues) {
  report::ChartOptions o{"t", "x", "y"};
  o.log_y = true;
  const std::string svg = report::line_chart_svg({{"loss", {{0, 10}, {1, 0}, {2, 0.1}}}}, o);
  // Two of three points drawn: 10 at the top, 0.1 at the bottom, ticks in data units.
  EXPECT_NE(svg.find(">10<"), std::string::npos) << svg;
  EXPECT_NE(svg.find(">0.1<"), std::string::npos) << svg;
  const auto pts = svg.substr(svg.find("points=\""));
  EXPECT_EQ(std::count(pts.begin(), pts.begin() + static_cast<long>(pts.find("\"/>")), ','), 2);
}

LabelMap volume_with_tumour(const std::vector<std::pair<int64_t, int>>& tumour_per_slice) {
  Geometry g;
  g.size = {8, 8, 6};
  LabelMap m(g, kLiver);
  for (const auto& [z, n] : tumour_per_slice)
    for (int i = 0; i < n; ++i) m.slice(z)[i] = kTumour;
  return m;
}

TEST(Report, PicksTheSlicesWithTheMostTumourAcrossMaps) {
  const LabelMap label = volume_with_tumour({{1, 5}, {4, 2}});
  const LabelMap pl1 = volume_with_tumour({{3, 9}, {4, 1}});
  // Union per slice: z1 5, z3 9, z4 2 (overlapping voxels count once).
  EXPECT_EQ(report::pick_slices({&label, &pl1}, 2), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(report::pick_slices({&label, &pl1}, 5), (std::vector<int64_t>{1, 3, 4}));
  // No tumour anywhere: one slice, the most liver (all equal: the lowest z).
  const LabelMap none = volume_with_tumour({});
  EXPECT_EQ(report::pick_slices({&none, &none}, 3), (std::vector<int64_t>{0}));
}

// The inline PNG is the file ITK writes: read back, same pixels.
TEST(Report, EncodedPngReadsBackWithItsPixels) {
  testing::TempDir dir;
  exporting::RgbImage img(5, 3);
  for (int64_t y = 0; y < 3; ++y)
    for (int64_t x = 0; x < 5; ++x)
      img.set(x, y, {static_cast<uint8_t>(x * 50), static_cast<uint8_t>(y * 100), 7});
  const std::string bytes = exporting::encode_png(img, dir.path());
  ASSERT_GT(bytes.size(), 8u);
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
  EXPECT_FALSE(std::filesystem::exists(dir / "inline.png"));
  std::ofstream(dir / "copy.png", std::ios::binary) << bytes;
  const exporting::RgbImage back = exporting::read_png(dir / "copy.png");
  EXPECT_EQ(back.width, 5);
  EXPECT_EQ(back.height, 3);
  EXPECT_EQ(back.data, img.data);
}

}  // namespace
}  // namespace aslseg
