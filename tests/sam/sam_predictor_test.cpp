// SamPredictor (sam/sam_predictor.h) and the ResizeLongestSide port under it: the resized shape
// and coordinate mapping against hand-computed values, the encoder image (window, 0-255 or
// min-max, antialiased resize), and the predictor against models::Sam::forward on the parity
// fixture: prompts in slice coordinates must give exactly what the model gives for the resized
// image with coordinates transformed by hand; B prompt sets in one call equal B single calls;
// a cached embedding set elsewhere predicts the same.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "aslseg/models/sam.h"
#include "aslseg/sam/resize_longest_side.h"
#include "aslseg/sam/sam_predictor.h"
#include "common/sam_fixtures.h"

namespace aslseg::sam {
namespace {

namespace F = torch::nn::functional;

constexpr double kIouTolerance = 1e-5;
// A non-square slice whose long side is not the model's: 96 wide, 72 high -> 256 x 192.
constexpr int64_t kWidth = 96;
constexpr int64_t kHeight = 72;
const std::filesystem::path kRepoRoot =
    std::filesystem::path(ASLSEG_SOURCE_DIR);

// A smooth HU pattern with structure in x and y, so that a transposed slice would differ.
std::vector<float> hu_slice(int64_t w, int64_t h) {
  std::vector<float> hu(static_cast<size_t>(w * h));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      hu[static_cast<size_t>(x + w * y)] =
          static_cast<float>(-200.0 + 300.0 * std::sin(0.11 * x) * std::cos(0.07 * y) + 2.0 * x);
  return hu;
}

models::Sam fixture_or_tiny(bool& from_fixture) {
  const auto lookup = testing::find_sam_fixtures();
  from_fixture = !lookup.dir.empty() && std::filesystem::exists(lookup.dir / "tiny_sam.pth");
  if (from_fixture) {
    return models::load_sam(models::load_sam_config(lookup.dir / "tiny_sam.json"),
                            lookup.dir / "tiny_sam.pth");
  }
  torch::manual_seed(0);
  return models::load_sam(models::load_sam_config(kRepoRoot / "configs/sam/tiny.json"), {});
}

TEST(SamPredictorResize, PreprocessShapeMatchesTheReference) {
  // get_preprocess_shape: int(side * long / max(h, w) + 0.5).
  EXPECT_EQ(preprocess_shape(75, 100, 256), (std::array<int64_t, 2>{192, 256}));
  EXPECT_EQ(preprocess_shape(512, 512, 1024), (std::array<int64_t, 2>{1024, 1024}));
  EXPECT_EQ(preprocess_shape(300, 500, 1024), (std::array<int64_t, 2>{614, 1024}));  // 614.4
  EXPECT_EQ(preprocess_shape(500, 300, 1024), (std::array<int64_t, 2>{1024, 614}));
  EXPECT_EQ(preprocess_shape(50, 97, 256), (std::array<int64_t, 2>{132, 256}));  // 131.96 -> 132
}

TEST(SamPredictorResize, CoordinatesScaleXByWidthAndYByHeight) {
  // 97 wide, 50 high -> 256 x 132: x scales by 256/97, y by 132/50 (different, so a swap of
  // the axes shows).
  const torch::Tensor pts = torch::tensor({10.0f, 20.0f, 96.0f, 49.0f}).view({1, 2, 2});
  const torch::Tensor out = apply_coords(pts, {50, 97}, 256);
  EXPECT_NEAR(out[0][0][0].item<double>(), 10.0 * 256.0 / 97.0, 1e-4);
  EXPECT_NEAR(out[0][0][1].item<double>(), 20.0 * 132.0 / 50.0, 1e-4);
  EXPECT_NEAR(out[0][1][0].item<double>(), 96.0 * 256.0 / 97.0, 1e-4);
  EXPECT_NEAR(out[0][1][1].item<double>(), 49.0 * 132.0 / 50.0, 1e-4);
  const torch::Tensor box =
      apply_boxes(torch::tensor({10.0f, 20.0f, 96.0f, 49.0f}).view({1, 4}), {50, 97}, 256);
  EXPECT_TRUE(torch::allclose(box.view({1, 2, 2}), out));
}

TEST(SamPredictorResize, EncoderImageIsWindowedScaledAndThreeChannel) {
  models::SamConfig c;
  c.image_size = 64;
  const std::vector<float> hu(40 * 20, 60.0f);  // the liver window's level -> 0.5
  const torch::Tensor img = sam_image_from_hu(hu.data(), 40, 20, preprocess::WindowParams{}, c);
  ASSERT_EQ(img.sizes(), (c10::IntArrayRef{3, 32, 64}));
  EXPECT_NEAR(img.min().item<double>(), 127.5, 1e-3);  // 0-255 for SAM's mean/std
  EXPECT_NEAR(img.max().item<double>(), 127.5, 1e-3);

  // MedSAM: min-max over the resized image, fed as [0, 1].
  c.input_normalization = "min_max";
  const torch::Tensor ramp = torch::linspace(0.2, 0.6, 40).view({1, 40}).expand({20, 40});
  const torch::Tensor mm = sam_image_from_windowed(ramp, c);
  EXPECT_NEAR(mm.min().item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(mm.max().item<double>(), 1.0, 1e-6);
  EXPECT_TRUE(torch::equal(mm[0], mm[1]) && torch::equal(mm[1], mm[2]));
}

TEST(SamPredictorResize, DownsamplingIsAntialiased) {
  // Stripes of period 3 (1 at x = 3k + 1) shrunk 3x: plain bilinear samples exactly the
  // bright columns (src = 3 dst + 1) and gives 1 everywhere; an antialiased resize averages
  // them to about 1/3, like PIL's bilinear filter in the official ResizeLongestSide.
  models::SamConfig c;
  c.image_size = 32;
  torch::Tensor stripes = torch::zeros({96, 96});
  for (int64_t x = 1; x < 96; x += 3) stripes.index_put_({torch::indexing::Slice(), x}, 1.0);
  const torch::Tensor img = sam_image_from_windowed(stripes, c) / 255.0;
  ASSERT_EQ(img.sizes(), (c10::IntArrayRef{3, 32, 32}));
  const double mean = img.mean().item<double>();
  EXPECT_GT(mean, 0.25);
  EXPECT_LT(mean, 0.45);
  const torch::Tensor plain =
      F::interpolate(stripes.view({1, 1, 96, 96}), F::InterpolateFuncOptions()
                                                       .size(std::vector<int64_t>{32, 32})
                                                       .mode(torch::kBilinear)
                                                       .align_corners(false));
  EXPECT_GT(plain.mean().item<double>(), 0.9);  // what a non-antialiased port would feed
}

TEST(SamPredictor, MatchesModelForwardOnTheResizedImage) {
  ASLSEG_SAM_FIXTURE_DIR_OR_SKIP(dir);
  const models::SamConfig config = models::load_sam_config(dir / "tiny_sam.json");
  models::Sam sam = models::load_sam(config, dir / "tiny_sam.pth");
  const auto hu = hu_slice(kWidth, kHeight);
  const preprocess::WindowParams window{40.0f, 350.0f};

  // Reference, built without the sam/ helpers: window, x255, antialiased bilinear to 192x256.
  torch::Tensor windowed = torch::from_blob(const_cast<float*>(hu.data()), {kHeight, kWidth})
                               .clone()
                               .sub(window.lower())
                               .div(window.width)
                               .clamp(0.0, 1.0);
  const torch::Tensor resized = F::interpolate((windowed * 255.0).view({1, 1, kHeight, kWidth}),
                                               F::InterpolateFuncOptions()
                                                   .size(std::vector<int64_t>{192, 256})
                                                   .mode(torch::kBilinear)
                                                   .align_corners(false)
                                                   .antialias(true));
  const torch::Tensor image = resized.view({1, 192, 256}).expand({3, 192, 256}).contiguous();
  const double s = 256.0 / kWidth;  // == 192 / kHeight

  // Three prompt sets in slice coordinates: boxes plus one positive and one negative point.
  const torch::Tensor boxes = torch::tensor({10.0f, 8.0f, 40.0f, 30.0f, 50.0f, 20.0f, 90.0f, 70.0f,
                                             0.0f, 0.0f, 95.0f, 71.0f})
                                  .view({3, 4});
  const torch::Tensor points = torch::tensor({20.0f, 15.0f, 5.0f, 60.0f, 70.0f, 40.0f, 10.0f, 10.0f,
                                              48.0f, 36.0f, 0.0f, 0.0f})
                                   .view({3, 2, 2});
  const torch::Tensor labels = torch::tensor({1, 0, 1, 0, 1, -1}, torch::kLong).view({3, 2});
  SamPrompts prompts;
  prompts.boxes = boxes;
  prompts.point_coords = points;
  prompts.point_labels = labels;

  SamPredictor predictor(sam, torch::kCPU);
  predictor.set_slice(hu.data(), kWidth, kHeight, window);
  EXPECT_EQ(predictor.input_size(), (std::array<int64_t, 2>{192, 256}));
  for (bool multimask : {false, true}) {
    SCOPED_TRACE(multimask ? "multimask" : "single mask");
    const SamPrediction got = predictor.predict(prompts, multimask);
    models::SamPrompt ref_prompt;
    // float64 products rounded to float32, as the reference's numpy apply_coords.
    ref_prompt.boxes = (boxes.to(torch::kDouble) * s).to(torch::kFloat);
    ref_prompt.point_coords = (points.to(torch::kDouble) * s).to(torch::kFloat);
    ref_prompt.point_labels = labels;
    torch::NoGradGuard no_grad;
    const models::SamOutput ref = sam->forward(image, {kHeight, kWidth}, ref_prompt, multimask);
    ASSERT_EQ(got.masks.sizes(), ref.masks.sizes());
    EXPECT_EQ(got.masks.size(2), kHeight);
    EXPECT_EQ(got.masks.size(3), kWidth);
    EXPECT_TRUE(torch::equal(got.masks, ref.masks));
    EXPECT_LE((got.iou - ref.iou_predictions).abs().max().item<double>(), kIouTolerance);
    EXPECT_LE((got.low_res_logits - ref.low_res_logits).abs().max().item<double>(), 1e-4);
  }
}

TEST(SamPredictor, BatchedPromptSetsEqualSingleCalls) {
  bool from_fixture = false;
  models::Sam sam = fixture_or_tiny(from_fixture);
  const auto hu = hu_slice(kWidth, kHeight);
  SamPredictor predictor(sam, torch::kCPU);
  predictor.set_slice(hu.data(), kWidth, kHeight, preprocess::WindowParams{});
  constexpr int64_t kSets = 5;
  SamPrompts batch;
  batch.boxes = torch::empty({kSets, 4});
  batch.point_coords = torch::empty({kSets, 1, 2});
  batch.point_labels = torch::ones({kSets, 1}, torch::kLong);
  for (int64_t b = 0; b < kSets; ++b) {
    const float o = 7.0f * static_cast<float>(b);
    batch.boxes[b] = torch::tensor({2.0f + o, 3.0f + o / 2, 30.0f + o, 25.0f + o / 2});
    batch.point_coords[b][0] = torch::tensor({10.0f + o, 9.0f + o / 2});
  }
  const SamPrediction all = predictor.predict(batch, true);
  ASSERT_EQ(all.masks.sizes(), (c10::IntArrayRef{kSets, 3, kHeight, kWidth}));
  bool sets_differ = false;
  for (int64_t b = 0; b < kSets; ++b) {
    SamPrompts one;
    one.boxes = batch.boxes.slice(0, b, b + 1);
    one.point_coords = batch.point_coords.slice(0, b, b + 1);
    one.point_labels = batch.point_labels.slice(0, b, b + 1);
    const SamPrediction single = predictor.predict(one, true);
    EXPECT_TRUE(torch::equal(single.masks[0], all.masks[b])) << "set " << b;
    EXPECT_LE((single.iou[0] - all.iou[b]).abs().max().item<double>(), kIouTolerance);
    if (b > 0 && !torch::equal(all.low_res_logits[b], all.low_res_logits[0])) sets_differ = true;
  }
  EXPECT_TRUE(sets_differ) << "every prompt set gave the same logits: prompts ignored?";
}

TEST(SamPredictor, CachedEmbeddingPredictsTheSame) {
  bool from_fixture = false;
  models::Sam sam = fixture_or_tiny(from_fixture);
  const auto hu = hu_slice(kWidth, kHeight);
  SamPredictor a(sam, torch::kCPU);
  a.set_slice(hu.data(), kWidth, kHeight, preprocess::WindowParams{});
  const torch::Tensor cached = a.embedding().clone();
  const SamPrompts box = SamPrompts::box(12, 10, 60, 50);
  const SamPrediction pa = a.predict(box, false);

  SamPredictor b(sam, torch::kCPU);
  b.set_embedding(cached, kHeight, kWidth);
  EXPECT_EQ(b.input_size(), a.input_size());
  const SamPrediction pb = b.predict(box, false);
  EXPECT_TRUE(torch::equal(pa.masks, pb.masks));
  EXPECT_TRUE(torch::equal(pa.iou, pb.iou));

  // Another slice's embedding gives another answer: the embedding is really used.
  const auto other = hu_slice(kHeight, kWidth);  // transposed pattern
  b.set_slice(other.data(), kHeight, kWidth, preprocess::WindowParams{});
  EXPECT_FALSE(torch::equal(b.embedding(), cached));
  EXPECT_THROW(b.set_embedding(torch::zeros({1, 3, 4, 4}), 10, 10), std::invalid_argument);
}

TEST(SamPredictor, VolumeSliceIsRowsByColumns) {
  bool from_fixture = false;
  models::Sam sam = fixture_or_tiny(from_fixture);
  Geometry g;
  g.size = {kWidth, kHeight, 3};
  Image vol(g, -500.0f);
  const auto hu = hu_slice(kWidth, kHeight);
  std::copy(hu.begin(), hu.end(), vol.slice(1));
  SamPredictor a(sam, torch::kCPU);
  a.set_slice(vol, 1, preprocess::WindowParams{});
  EXPECT_EQ(a.original_size(), (std::array<int64_t, 2>{kHeight, kWidth}));
  SamPredictor b(sam, torch::kCPU);
  b.set_slice(hu.data(), kWidth, kHeight, preprocess::WindowParams{});
  EXPECT_TRUE(torch::equal(a.embedding(), b.embedding()));
  EXPECT_THROW(a.set_slice(vol, 3, preprocess::WindowParams{}), std::out_of_range);
}

TEST(SamPredictor, RefusesPromptsOffTheSliceAndPredictingWithoutASlice) {
  bool from_fixture = false;
  models::Sam sam = fixture_or_tiny(from_fixture);
  SamPredictor p(sam, torch::kCPU);
  EXPECT_THROW(p.predict(SamPrompts::box(1, 1, 5, 5), false), std::logic_error);
  const auto hu = hu_slice(kWidth, kHeight);
  p.set_slice(hu.data(), kWidth, kHeight, preprocess::WindowParams{});
  try {
    p.predict(SamPrompts::box(10, 10, 120, 30), false);  // x1 past the 96-pixel width
    FAIL() << "a box outside the slice was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("outside the 96x72 slice"), std::string::npos) << e.what();
  }
  EXPECT_THROW(p.predict(SamPrompts::box(30, 10, 20, 30), false), std::invalid_argument);  // x0>x1
  EXPECT_THROW(p.predict(SamPrompts::single(std::nullopt, {{50.0f, 80.0f}}, {1}), false),
               std::invalid_argument);  // y past the height
  EXPECT_THROW(p.predict(SamPrompts::single(std::nullopt, {{5.0f, 8.0f}}, {2}), false),
               std::invalid_argument);  // label 2 is SAM-internal
  EXPECT_NO_THROW(p.predict(SamPrompts::single(std::nullopt, {{95.0f, 71.0f}}, {1}), false));
}

}  // namespace
}  // namespace aslseg::sam
