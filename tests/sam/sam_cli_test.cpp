// `aslseg sam predict` and `aslseg sam finetune` through the real binary: the mask volume has
// the input's exact geometry, is nonzero only on the asked slice and equals the in-process
// predictor's mask there; bad slice, bad box, corrupt or mismatched checkpoints and unknown
// parameters exit 2 with a message naming the problem; a fine-tuning run writes both
// checkpoints, and its .pt predicts without a --config.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "aslseg/io/volume_io.h"
#include "aslseg/models/sam.h"
#include "aslseg/sam/sam_checkpoint.h"
#include "aslseg/sam/sam_predictor.h"
#include "common/sam_fixtures.h"
#include "common/test_util.h"

namespace aslseg::sam {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kRepoRoot = fs::path(ASLSEG_SOURCE_DIR);
constexpr int64_t kSlice = 5;
constexpr const char* kBox = "20,18,44,40";

// The parity fixture's checkpoint when present, else a seeded random tiny SAM written in the
// official layout (so these tests never skip).
struct SamFiles {
  fs::path pth;
  fs::path config;
};

SamFiles sam_files(const testing::TempDir& tmp) {
  const auto lookup = testing::find_sam_fixtures();
  if (!lookup.dir.empty() && fs::exists(lookup.dir / "tiny_sam.pth"))
    return {lookup.dir / "tiny_sam.pth", lookup.dir / "tiny_sam.json"};
  const fs::path config = kRepoRoot / "configs/sam/tiny.json";
  torch::manual_seed(1);
  save_sam_pth(models::Sam(models::load_sam_config(config)), tmp / "tiny.pth");
  return {tmp / "tiny.pth", config};
}

// The one JSON line `sam predict` prints on stdout.
json result_line(const fs::path& log) {
  std::istringstream in(testing::read_text(log));
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line.front() == '{') return json::parse(line);
  return json();
}

class SamCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new testing::TempDir();
    const fs::path log = tmp_->path() / "synth.log";
    ASSERT_EQ(testing::run_cli("synth --out " + (tmp_->path() / "data").string() +
                                   " --cases 3 --seed 4 --size 64,56,12 --spacing 5,5,8 "
                                   "--tumours 2,3 --tumour-radius 15,30",
                               log),
              0)
        << testing::read_text(log);
  }
  static void TearDownTestSuite() { delete tmp_; }

  static fs::path volume() { return tmp_->path() / "data" / "volume-0.nii.gz"; }
  static std::string predict_args(const SamFiles& f, const std::string& extra) {
    return "sam predict --checkpoint " + f.pth.string() + " --config " + f.config.string() +
           " --image " + volume().string() + " " + extra;
  }

  static testing::TempDir* tmp_;
};
testing::TempDir* SamCli::tmp_ = nullptr;

TEST_F(SamCli, PredictWritesTheSliceMaskOnTheInputGrid) {
  testing::TempDir t;
  const SamFiles f = sam_files(t);
  const fs::path out = t / "mask.nii.gz";
  const fs::path log = t / "log.txt";
  ASSERT_EQ(testing::run_cli(predict_args(f, "--slice " + std::to_string(kSlice) + " --box " +
                                                 kBox + " --point 30,30,1 --out " + out.string()),
                             log),
            0)
      << testing::read_text(log);
  const Image image = io::read_image(volume());
  const LabelMap mask = io::read_labels(out);
  EXPECT_EQ(mask.geometry.difference(image.geometry, 1e-6), "");
  int64_t on_slice = 0;
  for (int64_t z = 0; z < mask.geometry.size[2]; ++z)
    for (int64_t i = 0; i < mask.geometry.slice_voxels(); ++i) {
      const uint8_t v = mask.slice(z)[i];
      ASSERT_LE(v, 1);
      if (z != kSlice) ASSERT_EQ(v, 0) << "mask outside slice " << kSlice << " at z " << z;
      on_slice += v;
    }
  // The same prediction in process: same pixels, same orientation (x fastest).
  SamPredictor predictor(models::load_sam(models::load_sam_config(f.config), f.pth), torch::kCPU);
  predictor.set_slice(image, kSlice, preprocess::WindowParams{});
  const SamPrediction p = predictor.predict(
      SamPrompts::single(std::array<float, 4>{20, 18, 44, 40}, {{30, 30}}, {1}), false);
  const torch::Tensor expected = p.masks[0][0].to(torch::kUInt8).contiguous();
  const auto* e = expected.data_ptr<uint8_t>();
  int64_t agree = 0;
  for (int64_t i = 0; i < mask.geometry.slice_voxels(); ++i) agree += mask.slice(kSlice)[i] == e[i];
  EXPECT_EQ(agree, mask.geometry.slice_voxels());
  EXPECT_EQ(on_slice, expected.sum().item<int64_t>());
  const json line = result_line(log);
  ASSERT_TRUE(line.contains("iou_predictions")) << testing::read_text(log);
  EXPECT_EQ(line["iou_predictions"].size(), 1u);
  EXPECT_NEAR(line["iou_predictions"][0].get<double>(), p.iou[0][0].item<double>(), 1e-5);
  EXPECT_EQ(line["pixels"], on_slice);
}

TEST_F(SamCli, MultimaskPrintsThreeIous) {
  testing::TempDir t;
  const SamFiles f = sam_files(t);
  const fs::path log = t / "log.txt";
  ASSERT_EQ(testing::run_cli(predict_args(f, "--slice 2 --box " + std::string(kBox) +
                                                 " --multimask --out " + (t / "m.nii.gz").string()),
                             log),
            0)
      << testing::read_text(log);
  const json line = result_line(log);
  ASSERT_EQ(line["iou_predictions"].size(), 3u);
  // The written mask is the best-rated one.
  const auto ious = line["iou_predictions"].get<std::vector<double>>();
  const auto best = std::max_element(ious.begin(), ious.end()) - ious.begin();
  EXPECT_EQ(line["written_mask"], best);
}

TEST_F(SamCli, BadSliceBoxAndCheckpointExitTwoNamingTheProblem) {
  testing::TempDir t;
  const SamFiles f = sam_files(t);
  const fs::path out = t / "mask.nii.gz";
  auto expect_fail = [&](const std::string& args, const std::string& needle) {
    const fs::path log = t / "fail.txt";
    EXPECT_EQ(testing::run_cli(args, log), 2) << args << "\n" << testing::read_text(log);
    const std::string text = testing::read_text(log);
    EXPECT_NE(text.find(needle), std::string::npos) << "missing '" << needle << "' in:\n" << text;
    EXPECT_FALSE(fs::exists(out)) << "a failed run left a mask";
  };
  expect_fail(predict_args(f, "--slice 12 --box 1,1,5,5 --out " + out.string()),
              "--slice 12 is out of range: the volume has 12 slices (0..11)");
  expect_fail(predict_args(f, "--slice -1 --box 1,1,5,5 --out " + out.string()), "out of range");
  expect_fail(predict_args(f, "--slice 3 --box 10,10,70,20 --out " + out.string()),
              "lies outside the 64x56 slice");
  expect_fail(predict_args(f, "--slice 3 --box 10,10,20 --out " + out.string()),
              "--box: expected 4 comma-separated values");
  expect_fail(predict_args(f, "--slice 3 --point 10,10,3 --out " + out.string()),
              "the label must be 1");
  expect_fail(predict_args(f, "--slice 3 --out " + out.string()), "--box and/or");

  // A corrupt checkpoint: the first half of the real one.
  const std::string bytes = testing::read_text(f.pth);
  const fs::path truncated = t / "truncated.pth";
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  expect_fail("sam predict --checkpoint " + truncated.string() + " --config " + f.config.string() +
                  " --image " + volume().string() + " --slice 3 --box " + kBox + " --out " +
                  out.string(),
              truncated.string());
  const fs::path garbage = t / "garbage.pth";
  std::ofstream(garbage) << "not a checkpoint at all";
  expect_fail("sam predict --checkpoint " + garbage.string() + " --config " + f.config.string() +
                  " --image " + volume().string() + " --slice 3 --box " + kBox + " --out " +
                  out.string(),
              "not a zip");
  // Weights of another model: the first mismatching key is named.
  expect_fail("sam predict --checkpoint " + f.pth.string() + " --config " +
                  (kRepoRoot / "configs/sam/vit_b.json").string() + " --image " +
                  volume().string() + " --slice 3 --box " + kBox + " --out " + out.string(),
              "image_encoder.");
  // A .pth without --config cannot be built.
  expect_fail("sam predict --checkpoint " + f.pth.string() + " --image " + volume().string() +
                  " --slice 3 --box " + kBox + " --out " + out.string(),
              "--config");
}

TEST_F(SamCli, FinetuneWritesCheckpointsThatPredictAlone) {
  testing::TempDir t;
  const fs::path out = t / "run";
  const fs::path log = t / "log.txt";
  const std::string base =
      "sam finetune --config " + (kRepoRoot / "configs/sam/tiny.json").string() +
      " --checkpoint none --data " + (tmp_->path() / "data").string() + " --out " + out.string();
  ASSERT_EQ(
      testing::run_cli(base + " --params " + (kRepoRoot / "configs/sam_finetune.json").string() +
                           " --set steps=4 --set batch_slices=2 --set device=cpu "
                           "--set window.level=50",
                       log),
      0)
      << testing::read_text(log);
  for (const char* name : {"sam_finetuned.pt", "sam_finetuned.pth", "sam_finetune_log.jsonl",
                           "sam_finetune_config.json", "log.txt"})
    EXPECT_TRUE(fs::exists(out / name)) << name;
  const json cfg = json::parse(testing::read_text(out / "sam_finetune_config.json"));
  EXPECT_EQ(cfg["finetune"]["steps"], 4);
  EXPECT_EQ(cfg["finetune"]["window"]["level"], 50.0);
  // The .pt carries its config: no --config needed.
  const fs::path plog = t / "predict.txt";
  EXPECT_EQ(testing::run_cli("sam predict --checkpoint " + (out / "sam_finetuned.pt").string() +
                                 " --image " + volume().string() + " --slice 4 --box " + kBox +
                                 " --out " + (t / "m.nii.gz").string(),
                             plog),
            0)
      << testing::read_text(plog);

  const fs::path bad = t / "bad.txt";
  EXPECT_EQ(testing::run_cli(base + "2 --set stepz=4", bad), 2);
  EXPECT_NE(testing::read_text(bad).find("unknown key 'stepz'"), std::string::npos)
      << testing::read_text(bad);
}

TEST(SamCliHelp, TeachesWithExamples) {
  testing::TempDir t;
  const fs::path log = t / "help.txt";
  ASSERT_EQ(testing::run_cli("sam predict --help", log), 0);
  const std::string predict = testing::read_text(log);
  EXPECT_NE(predict.find("aslseg sam predict --checkpoint"), std::string::npos) << predict;
  EXPECT_NE(predict.find("x = column"), std::string::npos);
  ASSERT_EQ(testing::run_cli("sam finetune --help", log), 0);
  EXPECT_NE(testing::read_text(log).find("aslseg sam finetune --config"), std::string::npos);
  // The command is no longer a "not built yet" stub.
  ASSERT_EQ(testing::run_cli("--help", log), 0);
  const std::string top = testing::read_text(log);
  const auto at = top.find("sam ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(top.find("not built yet: needs the SAM port"), std::string::npos);
}

}  // namespace
}  // namespace aslseg::sam
