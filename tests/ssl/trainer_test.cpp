// The SSL stage's trainer end to end on tiny phantoms: losses fall, validation Dice rises,
// interrupted training resumes to bitwise the same weights, unlabelled labels are never read.
#include <gtest/gtest.h>

#include <fstream>

#include "aslseg/checkpoint/checkpoint.h"
#include "aslseg/dataset/dataset.h"
#include "aslseg/dataset/split.h"
#include "aslseg/infer/predictor.h"
#include "aslseg/io/error.h"
#include "aslseg/loop/member_training.h"
#include "aslseg/ssl/trainer.h"
#include "common/test_util.h"

namespace aslseg::ssl {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Four small phantoms (coarse 5 mm voxels, so a 64x64 grid holds a whole adult abdomen and
// tumours are several voxels wide), made once for all tests of this file.
const fs::path& phantom_dir() {
  static testing::TempDir dir;
  static const bool made = [] {
    return testing::run_cli("synth --out " + (dir / "data").string() +
                            " --cases 4 --seed 3 --size 64,64,16 --spacing 5,5,5 "
                            "--tumours 2,3 --tumour-radius 15,30") == 0;
  }();
  EXPECT_TRUE(made);
  static const fs::path data = dir / "data";
  return data;
}

TrainParams tiny_params(const std::string& paradigm, int64_t steps) {
  TrainParams p;
  p.seed = 5;
  p.device = "cpu";
  p.spec.context = 1;
  p.spec.image_size = 64;
  p.spec.unet.in_channels = 3;
  p.spec.unet.base_width = 8;
  p.spec.unet.depth = 3;
  p.spec.unet.dropout = paradigm == "ua_mt" ? 0.1 : 0.0;
  p.data.context = 1;
  p.data.image_size = 64;
  p.data.workers = 2;
  p.ssl.paradigm = paradigm;
  p.ssl.rampup_steps = steps / 2;
  // A run this short needs a teacher that follows the student closely (the default 0.99
  // averages over ~100 steps) and fewer MC-dropout passes to stay quick.
  p.ssl.ema_decay = 0.9;
  p.ssl.mc_samples = 2;
  p.optim.steps = steps;
  p.optim.lr = 3e-3;
  p.optim.batch_labelled = 4;
  p.optim.batch_unlabelled = 4;
  p.optim.checkpoint_every = 10;
  p.optim.validate_every = steps;
  p.optim.log_every = 5;
  return p;
}

struct Sets {
  dataset::Dataset ds;
  dataset::TrainingSet training;
  std::vector<dataset::LabelledCase> validation;
};

// Cases 0 and 1 labelled, 2 unlabelled, 3 validation.
Sets make_sets(const fs::path& data) {
  Sets s{dataset::discover(data), {}, {}};
  dataset::Split split;
  split.labelled = {"0", "1"};
  split.unlabelled = {"2"};
  split.test = {"3"};
  s.training = split.training_set(s.ds);
  s.validation = split.evaluation_set(s.ds).test;
  return s;
}

std::vector<json> read_jsonl(const fs::path& p) {
  std::vector<json> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) out.push_back(json::parse(line));
  return out;
}

// Every parameter (and buffer, unless told not to) of a checkpoint written with params p,
// module by module.
std::vector<torch::Tensor> saved_weights(const TrainParams& p, const fs::path& ckpt,
                                         bool with_buffers = true) {
  auto paradigm = make_paradigm(p.ssl, p.spec.unet, torch::kCPU, p.seed + 1);
  checkpoint::load(ckpt, {paradigm->modules(), nullptr, {}});
  std::vector<torch::Tensor> out;
  for (const auto& [name, module] : paradigm->modules()) {
    for (const auto& t : module->parameters()) out.push_back(t.clone());
    if (with_buffers)
      for (const auto& t : module->buffers()) out.push_back(t.clone());
  }
  return out;
}

double max_gap(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double gap = 0.0;
  for (size_t i = 0; i < a.size(); ++i)
    gap = std::max(gap, (a[i] - b[i]).abs().max().item<double>());
  return gap;
}

TEST(SslTrainer, ResumedRunReachesBitwiseTheSameWeights) {
  const Sets s = make_sets(phantom_dir());
  testing::TempDir dir;
  TrainParams p = tiny_params("mean_teacher", 24);
  p.optim.validate_every = 1000;  // validation plays no part in the weights
  const auto full = train_segmenter(p, s.training, {}, dir / "full");
  ASSERT_TRUE(full.finished);
  // Interrupted after 10 steps (a checkpoint), then again after 7 more, then finished.
  TrainParams part = p;
  part.max_steps_this_run = 10;
  EXPECT_FALSE(train_segmenter(part, s.training, {}, dir / "resumed").finished);
  part.max_steps_this_run = 7;
  EXPECT_FALSE(train_segmenter(part, s.training, {}, dir / "resumed").finished);
  part.max_steps_this_run = 0;
  const auto resumed = train_segmenter(part, s.training, {}, dir / "resumed");
  ASSERT_TRUE(resumed.finished);

  const auto weights = [&](const fs::path& ckpt) { return saved_weights(p, ckpt); };
  const auto wa = weights(full.checkpoint);
  const auto wb = weights(resumed.checkpoint);
  ASSERT_EQ(wa.size(), wb.size());
  for (size_t i = 0; i < wa.size(); ++i) EXPECT_TRUE(torch::equal(wa[i], wb[i])) << "tensor " << i;
  // The resumed run's log has each step once, like the uninterrupted one.
  const auto la = read_jsonl(dir / "full" / "metrics.jsonl");
  const auto lb = read_jsonl(dir / "resumed" / "metrics.jsonl");
  ASSERT_EQ(la.size(), lb.size());
  for (size_t i = 0; i < la.size(); ++i) {
    EXPECT_EQ(la[i]["step"], lb[i]["step"]);
    EXPECT_EQ(la[i]["loss"], lb[i]["loss"]) << "step " << la[i]["step"];
  }
  // And a different seed really gives different weights (the comparison can fail).
  TrainParams other = p;
  other.seed = 6;
  const auto wc = weights(train_segmenter(other, s.training, {}, dir / "other").checkpoint);
  EXPECT_FALSE(torch::equal(wa.front(), wc.front()));
}

// The loop's SS members side by side (loop/member_training.h): two runs on their own threads
// of one process reach bitwise the weights each reaches alone with the same thread count, so
// neither disturbs the other through torch's process-wide generator (initialisation) or
// through the intra-op thread setting.
TEST(SslTrainer, RunsSideBySideGiveBitwiseWhatTheyGiveAlone) {
  const Sets s = make_sets(phantom_dir());
  testing::TempDir dir;
  std::vector<TrainParams> runs(2, tiny_params("supervised", 8));
  runs[1].seed = runs[0].seed + 1;
  ASSERT_FALSE(steps_use_global_generator(runs[0]));
  const loop::MemberPlan one_thread{2, 1};
  std::vector<fs::path> alone(2), together(2);
  for (size_t i = 0; i < 2; ++i)
    loop::run_members(1, one_thread, [&](size_t) {
      alone[i] =
          train_segmenter(runs[i], s.training, {}, dir / ("alone" + std::to_string(i))).checkpoint;
    });
  loop::run_members(2, one_thread, [&](size_t i) {
    together[i] =
        train_segmenter(runs[i], s.training, {}, dir / ("together" + std::to_string(i))).checkpoint;
  });
  for (size_t i = 0; i < 2; ++i) {
    const auto wa = saved_weights(runs[i], alone[i]);
    const auto wb = saved_weights(runs[i], together[i]);
    ASSERT_EQ(wa.size(), wb.size());
    for (size_t t = 0; t < wa.size(); ++t)
      EXPECT_TRUE(torch::equal(wa[t], wb[t])) << "run " << i << " tensor " << t;
  }
  // The two runs differ (the comparison above can fail).
  EXPECT_FALSE(torch::equal(saved_weights(runs[0], alone[0]).front(),
                            saved_weights(runs[1], alone[1]).front()));
}

TEST(SslTrainer, OnlyDropoutMakesStepsDrawFromTheGlobalGenerator) {
  EXPECT_FALSE(steps_use_global_generator(tiny_params("supervised", 1)));
  EXPECT_FALSE(steps_use_global_generator(tiny_params("mean_teacher", 1)));
  EXPECT_FALSE(steps_use_global_generator(tiny_params("cps", 1)));
  EXPECT_TRUE(steps_use_global_generator(tiny_params("ua_mt", 1)));  // adds dropout
  TrainParams p = tiny_params("supervised", 1);
  p.spec.unet.dropout = 0.1;
  EXPECT_TRUE(steps_use_global_generator(p));
}

// The loop's warm start: a fresh run with init_from begins at that checkpoint's weights (with
// a vanishing learning rate it stays there), where the same run without it starts at random.
TEST(SslTrainer, WarmStartBeginsAtTheGivenWeights) {
  const Sets s = make_sets(phantom_dir());
  testing::TempDir dir;
  const TrainParams p = tiny_params("supervised", 6);
  const auto first = train_segmenter(p, s.training, {}, dir / "first");
  ASSERT_TRUE(first.finished);
  TrainParams warm = p;
  warm.seed = 9;  // other random weights, were they used
  warm.optim.steps = 2;
  warm.optim.lr = 1e-12;
  const auto cold = train_segmenter(warm, s.training, {}, dir / "cold");
  warm.init_from = first.checkpoint;
  const auto warmed = train_segmenter(warm, s.training, {}, dir / "warm");
  // Parameters only: batch norm's running statistics move with every training pass.
  const auto w0 = saved_weights(p, first.checkpoint, false);
  ASSERT_EQ(saved_weights(p, warmed.checkpoint, false).size(), w0.size());
  EXPECT_LT(max_gap(saved_weights(p, warmed.checkpoint, false), w0), 1e-5);
  EXPECT_GT(max_gap(saved_weights(p, cold.checkpoint, false), w0), 1e-2);
  // A missing checkpoint to start from is an error naming it, not a silent cold start.
  warm.init_from = dir / "missing.pt";
  try {
    train_segmenter(warm, s.training, {}, dir / "warm_missing");
    ADD_FAILURE() << "started without the checkpoint";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.pt"), std::string::npos) << e.what();
  }
}

TEST(SslTrainer, ChangedConfigurationIsNotResumedSilently) {
  const Sets s = make_sets(phantom_dir());
  testing::TempDir dir;
  TrainParams p = tiny_params("supervised", 4);
  train_segmenter(p, s.training, {}, dir / "run");
  p.optim.lr = 0.5;
  try {
    train_segmenter(p, s.training, {}, dir / "run");
    ADD_FAILURE() << "resumed with another learning rate";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("optim.lr"), std::string::npos) << e.what();
  }
}

// Unlabelled cases' label files are made unreadable: training must not notice.
TEST(SslTrainer, UnlabelledLabelsAreNeverRead) {
  testing::TempDir dir;
  const fs::path data = dir / "data";
  fs::create_directories(data);
  for (const auto& e : fs::directory_iterator(phantom_dir()))
    fs::copy(e.path(), data / e.path().filename());
  std::ofstream(data / "segmentation-2.nii.gz", std::ios::trunc) << "not a volume";
  const Sets s = make_sets(data);
  TrainParams p = tiny_params("mean_teacher", 4);
  const auto r = train_segmenter(p, s.training, {}, dir / "run");
  EXPECT_TRUE(r.finished);
}

class SslTrainerParadigm : public ::testing::TestWithParam<std::string> {};

// UA-MT adds dropout when the config has none (it needs it for Monte-Carlo uncertainty): the
// net's validation and the saved spec must describe the net as built, so that the run validates
// and `aslseg infer` can rebuild it. A config without dropout once crashed at validation.
TEST(SslTrainer, UaMtWithoutConfiguredDropoutValidatesAndSavesTheNetAsBuilt) {
  const Sets s = make_sets(phantom_dir());
  testing::TempDir dir;
  TrainParams p = tiny_params("ua_mt", 2);
  p.spec.unet.dropout = 0.0;
  const auto result = train_segmenter(p, s.training, s.validation, dir / "run");
  ASSERT_TRUE(result.finished);
  EXPECT_TRUE(result.last_validation.contains("tumour_dice")) << result.last_validation.dump();
  const json meta = checkpoint::read_meta(result.checkpoint);
  EXPECT_GT(meta.at("spec").at("unet").at("dropout").get<double>(), 0.0) << meta.dump();
  EXPECT_NO_THROW(infer::Predictor::from_checkpoint(result.checkpoint, torch::kCPU));
}

// Each paradigm: the supervised loss falls and the validation tumour Dice rises above the
// untrained net's (fixed seeds; tiny net, tiny phantoms).
TEST_P(SslTrainerParadigm, LossFallsAndTumourDiceRises) {
  const Sets s = make_sets(phantom_dir());
  testing::TempDir dir;
  // UA-MT learns more slowly: its student trains with dropout and its consistency is masked.
  TrainParams p = tiny_params(GetParam(), GetParam() == "ua_mt" ? 320 : 200);
  TrainParams untrained = p;
  untrained.optim.steps = 1;
  untrained.optim.lr = 1e-9;
  const auto before = train_segmenter(untrained, s.training, s.validation, dir / "untrained");
  const auto after = train_segmenter(p, s.training, s.validation, dir / "trained");
  const auto log = read_jsonl(dir / "trained" / "metrics.jsonl");
  double first = -1, last = -1;
  for (const auto& l : log) {
    if (!l.contains("sup")) continue;
    if (first < 0) first = l["sup"].get<double>();
    last = l["sup"].get<double>();
  }
  EXPECT_LT(last, 0.7 * first) << "supervised loss " << first << " -> " << last;
  const double d0 = before.last_validation.value("tumour_dice", -1.0);
  const double d1 = after.last_validation.value("tumour_dice", -1.0);
  EXPECT_GT(d1, d0 + 0.05) << "tumour Dice " << d0 << " -> " << d1;
}

INSTANTIATE_TEST_SUITE_P(SslTrainer, SslTrainerParadigm,
                         ::testing::Values("supervised", "mean_teacher", "ua_mt", "cps"));

}  // namespace
}  // namespace aslseg::ssl
