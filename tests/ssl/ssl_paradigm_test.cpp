// The four SSL paradigms on a tiny synthetic problem: each learns, and each keeps the rules of
// the paper it follows (EMA teacher, UA-MT certainty mask, CPS cross terms, ramp-ups).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <set>
#include <string>

#include "aslseg/io/error.h"
#include "aslseg/ssl/cps.h"
#include "aslseg/ssl/losses.h"
#include "aslseg/ssl/mean_teacher.h"
#include "aslseg/ssl/paradigm.h"
#include "aslseg/ssl/slice_data.h"
#include "aslseg/ssl/ua_mt.h"

namespace aslseg::ssl {
namespace {

constexpr int64_t kBatch = 2;
constexpr int64_t kSize = 16;
constexpr int64_t kTrainSteps = 30;
constexpr double kLearningRate = 1e-2;
const torch::Device kCpu(torch::kCPU);

models::UNetOptions tiny_unet() {
  models::UNetOptions o;
  o.in_channels = 3;
  o.base_width = 4;
  o.depth = 3;
  return o;
}

// Slices holding one Gaussian blob each; the label thresholds the blob (1 "liver" above 0.3,
// 2 "tumour" above 0.7), so labels are a function of the image. A 1-pixel border is padding.
Batch synthetic_batch(uint64_t seed, bool labelled) {
  torch::manual_seed(seed);
  const torch::Tensor coords = torch::arange(kSize, torch::kFloat);
  const torch::Tensor yy = coords.view({kSize, 1});
  const torch::Tensor xx = coords.view({1, kSize});
  std::vector<torch::Tensor> blobs;
  for (int64_t b = 0; b < kBatch; ++b) {
    const double cy = 5.0 + 6.0 * torch::rand({1}).item<double>();
    const double cx = 5.0 + 6.0 * torch::rand({1}).item<double>();
    const double sigma = 2.5 + 1.5 * torch::rand({1}).item<double>();
    blobs.push_back(torch::exp(-((yy - cy).pow(2) + (xx - cx).pow(2)) / (2 * sigma * sigma)));
  }
  const torch::Tensor blob = torch::stack(blobs);  // [B, H, W]
  Batch batch;
  batch.image =
      blob.unsqueeze(1).repeat({1, 3, 1, 1}) + 0.05 * torch::randn({kBatch, 3, kSize, kSize});
  batch.valid = torch::zeros({kBatch, kSize, kSize});
  batch.valid.slice(1, 1, kSize - 1).slice(2, 1, kSize - 1).fill_(1.0);
  if (labelled) batch.label = blob.gt(0.3).to(torch::kLong) + blob.gt(0.7).to(torch::kLong);
  return batch;
}

SslParams params_for(const std::string& name) {
  SslParams p;
  p.paradigm = name;
  p.rampup_steps = 10;  // the consistency term is active during the short runs below
  return p;
}

bool same_tensor(const torch::Tensor& a, const torch::Tensor& b) { return torch::equal(a, b); }

class SslParadigmTraining : public ::testing::TestWithParam<std::string> {};

TEST_P(SslParadigmTraining, SupervisedLossFallsAndTermsAddUp) {
  auto paradigm = make_paradigm(params_for(GetParam()), tiny_unet(), kCpu, 7);
  EXPECT_EQ(paradigm->name(), GetParam());
  const Batch labelled = synthetic_batch(11, true);
  const Batch unlabelled = synthetic_batch(12, false);
  paradigm->train(true);
  torch::optim::Adam adam(paradigm->trainable_parameters(),
                          torch::optim::AdamOptions(kLearningRate));
  double first = 0.0, last = 0.0;
  for (int64_t step = 0; step < kTrainSteps; ++step) {
    torch::manual_seed(1000 + step);  // as the trainer does: dropout depends on the step
    adam.zero_grad();
    const LossTerms t =
        paradigm->loss(labelled, paradigm->uses_unlabelled() ? unlabelled : Batch{}, step);
    ASSERT_TRUE(std::isfinite(t.total.item<double>()));
    ASSERT_TRUE(t.terms.count("sup"));
    const double sup = t.terms.at("sup");
    if (GetParam() == "supervised") {
      EXPECT_NEAR(t.total.item<double>(), sup, 1e-6);
    } else {
      ASSERT_TRUE(t.terms.count("cons") && t.terms.count("cons_weight"));
      EXPECT_NEAR(t.total.item<double>(), sup + t.terms.at("cons_weight") * t.terms.at("cons"),
                  1e-5);
    }
    t.total.backward();
    adam.step();
    paradigm->after_step(step);
    if (step == 0) first = sup;
    last = sup;
  }
  EXPECT_LT(last, 0.7 * first) << GetParam() << ": sup " << first << " -> " << last;
}

INSTANTIATE_TEST_SUITE_P(SslParadigm, SslParadigmTraining,
                         ::testing::Values("supervised", "mean_teacher", "ua_mt", "cps"),
                         [](const auto& info) { return info.param; });

TEST(SslParadigm, MakeParadigmRejectsAnUnknownName) {
  SslParams p;
  p.paradigm = "fixmatch";
  try {
    make_paradigm(p, tiny_unet(), kCpu, 0);
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              "unknown SSL paradigm 'fixmatch' (supervised, mean_teacher, ua_mt, cps)");
  }
  EXPECT_THROW(nlohmann::json({{"paradigm", "fixmatch"}}).get<SslParams>(), InputError);
}

TEST(SslParadigm, ParamsJsonRoundTripAndValidation) {
  SslParams p;
  p.paradigm = "ua_mt";
  p.consistency_weight = 0.5;
  p.rampup_steps = 33;
  p.ema_decay = 0.999;
  p.input_noise = 0.2;
  p.mc_samples = 8;
  p.uncertainty_start = 0.5;
  p.uncertainty_end = 0.9;
  const SslParams q = nlohmann::json(p).get<SslParams>();
  EXPECT_EQ(nlohmann::json(q), nlohmann::json(p));
  EXPECT_EQ(q.mc_samples, 8);

  const SslParams partial = nlohmann::json({{"ema_decay", 0.9}}).get<SslParams>();
  EXPECT_EQ(partial.ema_decay, 0.9);
  EXPECT_EQ(partial.paradigm, SslParams{}.paradigm);  // missing keys keep defaults
  for (const char* bad :
       {R"({"ema_decy": 0.9})", R"({"ema_decay": 1.5})", R"({"mc_samples": 0})",
        R"({"rampup_steps": "many"})", R"({"input_noise": -0.1})", R"({"uncertainty_end": 2})"})
    EXPECT_THROW(nlohmann::json::parse(bad).get<SslParams>(), InputError) << bad;
}

TEST(SslParadigm, SupervisedIgnoresTheUnlabelledBatch) {
  auto paradigm = make_paradigm(params_for("supervised"), tiny_unet(), kCpu, 3);
  EXPECT_FALSE(paradigm->uses_unlabelled());
  paradigm->train(true);
  const Batch labelled = synthetic_batch(21, true);
  const LossTerms alone = paradigm->loss(labelled, Batch{}, 0);
  const LossTerms with_u = paradigm->loss(labelled, synthetic_batch(22, false), 0);
  EXPECT_EQ(alone.total.item<double>(), with_u.total.item<double>());
  EXPECT_EQ(alone.terms.size(), 1u);
  EXPECT_EQ(paradigm->modules().size(), 1u);
  EXPECT_EQ(paradigm->modules()[0].first, "net");
  EXPECT_EQ(paradigm->trainable_parameters().size(),
            paradigm->inference_net()->parameters().size());
  EXPECT_THROW(paradigm->loss(Batch{}, Batch{}, 0), std::invalid_argument);
}

// kUnsupervisedLabel pixels become "organ only" pixels: the image mask and the supervised mask
// are untouched, the target says liver there, and the supervised loss is the one computed
// with -log(p_liver + p_tumour) on them and no Dice term for them.
TEST(SslParadigm, UnsupervisedLabelPixelsAreOrganOnlyInTheSupervisedLoss) {
  Batch labelled = synthetic_batch(21, true);
  labelled.label = labelled.label.to(torch::kUInt8);
  Batch partial = labelled;
  partial.label = labelled.label.clone();
  partial.label.masked_fill_(labelled.label == 1, kUnsupervisedLabel);
  const JointBatch full = join_batches(labelled, synthetic_batch(22, false), kCpu);
  const JointBatch part = join_batches(partial, synthetic_batch(22, false), kCpu);
  EXPECT_FALSE(full.organ_only.defined()) << "expert labels: nothing organ-only";
  EXPECT_TRUE(torch::equal(part.valid, full.valid));
  EXPECT_TRUE(torch::equal(part.labelled_valid, full.labelled_valid));
  EXPECT_TRUE(torch::equal(part.label, full.label)) << "the liver pixels read as liver";
  const torch::Tensor liver = labelled.label.to(torch::kLong) == 1;
  ASSERT_GT(liver.sum().item<int64_t>(), 0);
  ASSERT_TRUE(part.organ_only.defined());
  EXPECT_TRUE(torch::equal(part.organ_only, liver.to(torch::kFloat)));

  auto paradigm = make_paradigm(params_for("supervised"), tiny_unet(), kCpu, 3);
  paradigm->train(false);
  const double got = paradigm->loss(partial, Batch{}, 0).total.item<double>();
  const torch::Tensor logits = paradigm->inference_net()->forward(partial.image);
  // The same loss written out: per-pixel CE with the organ pixels' marginal, Dice without them.
  const torch::Tensor log_p = torch::log_softmax(logits, 1);
  const torch::Tensor nll = -log_p.gather(1, full.label.unsqueeze(1)).squeeze(1);
  const torch::Tensor organ = -torch::log(torch::softmax(logits, 1).slice(1, 1, 3).sum(1));
  const torch::Tensor o = part.organ_only;
  const torch::Tensor w = full.labelled_valid;
  const double ce = ((nll * (1 - o) + organ * o) * w).sum().item<double>() / w.sum().item<double>();
  const double dice = soft_dice_loss(logits, full.label, w * (1 - o)).item<double>();
  EXPECT_NEAR(got, ce + dice, 1e-5);
  EXPECT_GT(std::abs(got - paradigm->loss(labelled, Batch{}, 0).total.item<double>()), 1e-4)
      << "the liver pixels count as liver in the full label";
}

TEST(SslParadigm, MeanTeacherStartsEqualAndItsTeacherGetsNoGradient) {
  auto paradigm = make_paradigm(params_for("mean_teacher"), tiny_unet(), kCpu, 5);
  auto* mt = dynamic_cast<MeanTeacher*>(paradigm.get());
  ASSERT_NE(mt, nullptr);
  const auto sp = mt->student()->parameters();
  const auto tp = mt->teacher()->parameters();
  ASSERT_EQ(sp.size(), tp.size());
  for (size_t i = 0; i < sp.size(); ++i) {
    EXPECT_TRUE(same_tensor(sp[i], tp[i])) << "parameter " << i;
    EXPECT_FALSE(tp[i].requires_grad());
  }
  EXPECT_EQ(paradigm->inference_net().ptr(), mt->teacher().ptr());
  torch::manual_seed(5);  // make_paradigm seeds the initialisation with the run seed
  EXPECT_TRUE(same_tensor(models::UNet(tiny_unet())->parameters()[0], sp[0]));
  EXPECT_EQ(paradigm->trainable_parameters().size(), sp.size());

  paradigm->train(true);
  paradigm->loss(synthetic_batch(31, true), synthetic_batch(32, false), 20).total.backward();
  for (const auto& t : tp) EXPECT_FALSE(t.grad().defined());
  double student_grad = 0.0;
  for (const auto& s : sp) student_grad += s.grad().abs().sum().item<double>();
  EXPECT_GT(student_grad, 0.0);
}

TEST(SslParadigm, MeanTeacherFollowsTheEmaRule) {
  auto paradigm = make_paradigm(params_for("mean_teacher"), tiny_unet(), kCpu, 5);
  auto* mt = dynamic_cast<MeanTeacher*>(paradigm.get());
  ASSERT_NE(mt, nullptr);
  EXPECT_DOUBLE_EQ(mt->ema_decay_at(0), 0.0);
  EXPECT_DOUBLE_EQ(mt->ema_decay_at(5), 1.0 - 1.0 / 6.0);
  EXPECT_DOUBLE_EQ(mt->ema_decay_at(10000), 0.99);

  paradigm->train(true);
  torch::optim::Adam adam(paradigm->trainable_parameters(),
                          torch::optim::AdamOptions(kLearningRate));
  const Batch labelled = synthetic_batch(41, true);
  const Batch unlabelled = synthetic_batch(42, false);
  for (int64_t step = 0; step < 2; ++step) {
    adam.zero_grad();
    paradigm->loss(labelled, unlabelled, step).total.backward();
    adam.step();
  }
  // The student moved; the teacher has not (after_step not called yet).
  const torch::Tensor s = mt->student()->parameters()[0].detach().clone();
  const torch::Tensor t = mt->teacher()->parameters()[0].detach().clone();
  ASSERT_GT((s - t).abs().max().item<double>(), 1e-4);
  const int64_t step = 5;
  const double a = mt->ema_decay_at(step);
  paradigm->after_step(step);
  const torch::Tensor expected = a * t + (1.0 - a) * s;
  EXPECT_LT((mt->teacher()->parameters()[0] - expected).abs().max().item<double>(), 1e-6);
  // Buffers (BN running statistics) are the student's.
  const auto sb = mt->student()->buffers();
  const auto tb = mt->teacher()->buffers();
  ASSERT_FALSE(sb.empty());
  for (size_t i = 0; i < sb.size(); ++i) EXPECT_TRUE(same_tensor(sb[i], tb[i])) << "buffer " << i;
  // At step 0 the rule copies the student outright.
  paradigm->after_step(0);
  EXPECT_TRUE(same_tensor(mt->teacher()->parameters()[0], mt->student()->parameters()[0]));
}

TEST(SslParadigm, InputNoiseIsSeededByRunSeedAndStep) {
  auto paradigm = make_paradigm(params_for("mean_teacher"), tiny_unet(), kCpu, 5);
  paradigm->train(true);
  const Batch labelled = synthetic_batch(51, true);
  const Batch unlabelled = synthetic_batch(52, false);
  torch::NoGradGuard no_grad;
  torch::manual_seed(1);
  const double cons3 = paradigm->loss(labelled, unlabelled, 3).terms.at("cons");
  torch::manual_seed(2);  // the global generator does not drive the input noise
  EXPECT_EQ(paradigm->loss(labelled, unlabelled, 3).terms.at("cons"), cons3);
  EXPECT_NE(paradigm->loss(labelled, unlabelled, 4).terms.at("cons"), cons3);
  EXPECT_GT(cons3, 0.0);  // student and teacher saw different noise
}

TEST(SslParadigm, ConsistencyWeightFollowsTheRampup) {
  for (const std::string name : {"mean_teacher", "ua_mt", "cps"}) {
    SslParams p = params_for(name);
    p.consistency_weight = 0.5;
    p.rampup_steps = 100;
    auto paradigm = make_paradigm(p, tiny_unet(), kCpu, 1);
    paradigm->train(true);
    const Batch labelled = synthetic_batch(61, true);
    const Batch unlabelled = synthetic_batch(62, false);
    torch::NoGradGuard no_grad;
    const std::vector<std::pair<int64_t, double>> expected{
        {0, 0.5 * std::exp(-5.0)}, {50, 0.5 * std::exp(-1.25)}, {100, 0.5}, {150, 0.5}};
    for (const auto& [step, w] : expected) {
      EXPECT_NEAR(paradigm->loss(labelled, unlabelled, step).terms.at("cons_weight"), w, 1e-12)
          << name << " step " << step;
      EXPECT_DOUBLE_EQ(consistency_weight_at(p, step), w);
    }
  }
}

TEST(SslParadigm, UaMtMasksUncertainPixelsWithARampingThreshold) {
  SslParams p = params_for("ua_mt");
  p.rampup_steps = 100;
  auto paradigm = make_paradigm(p, tiny_unet(), kCpu, 9);  // dropout 0 in tiny_unet()
  auto* ua = dynamic_cast<UaMeanTeacher*>(paradigm.get());
  ASSERT_NE(ua, nullptr);
  EXPECT_DOUBLE_EQ(ua->teacher()->options().dropout, kUaMtDefaultDropout);
  const double ln3 = std::log(3.0);
  EXPECT_NEAR(ua->threshold_at(0), (0.75 + 0.25 * std::exp(-5.0)) * ln3, 1e-12);
  EXPECT_NEAR(ua->threshold_at(50), (0.75 + 0.25 * std::exp(-1.25)) * ln3, 1e-12);
  EXPECT_NEAR(ua->threshold_at(100), ln3, 1e-12);
  EXPECT_LT(ua->threshold_at(20), ua->threshold_at(21));

  const Batch labelled = synthetic_batch(71, true);
  const Batch unlabelled = synthetic_batch(72, false);
  paradigm->train(true);
  torch::NoGradGuard no_grad;
  const LossTerms t = paradigm->loss(labelled, unlabelled, 50);
  ASSERT_TRUE(t.terms.count("certain_frac"));
  EXPECT_GE(t.terms.at("certain_frac"), 0.0);
  EXPECT_LE(t.terms.at("certain_frac"), 1.0);
  EXPECT_DOUBLE_EQ(t.terms.at("threshold"), ua->threshold_at(50));

  // Threshold 0: no pixel is certain, so there is no consistency at all. Threshold ln(C):
  // every pixel short of an exactly uniform mean softmax counts.
  auto certain = [&](double fraction) {
    SslParams q = p;
    q.uncertainty_start = q.uncertainty_end = fraction;
    auto net = make_paradigm(q, tiny_unet(), kCpu, 9);
    net->train(true);
    torch::manual_seed(3);
    return net->loss(labelled, unlabelled, 50).terms;
  };
  const auto none = certain(0.0);
  EXPECT_EQ(none.at("certain_frac"), 0.0);
  EXPECT_EQ(none.at("cons"), 0.0);
  const auto all = certain(1.0);
  EXPECT_GT(all.at("certain_frac"), 0.9);
  EXPECT_GT(all.at("cons"), 0.0);
  EXPECT_LE(certain(0.5).at("certain_frac"), all.at("certain_frac"));

  models::UNetOptions with_dropout = tiny_unet();
  with_dropout.dropout = 0.3;
  auto kept = make_paradigm(p, with_dropout, kCpu, 9);
  EXPECT_DOUBLE_EQ(kept->inference_net()->options().dropout, 0.3);
}

TEST(SslParadigm, CpsNetsStartDifferentAndCrossSuperviseEachOther) {
  auto paradigm = make_paradigm(params_for("cps"), tiny_unet(), kCpu, 13);
  auto* cps = dynamic_cast<CrossPseudoSupervision*>(paradigm.get());
  ASSERT_NE(cps, nullptr);
  const auto a = cps->net_a()->parameters();
  const auto b = cps->net_b()->parameters();
  EXPECT_GT((a[0] - b[0]).abs().max().item<double>(), 1e-3);
  EXPECT_EQ(paradigm->inference_net().ptr(), cps->net_a().ptr());
  EXPECT_EQ(paradigm->trainable_parameters().size(), a.size() + b.size());
  // net_a from the run seed, net_b from seed + 1; the same seed gives the same weights.
  torch::manual_seed(13);
  EXPECT_TRUE(same_tensor(models::UNet(tiny_unet())->parameters()[0], a[0]));
  torch::manual_seed(14);
  EXPECT_TRUE(same_tensor(models::UNet(tiny_unet())->parameters()[0], b[0]));
  auto again = make_paradigm(params_for("cps"), tiny_unet(), kCpu, 13);
  EXPECT_TRUE(same_tensor(
      dynamic_cast<CrossPseudoSupervision*>(again.get())->net_b()->parameters()[0], b[0]));

  // The cross term by hand: CE of each net against the other's argmax over all images.
  const Batch labelled = synthetic_batch(81, true);
  const Batch unlabelled = synthetic_batch(82, false);
  paradigm->train(true);
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::cat({labelled.image, unlabelled.image});
  const torch::Tensor valid = torch::cat({labelled.valid, unlabelled.valid});
  const torch::Tensor la = cps->net_a()->forward(x);
  const torch::Tensor lb = cps->net_b()->forward(x);
  const double expected =
      (cross_entropy(la, lb.argmax(1), valid) + cross_entropy(lb, la.argmax(1), valid))
          .item<double>();
  const LossTerms t = paradigm->loss(labelled, unlabelled, 0);
  EXPECT_NEAR(t.terms.at("cons"), expected, 1e-5);
  EXPECT_NEAR(t.terms.at("sup"), t.terms.at("sup_a") + t.terms.at("sup_b"), 1e-5);
}

}  // namespace
}  // namespace aslseg::ssl
