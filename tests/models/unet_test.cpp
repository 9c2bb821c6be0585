// The U-Net and its JSON: shapes, parameter count against a hand computation, dropout
// semantics (plain eval deterministic, MC dropout not), input checks, norm variants.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "aslseg/models/segmenter_spec.h"
#include "aslseg/models/unet.h"

namespace aslseg::models {
namespace {

constexpr int64_t kTinyWidth = 4;
constexpr int64_t kTinyDepth = 3;
constexpr int64_t kSide = 32;

UNetOptions tiny(const std::string& norm = "batch", double dropout = 0.0) {
  UNetOptions o;
  o.in_channels = 3;
  o.num_classes = 3;
  o.base_width = kTinyWidth;
  o.depth = kTinyDepth;
  o.norm = norm;
  o.dropout = dropout;
  return o;
}

TEST(ModelUNet, OutputShapeFollowsInput) {
  torch::manual_seed(0);
  UNet net(tiny());
  net->eval();
  EXPECT_EQ(net->forward(torch::rand({2, 3, kSide, kSide})).sizes(),
            (std::vector<int64_t>{2, 3, kSide, kSide}));
  // Non-square input: height and width are kept apart.
  EXPECT_EQ(net->forward(torch::rand({1, 3, 16, 48})).sizes(),
            (std::vector<int64_t>{1, 3, 16, 48}));
}

TEST(ModelUNet, ParameterCountMatchesHandComputation) {
  // Widths 4, 8, 16; in 3, classes 3. A conv block (in -> out) with a norm has
  // 9*in*out + 9*out*out weights (no conv bias) + 2 norms * 2*out affine parameters.
  //   encoders  3->4: 108+144+16 = 268   4->8: 288+576+32 = 896   8->16: 1152+2304+64 = 3520
  //   upsamplers 16->8: 4*16*8+8 = 520   8->4: 4*8*4+4 = 132
  //   decoders  16->8: 1152+576+32 = 1760   8->4: 288+144+16 = 448
  //   head      4*3+3 = 15                                              total 7559
  EXPECT_EQ(UNet(tiny("batch"))->num_parameters(), 7559);
  EXPECT_EQ(UNet(tiny("instance"))->num_parameters(), 7559);
  EXPECT_EQ(UNet(tiny("group"))->num_parameters(), 7559);
  // Without a norm every conv carries a bias instead (out per conv, 2 per block):
  //   7559 - (16+32+64+32+16) norm params + (8+16+32+16+8) biases = 7479
  EXPECT_EQ(UNet(tiny("none"))->num_parameters(), 7479);
}

TEST(ModelUNet, StableParameterNames) {
  UNet net(tiny("batch"));
  const auto params = net->named_parameters();
  ASSERT_NE(params.find("encoders.0.conv1.weight"), nullptr);
  EXPECT_EQ(params["encoders.0.conv1.weight"].sizes(), (std::vector<int64_t>{4, 3, 3, 3}));
  EXPECT_EQ(params.find("encoders.0.conv1.bias"), nullptr);  // a norm follows: no bias
  EXPECT_NE(params.find("encoders.2.norm2.weight"), nullptr);
  EXPECT_EQ(params["upsamplers.0.weight"].sizes(), (std::vector<int64_t>{16, 8, 2, 2}));
  EXPECT_EQ(params["decoders.1.conv1.weight"].sizes(), (std::vector<int64_t>{4, 8, 3, 3}));
  EXPECT_EQ(params["head.weight"].sizes(), (std::vector<int64_t>{3, 4, 1, 1}));
  EXPECT_NE(net->named_buffers().find("encoders.1.norm1.running_mean"), nullptr);
}

TEST(ModelUNet, PlainEvalIsDeterministicMcDropoutIsNot) {
  torch::manual_seed(1);
  UNet net(tiny("batch", 0.5));
  net->eval();
  const torch::Tensor x = torch::rand({2, 3, kSide, kSide});
  const torch::Tensor a = net->forward(x);
  EXPECT_TRUE(torch::equal(a, net->forward(x)));
  const torch::Tensor m1 = net->forward(x, /*mc_dropout=*/true);
  const torch::Tensor m2 = net->forward(x, /*mc_dropout=*/true);
  EXPECT_FALSE(torch::equal(m1, m2));
  EXPECT_FALSE(torch::equal(m1, a));
  // Training mode drops too; a net without dropout ignores mc_dropout.
  net->train();
  EXPECT_FALSE(torch::equal(net->forward(x), net->forward(x)));
  UNet plain(tiny("batch", 0.0));
  plain->eval();
  EXPECT_TRUE(torch::equal(plain->forward(x, true), plain->forward(x, true)));
}

TEST(ModelUNet, RejectsInputOfWrongSizeOrChannels) {
  UNet net(tiny());
  try {
    net->forward(torch::rand({1, 3, 30, 32}));
    FAIL() << "30x32 is not a multiple of 4";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("multiples of 4"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("30x32"), std::string::npos) << e.what();
  }
  EXPECT_THROW(net->forward(torch::rand({1, 2, 32, 32})), std::invalid_argument);
  EXPECT_THROW(net->forward(torch::rand({3, 32, 32})), std::invalid_argument);
}

TEST(ModelUNet, NormVariantsBuildAndRun) {
  for (const std::string norm : {"batch", "instance", "group", "none"}) {
    torch::manual_seed(2);
    UNet net(tiny(norm, 0.1));
    net->train();
    const torch::Tensor y = net->forward(torch::rand({2, 3, 16, 16}));
    EXPECT_TRUE(torch::isfinite(y).all().item<bool>()) << norm;
    EXPECT_GT(y.std().item<float>(), 0.0f) << norm;
  }
  // Group norm: the largest group count <= 8 dividing the channels (12 -> 6, 24 -> 8).
  UNetOptions o = tiny("group");
  o.base_width = 12;
  UNet net(o);
  for (const auto& m : net->named_modules()) {
    if (m.key() == "encoders.0.norm1")
      EXPECT_EQ(m.value()->as<torch::nn::GroupNorm>()->options.num_groups(), 6);
    if (m.key() == "encoders.1.norm1")
      EXPECT_EQ(m.value()->as<torch::nn::GroupNorm>()->options.num_groups(), 8);
  }
  // Instance norm is affine (its parameters are counted above) and keeps no running stats.
  EXPECT_TRUE(UNet(tiny("instance"))->named_buffers().is_empty());
}

TEST(ModelUNet, RejectsBadOptions) {
  auto with = [](auto change) {
    UNetOptions o = tiny();
    change(o);
    return o;
  };
  EXPECT_THROW(UNet(with([](UNetOptions& o) { o.depth = 1; })), std::invalid_argument);
  EXPECT_THROW(UNet(with([](UNetOptions& o) { o.base_width = 0; })), std::invalid_argument);
  EXPECT_THROW(UNet(with([](UNetOptions& o) { o.in_channels = 0; })), std::invalid_argument);
  EXPECT_THROW(UNet(with([](UNetOptions& o) { o.norm = "layer"; })), std::invalid_argument);
  EXPECT_THROW(UNet(with([](UNetOptions& o) { o.dropout = 1.0; })), std::invalid_argument);
  EXPECT_EQ(tiny().size_multiple(), 4);
}

TEST(ModelUNet, OptionsJsonRoundTrip) {
  UNetOptions o = tiny("group", 0.25);
  o.in_channels = 5;
  o.num_classes = 4;
  const nlohmann::json j = o;
  const UNetOptions back = j.get<UNetOptions>();
  EXPECT_EQ(back.in_channels, 5);
  EXPECT_EQ(back.num_classes, 4);
  EXPECT_EQ(back.base_width, kTinyWidth);
  EXPECT_EQ(back.depth, kTinyDepth);
  EXPECT_EQ(back.norm, "group");
  EXPECT_EQ(back.dropout, 0.25);
  // Missing keys keep defaults; unknown keys and wrong types are refused.
  const nlohmann::json partial = {{"depth", 3}};
  EXPECT_EQ(partial.get<UNetOptions>().base_width, UNetOptions().base_width);
  EXPECT_THROW(nlohmann::json({{"widht", 3}}).get<UNetOptions>(), std::invalid_argument);
  EXPECT_THROW(nlohmann::json({{"depth", "three"}}).get<UNetOptions>(), std::invalid_argument);
  EXPECT_THROW(nlohmann::json({{"norm", "layer"}}).get<UNetOptions>(), std::invalid_argument);
}

TEST(ModelSegmenterSpec, JsonRoundTripAndChannelCheck) {
  SegmenterSpec s;
  s.unet = tiny();
  s.unet.in_channels = 5;
  s.context = 2;
  s.image_size = 64;
  s.window = {40.0f, 350.0f};
  s.patch_size = 32;
  const nlohmann::json j = s;
  EXPECT_EQ(j.at("patch_size"), 32);
  EXPECT_EQ(j.at("window").at("level"), 40.0);
  EXPECT_EQ(j.at("window").at("width"), 350.0);
  const SegmenterSpec back = j.get<SegmenterSpec>();
  EXPECT_EQ(nlohmann::json(back), j);
  // The channel count follows the context when absent, and must agree when present.
  const auto derived =
      nlohmann::json{{"context", 0}, {"unet", {{"depth", 2}}}}.get<SegmenterSpec>();
  EXPECT_EQ(derived.unet.in_channels, 1);
  nlohmann::json bad = j;
  bad["context"] = 1;
  EXPECT_THROW(bad.get<SegmenterSpec>(), std::invalid_argument);
  bad = j;
  bad["image_size"] = 66;  // not a multiple of 4
  EXPECT_THROW(bad.get<SegmenterSpec>(), std::invalid_argument);
  bad = j;
  bad["window"] = {{"level", 40}, {"width", 0}};
  EXPECT_THROW(bad.get<SegmenterSpec>(), std::invalid_argument);
  nlohmann::json old = j;  // a checkpoint from before patch_size: whole slices
  old.erase("patch_size");
  EXPECT_EQ(old.get<SegmenterSpec>().patch_size, 0);
  for (const int64_t p : {-4, 30, 68}) {  // negative, not a multiple of 4, above image_size
    bad = j;
    bad["patch_size"] = p;
    EXPECT_THROW(bad.get<SegmenterSpec>(), std::invalid_argument) << p;
  }
  bad = j;
  bad["stride"] = 2;
  EXPECT_THROW(bad.get<SegmenterSpec>(), std::invalid_argument);
}

}  // namespace
}  // namespace aslseg::models
