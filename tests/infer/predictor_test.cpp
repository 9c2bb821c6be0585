// Whole-volume prediction: geometry and field-of-view handling with a net whose output is
// known, independence from the batch size, the context slices at the volume's ends, and the
// post-processing rules.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "aslseg/infer/predictor.h"
#include "aslseg/io/error.h"
#include "aslseg/preprocess/slicing.h"

namespace aslseg::infer {
namespace {

constexpr int64_t kSide = 32;        // model input size
constexpr float kPaddingHu = -3024;  // what scanners write outside the field of view
constexpr float kLiverBias = 5.0f;   // head bias that makes "liver" win everywhere

models::SegmenterSpec tiny_spec() {
  models::SegmenterSpec s;
  s.unet.base_width = 4;
  s.unet.depth = 3;
  s.unet.in_channels = 3;
  s.context = 1;
  s.image_size = kSide;
  return s;
}

// A non-square, non-model-sized volume with a rotated, anisotropic grid; HU vary smoothly
// and the in-plane corners are padding.
Image phantom(int64_t nx, int64_t ny, int64_t nz) {
  Geometry g;
  g.size = {nx, ny, nz};
  g.spacing = {0.7, 0.9, 2.5};
  g.origin = {-12.5, 30.25, 100.0};
  const double c = std::cos(0.3), s = std::sin(0.3);
  g.direction = {c, -s, 0, s, c, 0, 0, 0, 1};
  Image img(g);
  for (int64_t z = 0; z < nz; ++z)
    for (int64_t y = 0; y < ny; ++y)
      for (int64_t x = 0; x < nx; ++x) {
        const bool corner = (x < 3 && y < 3) || (x >= nx - 2 && y >= ny - 4);
        img.at(x, y, z) =
            corner
                ? kPaddingHu
                : static_cast<float>(-200 + 9 * x + 13 * y + 40 * z - 150 * std::sin(0.5 * x * y));
      }
  return img;
}

TEST(InferPredictor, KnownNetGivesLiverInsideFieldOfViewAndKeepsGeometry) {
  const models::SegmenterSpec spec = tiny_spec();
  models::UNet net(spec.unet);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : net->parameters()) p.zero_();
    net->named_parameters()["head.bias"][kLiver] = kLiverBias;
  }
  Predictor predictor(net, spec, torch::kCPU);
  const Image img = phantom(40, 24, 5);
  const Prediction p = predictor.predict(img, PredictParams{}, /*want_tumour_probability=*/true);

  EXPECT_EQ(p.labels.geometry.size, img.geometry.size);
  EXPECT_EQ(p.labels.geometry.spacing, img.geometry.spacing);
  EXPECT_EQ(p.labels.geometry.origin, img.geometry.origin);
  EXPECT_EQ(p.labels.geometry.direction, img.geometry.direction);
  ASSERT_TRUE(p.tumour_probability.has_value());
  EXPECT_EQ(p.tumour_probability->geometry.direction, img.geometry.direction);
  // softmax([0, 5, 0])[tumour] inside the field of view, 0 outside.
  const float expected = 1.0f / (2.0f + std::exp(kLiverBias));
  int64_t padding = 0;
  for (size_t i = 0; i < img.voxels.size(); ++i) {
    const bool pad = img.voxels[i] == kPaddingHu;
    padding += pad;
    ASSERT_EQ(p.labels.voxels[i], pad ? kBackground : kLiver) << i;
    ASSERT_NEAR(p.tumour_probability->voxels[i], pad ? 0.0f : expected, 1e-6) << i;
  }
  EXPECT_EQ(padding, 5 * (9 + 8));
  // Without asking, no probability volume is made.
  EXPECT_FALSE(predictor.predict(img, PredictParams{}).tumour_probability.has_value());
}

TEST(InferPredictor, BatchSizeDoesNotChangeTheResult) {
  torch::manual_seed(7);
  const models::SegmenterSpec spec = tiny_spec();
  models::UNet net(spec.unet);
  {
    torch::NoGradGuard no_grad;  // spread the classes so that the labels are not all one value
    net->named_parameters()["head.bias"].copy_(torch::tensor({0.0f, 0.05f, -0.05f}));
  }
  Predictor predictor(net, spec, torch::kCPU);
  const Image img = phantom(36, 28, 10);
  PredictParams one;
  one.batch_size = 1;
  PredictParams seven;
  seven.batch_size = 7;  // batches of 7 and 3
  const Prediction a = predictor.predict(img, one, true);
  const Prediction b = predictor.predict(img, seven, true);
  EXPECT_EQ(a.labels.voxels, b.labels.voxels);
  for (size_t i = 0; i < a.labels.voxels.size(); ++i)
    ASSERT_NEAR(a.tumour_probability->voxels[i], b.tumour_probability->voxels[i], 1e-5);
  const std::set<uint8_t> values(a.labels.voxels.begin(), a.labels.voxels.end());
  EXPECT_GE(values.size(), 2u) << "test volume too uniform to tell slices apart";
}

// The volume mirrored left-right, x -> nx - 1 - x, on the same grid.
Image mirrored_x(const Image& img) {
  Image out(img.geometry);
  const int64_t nx = img.geometry.size[0];
  for (int64_t z = 0; z < img.geometry.size[2]; ++z)
    for (int64_t y = 0; y < img.geometry.size[1]; ++y)
      for (int64_t x = 0; x < nx; ++x) out.at(x, y, z) = img.at(nx - 1 - x, y, z);
  return out;
}

// Test-time mirroring averages the net over the four flips, so (bilinear resizing being
// symmetric) the result no longer depends on which way round the patient lies: the mirrored
// volume gives the mirrored probabilities. A random net alone does not.
TEST(InferPredictor, MirroringMakesThePredictionFlipEquivariant) {
  torch::manual_seed(11);
  const models::SegmenterSpec spec = tiny_spec();
  models::UNet net(spec.unet);
  {
    torch::NoGradGuard no_grad;
    net->named_parameters()["head.bias"].copy_(torch::tensor({0.0f, 0.05f, -0.05f}));
  }
  Predictor predictor(net, spec, torch::kCPU);
  const Image img = phantom(36, 28, 6);
  const Image flipped = mirrored_x(img);
  const auto max_gap = [&](const PredictParams& params) {
    const Prediction a = predictor.predict(img, params, true);
    const Prediction b = predictor.predict(flipped, params, true);
    const Image b_back = mirrored_x(*b.tumour_probability);
    double gap = 0.0;
    for (size_t i = 0; i < a.tumour_probability->voxels.size(); ++i)
      gap = std::max<double>(gap, std::fabs(a.tumour_probability->voxels[i] - b_back.voxels[i]));
    return gap;
  };
  PredictParams mirror;
  mirror.mirror = true;
  EXPECT_LT(max_gap(mirror), 1e-5);
  EXPECT_GT(max_gap(PredictParams{}), 1e-3) << "the test net is symmetric: the test shows nothing";
}

// The first and last slices see their neighbours edge-replicated, and each output slice is
// the net applied to its own stack: recompute both ends by hand.
TEST(InferPredictor, EndSlicesMatchAHandComputedReference) {
  torch::manual_seed(8);
  const models::SegmenterSpec spec = tiny_spec();
  models::UNet net(spec.unet);
  net->eval();
  Predictor predictor(net, spec, torch::kCPU);
  const Image img = phantom(20, 44, 4);
  PredictParams params;
  params.batch_size = 3;
  params.post = {/*largest_liver_component=*/false, /*tumour_inside_liver=*/false};  // raw argmax
  const Prediction pred = predictor.predict(img, params, true);
  const WindowedVolume w = prepare(img, spec);
  namespace F = torch::nn::functional;
  auto resize = [](const torch::Tensor& t, int64_t h, int64_t wd) {
    return F::interpolate(t, F::InterpolateFuncOptions()
                                 .size(std::vector<int64_t>{h, wd})
                                 .mode(torch::kBilinear)
                                 .align_corners(false));
  };
  torch::NoGradGuard no_grad;
  for (const int64_t z : {int64_t{0}, int64_t{3}}) {
    const preprocess::FloatPlanes stack =
        preprocess::slice_with_context(w.windowed, z, preprocess::SliceParams{1});
    const torch::Tensor x =
        torch::from_blob(const_cast<float*>(stack.data.data()), {1, 3, 44, 20}).clone();
    const torch::Tensor probs =
        resize(torch::softmax(net->forward(resize(x, kSide, kSide)), 1), 44, 20);
    const torch::Tensor labels = probs.argmax(1).to(torch::kUInt8).contiguous();
    const torch::Tensor tumour = probs.select(1, kTumour).contiguous();
    for (int64_t i = 0; i < 44 * 20; ++i) {
      const bool valid = w.valid.slice(z)[i] != 0;
      ASSERT_EQ(pred.labels.slice(z)[i], valid ? labels.data_ptr<uint8_t>()[i] : 0)
          << z << " " << i;
      ASSERT_NEAR(pred.tumour_probability->slice(z)[i], valid ? tumour.data_ptr<float>()[i] : 0,
                  1e-5);
    }
  }
}

// A net trained on 16² patches of 32² slices runs on tiles at 0, 8 and 16 in each direction,
// blended with a Gaussian of sigma 16 / 8 centred on each tile (nnU-Net's sliding window):
// recompute one slice by hand with explicit loops.
TEST(InferPredictor, SlidingWindowMatchesAHandComputedGaussianBlend) {
  torch::manual_seed(21);
  models::SegmenterSpec spec = tiny_spec();
  spec.unet.norm = "instance";  // statistics depend on the input's extent, as in training
  spec.patch_size = kSide / 2;
  models::UNet net(spec.unet);
  net->eval();
  Predictor predictor(net, spec, torch::kCPU);
  const Image img = phantom(kSide, kSide, 3);  // model-sized: no resize around the net
  PredictParams params;
  params.post = {/*largest_liver_component=*/false, /*tumour_inside_liver=*/false};
  const Prediction whole = predictor.predict(img, params, true);  // the default
  params.sliding_window = true;
  const Prediction tiled = predictor.predict(img, params, true);

  const WindowedVolume w = prepare(img, spec);
  constexpr int64_t z = 1;
  const preprocess::FloatPlanes stack =
      preprocess::slice_with_context(w.windowed, z, preprocess::SliceParams{1});
  const torch::Tensor x =
      torch::from_blob(const_cast<float*>(stack.data.data()), {1, 3, kSide, kSide}).clone();
  const int64_t tile = spec.patch_size;
  const double sigma = tile / 8.0, centre = (tile - 1) / 2.0;
  std::vector<double> sum(kSide * kSide, 0.0), weight(kSide * kSide, 0.0);
  torch::NoGradGuard no_grad;
  for (const int64_t y0 : {0, 8, 16})
    for (const int64_t x0 : {0, 8, 16}) {
      const torch::Tensor p =
          torch::softmax(net->forward(x.narrow(2, y0, tile).narrow(3, x0, tile).contiguous()), 1);
      const torch::Tensor t = p.select(1, kTumour).contiguous();
      for (int64_t i = 0; i < tile; ++i)
        for (int64_t j = 0; j < tile; ++j) {
          const double g = std::exp(-((i - centre) * (i - centre) + (j - centre) * (j - centre)) /
                                    (2 * sigma * sigma));
          sum[(y0 + i) * kSide + x0 + j] += g * t.data_ptr<float>()[i * tile + j];
          weight[(y0 + i) * kSide + x0 + j] += g;
        }
    }
  double gap_to_whole = 0.0;
  for (int64_t i = 0; i < kSide * kSide; ++i) {
    if (w.valid.slice(z)[i] == 0) continue;
    ASSERT_NEAR(tiled.tumour_probability->slice(z)[i], sum[i] / weight[i], 1e-5) << i;
    gap_to_whole = std::max<double>(gap_to_whole, std::fabs(tiled.tumour_probability->slice(z)[i] -
                                                            whole.tumour_probability->slice(z)[i]));
  }
  EXPECT_GT(gap_to_whole, 1e-3) << "tiles and whole slice agree: the test shows nothing";
}

// An ensemble's softmax is the mean of its members' (resizing is linear, so the tumour
// probability at the volume's size is the mean of theirs too); members that would see other
// inputs are refused, and so is Monte-Carlo dropout.
TEST(InferPredictor, EnsembleAveragesTheMembersSoftmax) {
  const models::SegmenterSpec spec = tiny_spec();
  auto make_net = [&](uint64_t seed) {
    torch::manual_seed(seed);
    models::UNet net(spec.unet);
    torch::NoGradGuard no_grad;
    net->named_parameters()["head.bias"].copy_(torch::tensor({0.0f, 0.05f, -0.05f}));
    return net;
  };
  const models::UNet a = make_net(21);
  const models::UNet b = make_net(22);
  const Image img = phantom(36, 28, 5);
  const Prediction pa = Predictor(a, spec, torch::kCPU).predict(img, PredictParams{}, true);
  const Prediction pb = Predictor(b, spec, torch::kCPU).predict(img, PredictParams{}, true);
  Predictor ensemble(a, spec, torch::kCPU);
  ensemble.add_member(b, spec);
  EXPECT_EQ(ensemble.ensemble_size(), 2);
  const Prediction pe = ensemble.predict(img, PredictParams{}, true);
  double members_gap = 0.0;
  for (size_t i = 0; i < pe.tumour_probability->voxels.size(); ++i) {
    const double ta = pa.tumour_probability->voxels[i], tb = pb.tumour_probability->voxels[i];
    ASSERT_NEAR(pe.tumour_probability->voxels[i], 0.5 * (ta + tb), 1e-5) << "voxel " << i;
    members_gap = std::max(members_gap, std::fabs(ta - tb));
  }
  EXPECT_GT(members_gap, 1e-3) << "the two members agree: the test shows nothing";
  // The members' own label maps come from the same passes: each equals that member's own
  // prediction, and asking for them leaves the ensemble's output as it was.
  PredictParams with_members;
  with_members.member_labels = true;
  const Prediction pm = ensemble.predict(img, with_members, true);
  ASSERT_EQ(pm.member_labels.size(), 2u);
  EXPECT_EQ(pm.member_labels[0].voxels, pa.labels.voxels);
  EXPECT_EQ(pm.member_labels[1].voxels, pb.labels.voxels);
  EXPECT_EQ(pm.labels.voxels, pe.labels.voxels);
  for (size_t i = 0; i < pm.tumour_probability->voxels.size(); ++i)
    ASSERT_NEAR(pm.tumour_probability->voxels[i], pe.tumour_probability->voxels[i], 1e-6);
  EXPECT_TRUE(pe.member_labels.empty());

  models::SegmenterSpec wider_context = spec;
  wider_context.context = 2;
  wider_context.unet.in_channels = 5;
  EXPECT_THROW(ensemble.add_member(models::UNet(wider_context.unet), wider_context),
               std::invalid_argument);
  models::SegmenterSpec other_window = spec;
  other_window.window.width += 100;
  EXPECT_THROW(ensemble.add_member(models::UNet(other_window.unet), other_window),
               std::invalid_argument);
  PredictParams mc;
  mc.mc_dropout_samples = 2;
  EXPECT_THROW(ensemble.predict(img, mc), std::invalid_argument);
}

TEST(InferPredictor, RejectsANetThatDoesNotMatchTheSpec) {
  models::SegmenterSpec spec = tiny_spec();
  models::UNetOptions other = spec.unet;
  other.base_width = 8;
  EXPECT_THROW(Predictor(models::UNet(other), spec, torch::kCPU), std::invalid_argument);
  Predictor p(models::UNet(spec.unet), spec, torch::kCPU);
  PredictParams bad;
  bad.batch_size = 0;
  EXPECT_THROW(p.predict(phantom(8, 8, 2), bad), std::invalid_argument);
}

// Boxes spanning y = 2..5, z = 1..2 (8 voxels per x column) on a 24x8x4 grid, along x:
//   0..7 liver with tumour at 3..4 | 8 tumour on the liver's edge | 11..13 liver island |
//   16..20 tumour touching no liver (larger than the island).
LabelMap postprocess_case() {
  Geometry g;
  g.size = {24, 8, 4};
  LabelMap m(g, kBackground);
  auto box = [&](int64_t x0, int64_t x1, uint8_t v) {
    for (int64_t z = 1; z <= 2; ++z)
      for (int64_t y = 2; y <= 5; ++y)
        for (int64_t x = x0; x <= x1; ++x) m.at(x, y, z) = v;
  };
  box(0, 7, kLiver);     // main liver (64 voxels) ...
  box(3, 4, kTumour);    // ... with a tumour inside
  box(8, 8, kTumour);    // tumour on the liver's edge: part of the liver's component
  box(11, 13, kLiver);   // a smaller liver island (24 voxels)
  box(16, 20, kTumour);  // a tumour blob touching no liver (40 voxels)
  return m;
}

int64_t count(const LabelMap& m, int64_t x0, int64_t x1, uint8_t v) {
  int64_t n = 0;
  for (int64_t z = 0; z < 4; ++z)
    for (int64_t y = 0; y < 8; ++y)
      for (int64_t x = x0; x <= x1; ++x) n += m.at(x, y, z) == v;
  return n;
}

TEST(InferPostprocess, LargestLiverComponentAndTumourInsideLiver) {
  {
    LabelMap m = postprocess_case();
    postprocess(m, {});
    EXPECT_EQ(count(m, 0, 7, kLiver), 48);
    EXPECT_EQ(count(m, 0, 8, kTumour), 16 + 8);  // inside and edge tumour kept
    EXPECT_EQ(count(m, 11, 13, kLiver), 0);      // island dropped
    EXPECT_EQ(count(m, 16, 20, kTumour), 0);     // (bigger than the island, but no liver)
  }
  {
    LabelMap m = postprocess_case();
    postprocess(m, {/*largest_liver_component=*/false, /*tumour_inside_liver=*/true});
    EXPECT_EQ(count(m, 11, 13, kLiver), 24);
    EXPECT_EQ(count(m, 0, 8, kTumour), 24);
    EXPECT_EQ(count(m, 16, 20, kTumour), 0);
  }
  {
    LabelMap m = postprocess_case();
    postprocess(m, {/*largest_liver_component=*/true, /*tumour_inside_liver=*/false});
    EXPECT_EQ(count(m, 0, 8, kTumour), 24);
    EXPECT_EQ(count(m, 11, 13, kLiver), 0);
    EXPECT_EQ(count(m, 16, 20, kTumour), 0);  // a separate component, not the largest
  }
  {
    const LabelMap original = postprocess_case();
    LabelMap m = original;
    postprocess(m, {false, false});
    EXPECT_EQ(m.voxels, original.voxels);
  }
}

TEST(InferDevice, ParsesDeviceNames) {
  EXPECT_EQ(parse_device("cpu"), torch::Device(torch::kCPU));
  EXPECT_EQ(parse_device("auto").is_cuda(), torch::cuda::is_available());
  EXPECT_THROW(parse_device("gpu"), InputError);
  EXPECT_THROW(parse_device("cuda:x"), InputError);
  EXPECT_THROW(parse_device("cuda:"), InputError);
  if (!torch::cuda::is_available()) {
    EXPECT_THROW(parse_device("cuda"), InputError);
    EXPECT_THROW(parse_device("cuda:0"), InputError);
  } else {
    EXPECT_EQ(parse_device("cuda:0"), torch::Device(torch::kCUDA, 0));
    EXPECT_THROW(parse_device("cuda:999"), InputError);
  }
}

}  // namespace
}  // namespace aslseg::infer
