// LiTS classes per case, summaries that leave undefined values out, and the JSON/CSV forms.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "aslseg/metrics/lits_metrics.h"
#include "aslseg/metrics/report.h"

namespace aslseg::metrics {
namespace {

constexpr double kTol = 1e-12;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

LabelMap box_map(const std::array<int64_t, 3>& lo, const std::array<int64_t, 3>& hi, uint8_t value,
                 LabelMap m) {
  for (int64_t z = lo[2]; z <= hi[2]; ++z)
    for (int64_t y = lo[1]; y <= hi[1]; ++y)
      for (int64_t x = lo[0]; x <= hi[0]; ++x) m.at(x, y, z) = value;
  return m;
}

LabelMap blank() {
  Geometry g;
  g.size = {8, 8, 8};
  return LabelMap(g, 0);
}

TEST(MetricLits, LiverIncludesTumour) {
  // gt: liver box with a tumour inside. pred: the same box, all labelled liver.
  const LabelMap gt =
      box_map({3, 3, 3}, {4, 4, 4}, kTumour, box_map({1, 1, 1}, {6, 6, 6}, kLiver, blank()));
  const LabelMap pred = box_map({1, 1, 1}, {6, 6, 6}, kLiver, blank());
  const std::vector<MetricRow> rows = evaluate_case("7", pred, gt);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].case_id, "7");
  EXPECT_EQ(rows[0].class_name, "liver");
  EXPECT_EQ(rows[0].metrics.dice, 1.0);  // a "liver == 1" class would miss the 8 tumour voxels
  EXPECT_EQ(rows[0].metrics.gt_voxels, 216);
  EXPECT_EQ(rows[0].metrics.hd95, 0.0);
  EXPECT_EQ(rows[1].class_name, "tumour");
  EXPECT_EQ(rows[1].metrics.dice, 0.0);
  EXPECT_EQ(rows[1].metrics.gt_voxels, 8);
  EXPECT_EQ(rows[1].metrics.pred_voxels, 0);
  EXPECT_TRUE(std::isnan(rows[1].metrics.hd95));
}

TEST(MetricSummary, LeavesUndefinedOutAndCountsIt) {
  const MetricSummary s = summarize_values({1.0, kNaN, 3.0, kNaN});
  EXPECT_EQ(s.n, 2);
  EXPECT_EQ(s.n_undefined, 2);
  EXPECT_NEAR(s.mean, 2.0, kTol);
  EXPECT_NEAR(s.sd, 1.0, kTol);  // population sd of {1, 3}
  const MetricSummary none = summarize_values({kNaN});
  EXPECT_EQ(none.n, 0);
  EXPECT_TRUE(std::isnan(none.mean));
}

std::vector<CaseResult> two_cases() {
  BinaryMetrics a{0.9, 0.8, 2.0, 0.5, 100, 110};
  BinaryMetrics b{0.5, 1.0 / 3.0, 6.0, 1.5, 50, 40};
  BinaryMetrics t_missed{0.0, 0.0, kNaN, kNaN, 0, 12};
  BinaryMetrics t_ok{0.6, 0.42857142857142855, 3.0, 1.0, 10, 10};
  return {{"1",
           "pred/volume-1.nii.gz",
           "gt/segmentation-1.nii",
           {0.7, 0.7, 2.5},
           {{"1", "liver", a}, {"1", "tumour", t_missed}}},
          {"2",
           "pred/a,b.nii.gz",
           "gt/segmentation-2.nii",
           {1, 1, 1},
           {{"2", "liver", b}, {"2", "tumour", t_ok}}}};
}

TEST(MetricReport, JsonHasNullsSummaryAndFailures) {
  const auto j = nlohmann::json::parse(
      report_json(two_cases(), {{"3", "pred/volume-3.nii.gz", "no ground truth"}}));
  ASSERT_EQ(j["cases"].size(), 2u);
  EXPECT_EQ(j["cases"][0]["case"], "1");
  EXPECT_EQ(j["cases"][0]["gt"], "gt/segmentation-1.nii");
  EXPECT_TRUE(j["cases"][0]["classes"]["tumour"]["hd95"].is_null());
  EXPECT_EQ(j["cases"][0]["classes"]["tumour"]["gt_voxels"], 12);
  EXPECT_NEAR(j["cases"][1]["classes"]["liver"]["hd95"].get<double>(), 6.0, kTol);
  EXPECT_NEAR(j["summary"]["liver"]["dice"]["mean"].get<double>(), 0.7, kTol);
  EXPECT_NEAR(j["summary"]["liver"]["dice"]["sd"].get<double>(), 0.2, kTol);
  EXPECT_EQ(j["summary"]["tumour"]["hd95"]["n"], 1);
  EXPECT_EQ(j["summary"]["tumour"]["hd95"]["n_undefined"], 1);
  EXPECT_NEAR(j["summary"]["tumour"]["hd95"]["mean"].get<double>(), 3.0, kTol);
  EXPECT_EQ(j["summary"]["tumour"]["dice"]["n"], 2);  // Dice is always defined
  EXPECT_NEAR(j["summary"]["tumour"]["dice"]["mean"].get<double>(), 0.3, kTol);
  ASSERT_EQ(j["failures"].size(), 1u);
  EXPECT_EQ(j["failures"][0]["file"], "pred/volume-3.nii.gz");
}

TEST(MetricReport, CsvHasEmptyCellsForUndefinedAndQuotesPaths) {
  const std::string csv = report_csv(two_cases());
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "case,class,pred,gt,dice,jaccard,hd95,asd,pred_voxels,gt_voxels");
  EXPECT_NE(csv.find("\n1,tumour,pred/volume-1.nii.gz,gt/segmentation-1.nii,0,0,,,0,12\n"),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find("\n2,liver,\"pred/a,b.nii.gz\",gt/segmentation-2.nii,0.5,"), std::string::npos)
      << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);
}

TEST(MetricReport, SummaryTableNamesEveryClass) {
  const std::string table = summary_table(summarize(two_cases()));
  EXPECT_NE(table.find("liver"), std::string::npos);
  EXPECT_NE(table.find("0.7000±0.2000"), std::string::npos) << table;
  EXPECT_NE(table.find("1 undefined"), std::string::npos) << table;
}

}  // namespace
}  // namespace aslseg::metrics
