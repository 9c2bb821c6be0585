// `aslseg evaluate` end to end: label maps written to a temporary folder, the real binary
// run on them, and its JSON and CSV read back.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "aslseg/io/volume_io.h"
#include "common/test_util.h"

namespace aslseg {
namespace {

namespace fs = std::filesystem;

constexpr double kTol = 1e-9;
using testing::read_text;
using testing::run_cli;

LabelMap blank(const std::array<double, 3>& spacing = {0.8, 0.8, 2.0}) {
  Geometry g;
  g.size = {16, 12, 10};
  g.spacing = spacing;
  return LabelMap(g, 0);
}

void fill_box(LabelMap& m, const std::array<int64_t, 3>& lo, const std::array<int64_t, 3>& hi,
              uint8_t value) {
  for (int64_t z = lo[2]; z <= hi[2]; ++z)
    for (int64_t y = lo[1]; y <= hi[1]; ++y)
      for (int64_t x = lo[0]; x <= hi[0]; ++x) m.at(x, y, z) = value;
}

class MetricEvaluateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("aslseg_eval_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "pred");
    fs::create_directories(dir_ / "gt");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Case 1: liver box 4x4x4 (labels 1, tumour 2x2x2 of label 2 inside) vs the same liver
  // moved one voxel in x and no tumour predicted.
  void write_case_1() {
    LabelMap gt = blank();
    fill_box(gt, {2, 2, 2}, {5, 5, 5}, kLiver);
    fill_box(gt, {3, 3, 3}, {4, 4, 4}, kTumour);
    LabelMap pred = blank();
    fill_box(pred, {3, 2, 2}, {6, 5, 5}, kLiver);
    io::write_labels(gt, dir_ / "gt" / "segmentation-1.nii");
    io::write_labels(pred, dir_ / "pred" / "volume-1.nii.gz");
    // A LiTS folder keeps the CT next to its segmentation; it must not be taken as the gt.
    io::write_labels(blank(), dir_ / "gt" / "volume-1.nii");
  }

  fs::path dir_;
};

TEST_F(MetricEvaluateCli, WritesJsonAndCsvWithHandWorkedValues) {
  write_case_1();
  // Case 2: perfect liver and tumour.
  LabelMap two = blank();
  fill_box(two, {1, 1, 1}, {8, 8, 6}, kLiver);
  fill_box(two, {2, 2, 2}, {3, 3, 3}, kTumour);
  io::write_labels(two, dir_ / "gt" / "segmentation-2.nii.gz");
  io::write_labels(two, dir_ / "pred" / "volume-2.nii.gz");

  const fs::path out = dir_ / "report" / "metrics.json";
  ASSERT_EQ(run_cli("evaluate --pred " + (dir_ / "pred").string() + " --gt " +
                    (dir_ / "gt").string() + " --out " + out.string()),
            0);
  const auto j = nlohmann::json::parse(read_text(out));
  ASSERT_EQ(j["cases"].size(), 2u);
  EXPECT_TRUE(j["failures"].empty());
  const auto& c1 = j["cases"][0];
  EXPECT_EQ(c1["case"], "1");
  EXPECT_EQ(fs::path(c1["gt"].get<std::string>()).filename(), "segmentation-1.nii");
  // Liver (labels >= 1): two 64-voxel cubes overlapping in 48 -> Dice 0.75, Jaccard 0.6.
  // x spacing 0.8 mm: 16 face voxels each way at 0.8 mm, 4 face-interior voxels each way at
  // min(0.8, one y step 0.8) = 0.8 mm, 36 at 0 -> HD95 0.8, ASD 2*20*0.8/112.
  const auto& liver = c1["classes"]["liver"];
  EXPECT_NEAR(liver["dice"].get<double>(), 0.75, kTol);
  EXPECT_NEAR(liver["jaccard"].get<double>(), 0.6, kTol);
  EXPECT_NEAR(liver["hd95"].get<double>(), 0.8, 1e-6);
  EXPECT_NEAR(liver["asd"].get<double>(), 2 * 20 * 0.8 / 112, 1e-6);
  EXPECT_EQ(liver["gt_voxels"], 64);
  // Tumour missed: Dice 0, distances undefined.
  const auto& tumour = c1["classes"]["tumour"];
  EXPECT_EQ(tumour["dice"].get<double>(), 0.0);
  EXPECT_TRUE(tumour["hd95"].is_null());
  EXPECT_EQ(tumour["gt_voxels"], 8);
  EXPECT_EQ(tumour["pred_voxels"], 0);
  // Summary: mean liver Dice (0.75 + 1) / 2; tumour HD95 only from case 2.
  EXPECT_NEAR(j["summary"]["liver"]["dice"]["mean"].get<double>(), 0.875, kTol);
  EXPECT_NEAR(j["summary"]["liver"]["dice"]["sd"].get<double>(), 0.125, kTol);
  EXPECT_EQ(j["summary"]["tumour"]["hd95"]["n"], 1);
  EXPECT_EQ(j["summary"]["tumour"]["hd95"]["n_undefined"], 1);
  EXPECT_EQ(j["summary"]["tumour"]["hd95"]["mean"].get<double>(), 0.0);

  const std::string csv = read_text(dir_ / "report" / "metrics.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5) << csv;  // header + 2 cases x 2
  EXPECT_NE(csv.find("\n1,tumour,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",0,0,,,0,8\n"), std::string::npos) << csv;  // undefined -> empty cells
}

TEST_F(MetricEvaluateCli, MismatchedSpacingAndMissingPartnersAreCaseFailures) {
  write_case_1();
  // Case 2: ground truth on another grid (z spacing 2.5 instead of 2.0).
  LabelMap pred2 = blank();
  fill_box(pred2, {1, 1, 1}, {5, 5, 5}, kLiver);
  LabelMap gt2 = pred2;
  gt2.geometry.spacing = {0.8, 0.8, 2.5};
  io::write_labels(pred2, dir_ / "pred" / "volume-2.nii.gz");
  io::write_labels(gt2, dir_ / "gt" / "segmentation-2.nii.gz");
  // Case 3: a prediction without ground truth.
  io::write_labels(pred2, dir_ / "pred" / "volume-3.nii.gz");

  const fs::path out = dir_ / "m.json";
  const fs::path csv = dir_ / "table.csv";
  EXPECT_EQ(run_cli("evaluate --pred " + (dir_ / "pred").string() + " --gt " +
                    (dir_ / "gt").string() + " --out " + out.string() + " --csv " + csv.string()),
            2);
  const auto j = nlohmann::json::parse(read_text(out));
  ASSERT_EQ(j["cases"].size(), 1u);  // case 1 still evaluated
  EXPECT_EQ(j["cases"][0]["case"], "1");
  ASSERT_EQ(j["failures"].size(), 2u);
  EXPECT_EQ(j["failures"][0]["case"], "2");
  EXPECT_EQ(fs::path(j["failures"][0]["file"].get<std::string>()).filename(),
            "segmentation-2.nii.gz");
  EXPECT_NE(j["failures"][0]["error"].get<std::string>().find("spacing"), std::string::npos);
  EXPECT_EQ(j["failures"][1]["case"], "3");
  EXPECT_EQ(fs::path(j["failures"][1]["file"].get<std::string>()).filename(), "volume-3.nii.gz");
  EXPECT_TRUE(fs::exists(csv));
  EXPECT_FALSE(fs::exists(dir_ / "m.csv"));
}

// LiTS labels are 0/1/2 (issue 13): a ground truth holding 7 fails its case, naming the file
// and the value; with --allow-unknown-labels those voxels count in no class. Before, 7 counted
// as liver (label >= 1): liver Dice 128 / 136 here instead of 1.
TEST_F(MetricEvaluateCli, LabelValuesOutsideLitsFailTheCaseUnlessAllowed) {
  write_case_1();
  LabelMap pred2 = blank();
  fill_box(pred2, {1, 1, 1}, {4, 4, 4}, kLiver);  // 64 voxels
  LabelMap gt2 = pred2;
  fill_box(gt2, {10, 8, 7}, {11, 9, 8}, 7);  // 8 voxels of an unknown value, none predicted
  io::write_labels(pred2, dir_ / "pred" / "volume-2.nii.gz");
  io::write_labels(gt2, dir_ / "gt" / "segmentation-2.nii.gz");
  const std::string args =
      "evaluate --pred " + (dir_ / "pred").string() + " --gt " + (dir_ / "gt").string();

  const fs::path refused = dir_ / "refused.json";
  EXPECT_EQ(run_cli(args + " --out " + refused.string()), 2);
  const auto r = nlohmann::json::parse(read_text(refused));
  ASSERT_EQ(r["cases"].size(), 1u);  // case 1 still evaluated
  ASSERT_EQ(r["failures"].size(), 1u);
  EXPECT_EQ(r["failures"][0]["case"], "2");
  EXPECT_EQ(fs::path(r["failures"][0]["file"].get<std::string>()).filename(),
            "segmentation-2.nii.gz");
  EXPECT_NE(r["failures"][0]["error"].get<std::string>().find("7 (8 voxels)"), std::string::npos)
      << r["failures"][0]["error"];

  const fs::path allowed = dir_ / "allowed.json";
  EXPECT_EQ(run_cli(args + " --allow-unknown-labels --out " + allowed.string()), 0);
  const auto a = nlohmann::json::parse(read_text(allowed));
  ASSERT_EQ(a["cases"].size(), 2u);
  EXPECT_TRUE(a["failures"].empty());
  EXPECT_EQ(a["cases"][1]["case"], "2");
  EXPECT_NEAR(a["cases"][1]["classes"]["liver"]["dice"].get<double>(), 1.0, kTol);
}

TEST_F(MetricEvaluateCli, NnUnetRootAndAmbiguousNames) {
  // --gt is an nnU-Net dataset root: labels are found in labelsTr/. The prediction keeps the
  // channel suffix of its input (liver_007_0000), the label has none.
  LabelMap gt = blank();
  fill_box(gt, {2, 2, 2}, {9, 7, 6}, kLiver);
  io::write_labels(gt, dir_ / "gt" / "labelsTr" / "liver_007.nii.gz");
  io::write_labels(gt, dir_ / "pred" / "liver_007_0000.nii.gz");
  // Two predictions for one case: one failure for that case, none for its missing gt.
  io::write_labels(gt, dir_ / "pred" / "liver_008.nii.gz");
  io::write_labels(gt, dir_ / "pred" / "liver_008_0000.nii.gz");
  const fs::path out = dir_ / "nn.json";
  EXPECT_EQ(run_cli("evaluate --pred " + (dir_ / "pred").string() + " --gt " +
                    (dir_ / "gt").string() + " --out " + out.string()),
            2);
  const auto j = nlohmann::json::parse(read_text(out));
  ASSERT_EQ(j["cases"].size(), 1u);
  EXPECT_EQ(j["cases"][0]["case"], "liver_007");
  EXPECT_EQ(j["cases"][0]["classes"]["liver"]["dice"].get<double>(), 1.0);
  EXPECT_EQ(j["cases"][0]["classes"]["tumour"]["dice"].get<double>(), 1.0);  // both empty
  EXPECT_EQ(j["cases"][0]["classes"]["tumour"]["hd95"].get<double>(), 0.0);
  ASSERT_EQ(j["failures"].size(), 1u);
  EXPECT_EQ(j["failures"][0]["case"], "liver_008");
  EXPECT_NE(j["failures"][0]["error"].get<std::string>().find("several files"), std::string::npos);
}

TEST_F(MetricEvaluateCli, MissingFolderIsBadUsage) {
  EXPECT_EQ(run_cli("evaluate --pred " + (dir_ / "nope").string() + " --gt " +
                    (dir_ / "gt").string() + " --out " + (dir_ / "x.json").string()),
            2);
  EXPECT_EQ(run_cli("evaluate --help"), 0);
}

}  // namespace
}  // namespace aslseg
