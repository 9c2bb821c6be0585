// `aslseg dataset check` and the check inside `dataset split` (issue 13), through the real
// binary on real files: a good pair, a pair whose shapes differ, one whose origin (affine)
// differs, and one whose label holds a value outside 0/1/2.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "aslseg/io/volume_io.h"
#include "common/test_util.h"

namespace aslseg {
namespace {

namespace fs = std::filesystem;
using testing::read_text;
using testing::run_cli;

Geometry grid(int64_t z = 6) {
  Geometry g;
  g.size = {12, 10, z};
  g.spacing = {1.5, 1.5, 3.0};
  return g;
}

void write_pair(const fs::path& dir, int id, const Geometry& image_grid, const Geometry& label_grid,
                uint8_t label_value = kLiver) {
  Image image(image_grid, 40.0f);
  io::write_image(image, dir / ("volume-" + std::to_string(id) + ".nii.gz"));
  LabelMap label(label_grid, kBackground);
  label.at(3, 3, 2) = label_value;
  io::write_labels(label, dir / ("segmentation-" + std::to_string(id) + ".nii.gz"));
}

TEST(DatasetCheckCli, NamesEachBadPairAndSplitRefusesGridMismatches) {
  testing::TempDir dir;
  const fs::path data = dir / "data";
  fs::create_directories(data);
  write_pair(data, 0, grid(), grid());
  write_pair(data, 1, grid(), grid(7));  // shapes differ
  Geometry moved = grid();
  moved.origin = {0.0, 0.0, 12.0};
  write_pair(data, 2, grid(), moved);            // affines differ
  write_pair(data, 3, grid(), grid(), /*7=*/7);  // an unknown label value

  const fs::path log = dir / "check.log";
  EXPECT_EQ(run_cli("dataset check --data " + data.string(), log), 2);
  const std::string text = read_text(log);
  EXPECT_NE(text.find("4 cases (4 labelled) checked, 3 with problems"), std::string::npos) << text;
  EXPECT_NE(text.find("case 1 (volume-1.nii.gz + segmentation-1.nii.gz): image and label grids "
                      "differ"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("case 2 (volume-2.nii.gz + segmentation-2.nii.gz): image and label grids "
                      "differ"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("origin"), std::string::npos) << text;
  EXPECT_NE(text.find("case 3 (volume-3.nii.gz + segmentation-3.nii.gz): label values outside"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("case 0 "), std::string::npos) << text;

  // The header-only check (what split runs) sees the grids, not the values.
  EXPECT_EQ(run_cli("dataset check --headers-only --data " + data.string(), log), 2);
  EXPECT_NE(read_text(log).find("2 with problems"), std::string::npos) << read_text(log);

  const fs::path split = dir / "split.json";
  EXPECT_EQ(run_cli("dataset split --data " + data.string() + " --out " + split.string(), log), 2);
  EXPECT_NE(read_text(log).find("no split written"), std::string::npos) << read_text(log);
  EXPECT_FALSE(fs::exists(split));

  // Without the grid mismatches the split is written and the check passes on the headers.
  fs::remove(data / "volume-1.nii.gz");
  fs::remove(data / "segmentation-1.nii.gz");
  fs::remove(data / "volume-2.nii.gz");
  fs::remove(data / "segmentation-2.nii.gz");
  EXPECT_EQ(run_cli("dataset split --data " + data.string() + " --out " + split.string(), log), 0)
      << read_text(log);
  EXPECT_TRUE(fs::exists(split));
  EXPECT_EQ(run_cli("dataset check --headers-only --data " + data.string(), log), 0)
      << read_text(log);
}

// `train` runs the header check on the folder it is given before anything trains.
TEST(DatasetCheckCli, TrainRefusesGridMismatchesBeforeTraining) {
  testing::TempDir dir;
  const fs::path data = dir / "data";
  fs::create_directories(data);
  for (int id = 0; id < 4; ++id) write_pair(data, id, grid(), grid());
  write_pair(data, 4, grid(), grid(7));
  const fs::path run = dir / "run", log = dir / "train.log";
  EXPECT_EQ(run_cli("train --data " + data.string() + " --out " + run.string() +
                        " --set loop.rounds=0 --set optim.steps=5",
                    log),
            2);
  const std::string text = read_text(log);
  EXPECT_NE(text.find("case 4 (volume-4.nii.gz + segmentation-4.nii.gz): image and label grids "
                      "differ"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("1 image/label pair(s) above do not match; nothing trained"),
            std::string::npos)
      << text;
  EXPECT_FALSE(fs::exists(run / "split.json"));
  EXPECT_FALSE(fs::exists(run / "ss"));
}

}  // namespace
}  // namespace aslseg
