// `aslseg synth` end to end (the real binary) and the parallel set writer.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "aslseg/io/error.h"
#include "aslseg/io/volume_io.h"
#include "aslseg/synth/synth_set.h"
#include "common/test_util.h"

namespace aslseg::synth {
namespace {

namespace fs = std::filesystem;
using aslseg::testing::run_cli;


class SynthTempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("aslseg_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

PhantomParams cli_params() {
  PhantomParams p;
  p.size = {48, 40, 16};
  return p;
}

using SynthCli = SynthTempDir;

TEST_F(SynthCli, WritesLitsLayoutThatReadsBackExactly) {
  ASSERT_EQ(run_cli("synth --out " + dir_.string() + " --cases 2 --seed 7 --size 48,40,16"), 0);
  const PhantomParams p = cli_params();
  const Geometry expected = phantom_geometry(p);
  nlohmann::json manifest;
  std::ifstream(dir_ / "synth.json") >> manifest;
  EXPECT_EQ(manifest["case_count"], 2);
  EXPECT_EQ(manifest["seed"], 7);
  EXPECT_EQ(manifest["layout"], "lits");
  ASSERT_EQ(manifest["cases"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const fs::path image = dir_ / ("volume-" + std::to_string(i) + ".nii.gz");
    const fs::path label = dir_ / ("segmentation-" + std::to_string(i) + ".nii.gz");
    ASSERT_TRUE(fs::exists(image)) << image;
    ASSERT_TRUE(fs::exists(label)) << label;
    const Image ct = io::read_image(image);
    const LabelMap labels = io::read_labels_matching(label, ct.geometry);
    EXPECT_TRUE(ct.geometry.matches(expected)) << ct.geometry.difference(expected);
    // The files hold exactly what the generator makes in memory (int16 loses nothing).
    const Phantom ph = make_case(p, 7, static_cast<uint64_t>(i));
    EXPECT_EQ(ct.voxels, ph.ct.voxels) << "case " << i;
    EXPECT_EQ(labels.voxels, ph.labels.voxels) << "case " << i;
    const auto& c = manifest["cases"][static_cast<size_t>(i)];
    EXPECT_EQ(c["image"], image.filename().string());
    EXPECT_EQ(c["liver_voxels"], ph.info.liver_voxels);
    EXPECT_EQ(c["tumour_voxels"], ph.info.tumour_voxels);
    EXPECT_EQ(c["tumours"].size(), ph.info.tumours.size());
  }
}

TEST_F(SynthCli, RotationIsWrittenToTheDirection) {
  ASSERT_EQ(run_cli("synth --out " + dir_.string() +
                    " --cases 1 --seed 3 --size 48,40,16 --rotate-deg 30 --flip z"),
            0);
  PhantomParams p = cli_params();
  p.rotate_z_deg = 30.0;
  p.flip = {false, false, true};
  const Geometry expected = phantom_geometry(p);
  const Geometry got = io::read_geometry(dir_ / "volume-0.nii.gz");
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(got.direction[i], expected.direction[i], 1e-5) << i;
  EXPECT_NEAR(got.direction[0], 0.8660254, 1e-5);
  EXPECT_NEAR(got.direction[8], -1.0, 1e-6);
  EXPECT_TRUE(got.matches(expected)) << got.difference(expected);
  const LabelMap labels = io::read_labels(dir_ / "segmentation-0.nii.gz");
  EXPECT_TRUE(labels.geometry.matches(expected));
}

TEST_F(SynthCli, BadOptionsAreUsageErrors) {
  const std::string out = " --out " + dir_.string();
  EXPECT_EQ(run_cli("synth" + out + " --size 4,40,16"), 2);
  EXPECT_EQ(run_cli("synth" + out + " --size 48,40"), 2);
  EXPECT_EQ(run_cli("synth" + out + " --size 48,forty,16"), 2);
  EXPECT_EQ(run_cli("synth" + out + " --spacing 1,0,1"), 2);
  EXPECT_EQ(run_cli("synth" + out + " --spacing 1,-2,1"), 2);
  EXPECT_EQ(run_cli("synth" + out + " --cases 0"), 2);
  EXPECT_EQ(run_cli("synth" + out + " --flip w"), 2);
  EXPECT_EQ(run_cli("synth" + out + " --tumours 3,1"), 2);
  EXPECT_EQ(run_cli("synth --cases 1"), 2);  // --out is required
  EXPECT_FALSE(fs::exists(dir_ / "volume-0.nii.gz"));
  EXPECT_EQ(run_cli("synth --help"), 0);
}

using SynthSet = SynthTempDir;

TEST_F(SynthSet, CaseFilesDoNotDependOnCaseCountOrThreads) {
  SetOptions few;
  few.params = cli_params();
  few.seed = 99;
  few.cases = 2;
  few.threads = 1;
  few.out_dir = dir_ / "few";
  SetOptions many = few;
  many.cases = 5;
  many.threads = 3;
  many.out_dir = dir_ / "many";
  int calls = 0;
  const auto results = write_set(few, [&](const CaseResult&) { ++calls; });
  EXPECT_EQ(calls, 2);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[1].index, 1);
  std::vector<int> seen;
  write_set(many, [&](const CaseResult& r) { seen.push_back(r.index); });
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4}));
  for (const std::string name : {"volume-1.nii.gz", "segmentation-1.nii.gz"}) {
    const Image a = io::read_image(few.out_dir / name);
    const Image b = io::read_image(many.out_dir / name);
    EXPECT_EQ(a.voxels, b.voxels) << name;
  }
  EXPECT_NE(io::read_image(many.out_dir / "volume-1.nii.gz").voxels,
            io::read_image(many.out_dir / "volume-2.nii.gz").voxels);
}

TEST_F(SynthSet, AFailingCaseStopsTheSetWithTheError) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "blocker") << "a file where the output folder should be";
  SetOptions o;
  o.params = cli_params();
  o.cases = 3;
  o.out_dir = dir_ / "blocker";
  EXPECT_ANY_THROW(write_set(o, [](const CaseResult&) {}));
  o.out_dir = dir_ / "ok";
  o.cases = 0;
  EXPECT_THROW(write_set(o, [](const CaseResult&) {}), InputError);
}

}  // namespace
}  // namespace aslseg::synth
