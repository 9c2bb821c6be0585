// What `aslseg infer` picks up: the checkpoint of a run folder, the cases of an input folder in
// every supported layout, and shard selection.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "aslseg/infer/inputs.h"
#include "aslseg/io/error.h"
#include "common/test_util.h"

namespace aslseg::infer {
namespace {

namespace fs = std::filesystem;

// Discovery never opens the files, so empty ones do.
void touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "";
}

std::vector<std::string> stems(const std::vector<InputCase>& cases) {
  std::vector<std::string> out;
  for (const InputCase& c : cases) out.push_back(c.stem);
  return out;
}

TEST(InferInputs, FolderOfVolumesInNaturalOrderWithoutMasksAndHiddenFiles) {
  testing::TempDir dir;
  for (const char* name : {"volume-10.nii", "volume-2.nii.gz", "segmentation-2.nii.gz",
                           ".volume-3.tmp-1-1.nii.gz", "notes.txt", "ct.mha", "synth.json"})
    touch(dir / name);
  const auto cases = discover_inputs(dir.path());
  EXPECT_EQ(stems(cases), (std::vector<std::string>{"ct", "volume-2", "volume-10"}));
  EXPECT_EQ(cases[1].path, dir / "volume-2.nii.gz");
}

TEST(InferInputs, SingleFileAndDatasetRoots) {
  testing::TempDir dir;
  touch(dir / "one" / "case_7.nrrd");
  EXPECT_EQ(stems(discover_inputs(dir / "one" / "case_7.nrrd")),
            std::vector<std::string>{"case_7"});
  EXPECT_THROW(discover_inputs(dir / "one" / "missing.nii"), InputError);
  touch(dir / "one" / "readme.txt");
  EXPECT_THROW(discover_inputs(dir / "one" / "readme.txt"), InputError);

  // nnU-Net raw: training and test images, never the labels.
  touch(dir / "nn" / "imagesTr" / "liver_10_0000.nii.gz");
  touch(dir / "nn" / "imagesTr" / "liver_2_0000.nii.gz");
  touch(dir / "nn" / "imagesTs" / "liver_5_0000.nii.gz");
  touch(dir / "nn" / "labelsTr" / "liver_2.nii.gz");
  touch(dir / "nn" / "dataset.json");
  EXPECT_EQ(stems(discover_inputs(dir / "nn")),
            (std::vector<std::string>{"liver_2_0000", "liver_5_0000", "liver_10_0000"}));
  // images/ + labels/.
  touch(dir / "il" / "images" / "a.nii.gz");
  touch(dir / "il" / "labels" / "a.nii.gz");
  EXPECT_EQ(stems(discover_inputs(dir / "il")), std::vector<std::string>{"a"});
}

TEST(InferInputs, DicomSeriesFolders) {
  testing::TempDir dir;
  // One series folder given directly: the folder is the case.
  for (const char* n : {"IM0001.dcm", "IM0002.DCM", "DICOMDIR"}) touch(dir / "patient" / n);
  auto cases = discover_inputs(dir / "patient");
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].stem, "patient");
  EXPECT_EQ(cases[0].path, dir / "patient");
  // A folder of series folders (and a NIfTI next to them): one case each.
  touch(dir / "all" / "p2" / "a.dcm");
  touch(dir / "all" / "p10" / "a.dcm");
  touch(dir / "all" / "empty" / "readme.txt");
  touch(dir / "all" / "p3.nii.gz");
  cases = discover_inputs(dir / "all");
  EXPECT_EQ(stems(cases), (std::vector<std::string>{"p2", "p3", "p10"}));
  EXPECT_EQ(cases[0].path, dir / "all" / "p2");
}

TEST(InferInputs, NothingFoundOrTwoCasesOneOutputIsAnError) {
  testing::TempDir dir;
  fs::create_directories(dir / "empty");
  touch(dir / "empty" / "segmentation-1.nii");
  EXPECT_THROW(discover_inputs(dir / "empty"), InputError);
  touch(dir / "dup" / "x.nii");
  touch(dir / "dup" / "x.nii.gz");
  try {
    discover_inputs(dir / "dup");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("x.nii.gz"), std::string::npos) << e.what();
  }
}

TEST(InferInputs, CheckpointLookupInARunFolder) {
  testing::TempDir dir;
  EXPECT_THROW(resolve_checkpoint(dir / "nope"), InputError);
  EXPECT_THROW(resolve_checkpoint(dir.path()), InputError);
  touch(dir / "checkpoint.pt");
  EXPECT_EQ(resolve_checkpoint(dir.path()), dir / "checkpoint.pt");
  touch(dir / "ss" / "checkpoint.pt");
  EXPECT_EQ(resolve_checkpoint(dir.path()), dir / "ss" / "checkpoint.pt");
  touch(dir / "other.pt");
  EXPECT_EQ(resolve_checkpoint(dir / "other.pt"), dir / "other.pt");
  // A loop run: its last finished round's SS, every member of its ensemble.
  touch(dir / "round_1" / "ss" / "checkpoint.pt");
  touch(dir / "round_1" / "selected.json");
  touch(dir / "round_2" / "ss" / "checkpoint.pt");
  touch(dir / "round_2" / "ss_member_1" / "checkpoint.pt");
  EXPECT_EQ(resolve_checkpoints(dir.path()),
            (std::vector<fs::path>{dir / "round_1" / "ss" / "checkpoint.pt"}));
  touch(dir / "round_2" / "selected.json");
  EXPECT_EQ(resolve_checkpoints(dir.path()),
            (std::vector<fs::path>{dir / "round_2" / "ss" / "checkpoint.pt",
                                   dir / "round_2" / "ss_member_1" / "checkpoint.pt"}));
  EXPECT_EQ(resolve_checkpoint(dir.path()), dir / "round_2" / "ss" / "checkpoint.pt");
}

TEST(InferInputs, Shards) {
  const Shard s = parse_shard("1/3");
  EXPECT_EQ(s.index, 1);
  EXPECT_EQ(s.count, 3);
  for (const char* bad : {"3/3", "1/0", "-1/2", "1", "a/b", "1/2/3", "", "1 /2"})
    EXPECT_THROW(parse_shard(bad), InputError) << bad;
  std::vector<InputCase> cases;
  for (const char* n : {"a", "b", "c", "d", "e"}) cases.push_back({n, n});
  EXPECT_EQ(stems(select_shard(cases, {1, 2})), (std::vector<std::string>{"b", "d"}));
  EXPECT_EQ(stems(select_shard(cases, {0, 2})), (std::vector<std::string>{"a", "c", "e"}));
  EXPECT_EQ(stems(select_shard(cases, {0, 1})).size(), 5u);
  EXPECT_TRUE(select_shard(cases, {5, 6}).empty());
}

// The automatic batch: the pixel budget at the model's size, at least 1, at most 16.
TEST(InferInputs, AutomaticBatchFitsThePixelBudget) {
  EXPECT_EQ(auto_batch_size(256), 2);
  EXPECT_EQ(auto_batch_size(96), 14);  // 131072 / 9216 = 14.2
  EXPECT_EQ(auto_batch_size(512), 1);
  EXPECT_EQ(auto_batch_size(64), kMaxAutoBatch);
  EXPECT_EQ(auto_batch_size(0), 1);
  for (int64_t s : {32, 96, 128, 181, 256, 320, 512}) {
    const int64_t b = auto_batch_size(s);
    EXPECT_TRUE(b == 1 || b * s * s <= kAutoBatchPixels) << s;
    EXPECT_TRUE(b == kMaxAutoBatch || (b + 1) * s * s > kAutoBatchPixels) << s;
  }
}

}  // namespace
}  // namespace aslseg::infer
