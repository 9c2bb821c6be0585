// Monte-Carlo dropout uncertainty of the predictor (PredictParams::mc_dropout_samples): the
// entropy of a net with a known output, repeatability for a seed, labels untouched, padding 0,
// a net without dropout refused; mean_inside on a hand-made case.
#include <gtest/gtest.h>

#include <cmath>

#include "aslseg/infer/predictor.h"

namespace aslseg::infer {
namespace {

constexpr int64_t kSide = 16;
constexpr float kLiverBias = 2.0f;

models::SegmenterSpec spec_with_dropout(double dropout) {
  models::SegmenterSpec s;
  s.unet.base_width = 4;
  s.unet.depth = 3;
  s.unet.in_channels = 1;
  s.unet.dropout = dropout;
  s.context = 0;
  s.image_size = kSide;
  return s;
}

Image ramp(int64_t nx, int64_t ny, int64_t nz) {
  Geometry g;
  g.size = {nx, ny, nz};
  Image img(g);
  for (size_t i = 0; i < img.voxels.size(); ++i)
    img.voxels[i] = static_cast<float>(-100 + static_cast<int64_t>(i % 97) * 3);
  return img;
}

TEST(InferMcDropout, EntropyOfAKnownOutputIsExact) {
  const models::SegmenterSpec spec = spec_with_dropout(0.5);
  models::UNet net(spec.unet);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : net->parameters()) p.zero_();
    net->named_parameters()["head.bias"][kLiver] = kLiverBias;
  }
  Predictor predictor(net, spec, torch::kCPU);
  PredictParams params;
  params.mc_dropout_samples = 4;
  const Prediction p = predictor.predict(ramp(20, 12, 3), params);
  ASSERT_TRUE(p.entropy.has_value());
  // Every pass gives softmax([0, b, 0]) whatever dropout does (all features are 0).
  const double e = std::exp(static_cast<double>(kLiverBias));
  const double z = 2.0 + e;
  const double expected = -(2.0 / z * std::log(1.0 / z) + e / z * std::log(e / z));
  for (float v : p.entropy->voxels) ASSERT_NEAR(v, expected, 1e-5);
}

TEST(InferMcDropout, RepeatsForASeedVariesWithItAndLeavesLabelsAlone) {
  const models::SegmenterSpec spec = spec_with_dropout(0.5);
  torch::manual_seed(7);
  models::UNet net(spec.unet);
  Predictor predictor(net, spec, torch::kCPU);
  const Image img = ramp(20, 12, 3);
  PredictParams params;
  params.mc_dropout_samples = 3;
  params.mc_seed = 1;
  const Prediction a = predictor.predict(img, params);
  const Prediction b = predictor.predict(img, params);
  params.mc_seed = 2;
  const Prediction c = predictor.predict(img, params);
  const Prediction plain = predictor.predict(img, PredictParams{});
  EXPECT_EQ(a.entropy->voxels, b.entropy->voxels);
  EXPECT_NE(a.entropy->voxels, c.entropy->voxels);
  EXPECT_EQ(a.labels.voxels, plain.labels.voxels);
  EXPECT_FALSE(plain.entropy.has_value());
  const double max_entropy = std::log(3.0);
  for (float v : a.entropy->voxels) {
    ASSERT_GE(v, 0.0f);
    ASSERT_LE(v, max_entropy + 1e-5);
  }
}

TEST(InferMcDropout, NetWithoutDropoutIsRefused) {
  const models::SegmenterSpec spec = spec_with_dropout(0.0);
  Predictor predictor(models::UNet(spec.unet), spec, torch::kCPU);
  PredictParams params;
  params.mc_dropout_samples = 2;
  EXPECT_THROW(predictor.predict(ramp(16, 16, 2), params), std::invalid_argument);
}

TEST(InferMcDropout, MeanInsideALabel) {
  Geometry g;
  g.size = {4, 1, 1};
  Volume<float> values(g);
  values.voxels = {1.0f, 2.0f, 4.0f, 8.0f};
  LabelMap labels(g);
  labels.voxels = {kTumour, kLiver, kTumour, kBackground};
  EXPECT_DOUBLE_EQ(*mean_inside(values, labels, kTumour), 2.5);
  EXPECT_DOUBLE_EQ(*mean_inside(values, labels, kLiver), 2.0);
  labels.voxels = {0, 0, 0, 0};
  EXPECT_FALSE(mean_inside(values, labels, kTumour).has_value());
}

}  // namespace
}  // namespace aslseg::infer
