// Losses of the SSL stage against hand computations and a plain-loop reference.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "aslseg/ssl/losses.h"

namespace aslseg::ssl {
namespace {

constexpr double kTol = 1e-5;
constexpr double kDiceEps = 1e-5;  // the documented soft Dice smoothing

torch::Tensor pixel_logits(std::vector<float> values) {
  const auto c = static_cast<int64_t>(values.size());
  return torch::tensor(values).reshape({1, c, 1, 1});
}

// Plain-loop references (float64), independent of the tensor code under test.
struct Reference {
  double ce = 0, dice = 0, mse = 0;
};

Reference reference(const torch::Tensor& logits, const torch::Tensor& teacher,
                    const torch::Tensor& target, const torch::Tensor& valid) {
  const auto l = logits.to(torch::kDouble).contiguous();
  const auto t = teacher.to(torch::kDouble).contiguous();
  const auto la = l.accessor<double, 4>();
  const auto ta = t.accessor<double, 4>();
  const auto ya = target.accessor<int64_t, 3>();
  const auto va = valid.to(torch::kDouble).contiguous();
  const auto vv = va.accessor<double, 3>();
  const int64_t B = l.size(0), C = l.size(1), H = l.size(2), W = l.size(3);
  std::vector<double> inter(C, 0.0), psum(C, 0.0), gsum(C, 0.0);
  double ce_sum = 0, mse_sum = 0, weight = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        const double v = vv[b][y][x];
        double zs = 0, zt = 0;
        for (int64_t c = 0; c < C; ++c) {
          zs += std::exp(la[b][c][y][x]);
          zt += std::exp(ta[b][c][y][x]);
        }
        for (int64_t c = 0; c < C; ++c) {
          const double ps = std::exp(la[b][c][y][x]) / zs;
          const double pt = std::exp(ta[b][c][y][x]) / zt;
          const double g = ya[b][y][x] == c ? 1.0 : 0.0;
          inter[c] += v * ps * g;
          psum[c] += v * ps;
          gsum[c] += v * g;
          mse_sum += v * (ps - pt) * (ps - pt);
        }
        ce_sum += v * -(la[b][ya[b][y][x]][y][x] - std::log(zs));
        weight += v;
      }
  Reference r;
  r.ce = ce_sum / weight;
  r.mse = mse_sum / (weight * static_cast<double>(C));
  double dice_mean = 0;
  for (int64_t c = 1; c < C; ++c) dice_mean += 2 * inter[c] / (psum[c] + gsum[c] + kDiceEps);
  r.dice = 1.0 - dice_mean / static_cast<double>(C - 1);
  return r;
}

TEST(SslLoss, CrossEntropyOfOnePixelIsMinusLogSoftmax) {
  const torch::Tensor logits = pixel_logits({1.0f, 2.0f, 0.5f});
  const double log_z = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(0.5));
  for (int64_t cls = 0; cls < 3; ++cls) {
    const double expected = -(std::vector<double>{1.0, 2.0, 0.5}[cls] - log_z);
    const torch::Tensor target = torch::full({1, 1, 1}, cls, torch::kLong);
    EXPECT_NEAR(cross_entropy(logits, target).item<double>(), expected, kTol) << "class " << cls;
  }
}

TEST(SslLoss, PerfectLogitsGiveZeroLossAndWrongOnesDoNot) {
  torch::manual_seed(0);
  torch::Tensor target = torch::randint(0, 3, {2, 16, 16}, torch::kLong);
  const torch::Tensor one_hot = torch::one_hot(target, 3).permute({0, 3, 1, 2}).to(torch::kFloat);
  const torch::Tensor perfect = 40.0 * one_hot;
  EXPECT_LT(cross_entropy(perfect, target).item<double>(), 1e-6);
  EXPECT_LT(soft_dice_loss(perfect, target).item<double>(), 1e-4);
  EXPECT_LT(supervised_loss(perfect, target).item<double>(), 1e-4);

  // Everything predicted as background: no foreground overlap, so Dice loss 1 (the
  // background class must not count), CE = 40 on every foreground pixel.
  const torch::Tensor all_background =
      40.0 * torch::one_hot(torch::zeros_like(target), 3).permute({0, 3, 1, 2}).to(torch::kFloat);
  EXPECT_NEAR(soft_dice_loss(all_background, target).item<double>(), 1.0, 1e-4);
  const double foreground_fraction = target.gt(0).to(torch::kDouble).mean().item<double>();
  EXPECT_NEAR(cross_entropy(all_background, target).item<double>(), 40.0 * foreground_fraction,
              1e-3);
}

TEST(SslLoss, MatchesLoopReferenceWithValidMaskAndBatchDice) {
  torch::manual_seed(1);
  const torch::Tensor logits = 2.0 * torch::randn({2, 3, 4, 5});
  const torch::Tensor teacher = 2.0 * torch::randn({2, 3, 4, 5});
  const torch::Tensor target = torch::randint(0, 3, {2, 4, 5}, torch::kLong);
  const torch::Tensor valid = torch::rand({2, 4, 5}).gt(0.3).to(torch::kFloat);
  const Reference r = reference(logits, teacher, target, valid);
  EXPECT_NEAR(cross_entropy(logits, target, valid).item<double>(), r.ce, kTol);
  EXPECT_NEAR(soft_dice_loss(logits, target, valid).item<double>(), r.dice, kTol);
  EXPECT_NEAR(softmax_mse(logits, teacher, valid).item<double>(), r.mse, kTol);
  EXPECT_NEAR(supervised_loss(logits, target, valid).item<double>(), r.ce + r.dice, 2 * kTol);

  const torch::Tensor all = torch::ones({2, 4, 5});
  const Reference unmasked = reference(logits, teacher, target, all);
  EXPECT_NEAR(cross_entropy(logits, target).item<double>(), unmasked.ce, kTol);
  EXPECT_NEAR(soft_dice_loss(logits, target).item<double>(), unmasked.dice, kTol);
  EXPECT_NEAR(softmax_mse(logits, teacher).item<double>(), unmasked.mse, kTol);
}

TEST(SslLoss, ValidMaskEqualsRemovingThePixels) {
  torch::manual_seed(2);
  const int64_t C = 3;
  const torch::Tensor logits = 3.0 * torch::randn({2, C, 8, 8});
  const torch::Tensor teacher = 3.0 * torch::randn({2, C, 8, 8});
  const torch::Tensor target = torch::randint(0, C, {2, 8, 8}, torch::kLong);
  const torch::Tensor valid = torch::rand({2, 8, 8}).gt(0.3).to(torch::kFloat);

  // Kept pixels, all in one row: every loss is a sum over the batch's pixels, so their order
  // and grouping into images must not matter.
  const torch::Tensor keep = valid.flatten().nonzero().squeeze(1);
  const int64_t k = keep.size(0);
  auto pixels = [&](const torch::Tensor& l) {
    return l.permute({0, 2, 3, 1}).reshape({-1, C}).index_select(0, keep).t().reshape({1, C, 1, k});
  };
  const torch::Tensor kept_target = target.flatten().index_select(0, keep).reshape({1, 1, k});

  EXPECT_NEAR(cross_entropy(logits, target, valid).item<double>(),
              cross_entropy(pixels(logits), kept_target).item<double>(), kTol);
  EXPECT_NEAR(soft_dice_loss(logits, target, valid).item<double>(),
              soft_dice_loss(pixels(logits), kept_target).item<double>(), kTol);
  EXPECT_NEAR(softmax_mse(logits, teacher, valid).item<double>(),
              softmax_mse(pixels(logits), pixels(teacher)).item<double>(), kTol);
  // ... and the mask does change the losses (the test is not vacuous).
  EXPECT_GT(std::abs(cross_entropy(logits, target, valid).item<double>() -
                     cross_entropy(logits, target).item<double>()),
            1e-3);
  EXPECT_GT(std::abs(soft_dice_loss(logits, target, valid).item<double>() -
                     soft_dice_loss(logits, target).item<double>()),
            1e-3);
}

TEST(SslLoss, InvalidPixelsGetNoGradient) {
  torch::manual_seed(3);
  const torch::Tensor logits = torch::randn({1, 3, 4, 4}).requires_grad_(true);
  const torch::Tensor target = torch::randint(0, 3, {1, 4, 4}, torch::kLong);
  torch::Tensor valid = torch::ones({1, 4, 4});
  valid.index_put_({0, 0}, 0.0);  // first row is padding
  supervised_loss(logits, target, valid).backward();
  const torch::Tensor grad = logits.grad();
  EXPECT_EQ(grad.select(2, 0).abs().max().item<float>(), 0.0f);
  EXPECT_GT(grad.select(2, 1).abs().max().item<float>(), 0.0f);
}

TEST(SslLoss, SoftmaxMseOfIdenticalAndKnownLogits) {
  torch::manual_seed(4);
  const torch::Tensor logits = torch::randn({2, 3, 4, 4});
  EXPECT_EQ(softmax_mse(logits, logits.clone()).item<double>(), 0.0);

  // softmax(0, 0) = (1/2, 1/2), softmax(ln 3, 0) = (3/4, 1/4): squared errors 1/16 each.
  const torch::Tensor student = pixel_logits({0.0f, 0.0f});
  const torch::Tensor teacher = pixel_logits({static_cast<float>(std::log(3.0)), 0.0f});
  EXPECT_NEAR(softmax_mse(student, teacher).item<double>(), 0.0625, 1e-7);

  // Two pixels, the second identical: the mean over both halves it; weighting the differing
  // one out gives 0, weighting the identical one out gives the one-pixel value.
  const torch::Tensor s2 = torch::cat({student, student}, 3);
  const torch::Tensor t2 = torch::cat({teacher, student}, 3);
  EXPECT_NEAR(softmax_mse(s2, t2).item<double>(), 0.03125, 1e-7);
  EXPECT_NEAR(
      softmax_mse(s2, t2, {}, torch::tensor({0.0f, 1.0f}).reshape({1, 1, 2})).item<double>(), 0.0,
      1e-7);
  EXPECT_NEAR(softmax_mse(s2, t2, torch::tensor({1.0f, 0.0f}).reshape({1, 1, 2})).item<double>(),
              0.0625, 1e-7);
  EXPECT_NEAR(
      softmax_mse(s2, t2, torch::ones({1, 1, 2}), torch::tensor({1.0f, 0.0f}).reshape({1, 1, 2}))
          .item<double>(),
      0.0625, 1e-7);
}

TEST(SslLoss, SigmoidRampupFollowsLaineAndAila) {
  EXPECT_DOUBLE_EQ(sigmoid_rampup(0, 100), std::exp(-5.0));
  EXPECT_DOUBLE_EQ(sigmoid_rampup(50, 100), std::exp(-1.25));
  EXPECT_DOUBLE_EQ(sigmoid_rampup(100, 100), 1.0);
  EXPECT_DOUBLE_EQ(sigmoid_rampup(250, 100), 1.0);
  EXPECT_DOUBLE_EQ(sigmoid_rampup(-3, 100), std::exp(-5.0));
  EXPECT_DOUBLE_EQ(sigmoid_rampup(0, 0), 1.0);
  EXPECT_DOUBLE_EQ(sigmoid_rampup(7, -1), 1.0);
  EXPECT_LT(sigmoid_rampup(30, 100), sigmoid_rampup(31, 100));
}

TEST(SslLoss, RejectsMismatchedInputs) {
  const torch::Tensor logits = torch::zeros({1, 3, 2, 2});
  EXPECT_THROW(cross_entropy(logits, torch::zeros({1, 2, 3}, torch::kLong)), std::invalid_argument);
  EXPECT_THROW(cross_entropy(logits, torch::zeros({1, 2, 2}, torch::kInt)), std::invalid_argument);
  EXPECT_THROW(soft_dice_loss(logits, torch::zeros({1, 2, 2}, torch::kLong), torch::ones({2, 2})),
               std::invalid_argument);
  EXPECT_THROW(soft_dice_loss(torch::zeros({1, 1, 2, 2}), torch::zeros({1, 2, 2}, torch::kLong)),
               std::invalid_argument);
  EXPECT_THROW(softmax_mse(logits, torch::zeros({1, 2, 2, 2})), std::invalid_argument);
}

}  // namespace
}  // namespace aslseg::ssl
