// NHWC (channels_last) nets give the numbers of the same nets in NCHW: the layout is a speed
// choice only. Tolerance: the two layouts run different oneDNN kernels whose float32
// summation order differs; 1e-4 relative to the largest magnitude is ~100x the spread seen
// here and far below what a wrong layout (values moved between channels) would give (O(1)).
#include <gtest/gtest.h>

#include <stdexcept>

#include "aslseg/models/memory_format.h"
#include "aslseg/models/unet.h"

namespace aslseg::models {
namespace {

constexpr double kRelTolerance = 1e-4;
constexpr int64_t kSide = 32;

UNetOptions small_net() {
  UNetOptions o;
  o.base_width = 8;
  o.depth = 3;
  return o;
}

double max_rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item<double>();
}

TEST(ModelMemoryFormat, UNetIsBuiltChannelsLast) {
  UNet net(small_net());
  int64_t filters = 0;
  for (const auto& p : net->parameters())
    if (p.dim() == 4 && p.size(2) > 1) {
      EXPECT_EQ(filter_format(p), c10::MemoryFormat::ChannelsLast);
      ++filters;
    }
  EXPECT_GT(filters, 0);
  net->eval();
  const torch::Tensor y = net->forward(torch::rand({2, 3, kSide, kSide}));
  EXPECT_TRUE(y.is_contiguous(c10::MemoryFormat::ChannelsLast));
}

TEST(ModelMemoryFormat, ChannelsLastMatchesContiguousForwardAndBackward) {
  torch::manual_seed(3);
  UNet nhwc(small_net());
  UNet nchw(small_net());
  {
    torch::NoGradGuard no_grad;
    auto src = nhwc->named_parameters();
    for (auto& p : nchw->named_parameters()) p.value().copy_(src[p.key()]);
  }
  to_memory_format(*nchw, c10::MemoryFormat::Contiguous);
  for (const auto& p : nchw->parameters())
    if (p.dim() == 4 && p.size(2) > 1) ASSERT_EQ(filter_format(p), c10::MemoryFormat::Contiguous);

  const torch::Tensor x = torch::rand({2, 3, kSide, kSide});
  const torch::Tensor target = torch::randint(0, 3, {2, kSide, kSide});
  const torch::Tensor y1 = nhwc->forward(x);
  const torch::Tensor y2 = nchw->forward(x);
  EXPECT_LT(max_rel_diff(y1, y2), kRelTolerance);
  torch::nn::functional::cross_entropy(y1, target).backward();
  torch::nn::functional::cross_entropy(y2, target).backward();
  auto g2 = nchw->named_parameters();
  for (const auto& p : nhwc->named_parameters())
    EXPECT_LT(max_rel_diff(p.value().grad(), g2[p.key()].grad()), kRelTolerance) << p.key();
}

TEST(ModelMemoryFormat, TransposedConv2x2MatchesLibTorch) {
  torch::manual_seed(5);
  torch::nn::ConvTranspose2d up(torch::nn::ConvTranspose2dOptions(6, 4, 2).stride(2));
  for (const auto format : {c10::MemoryFormat::Contiguous, c10::MemoryFormat::ChannelsLast}) {
    const torch::Tensor x = torch::randn({2, 6, 5, 7}).contiguous(format).requires_grad_(true);
    const torch::Tensor reference = up->forward(x);
    const torch::Tensor fast = transposed_conv_2x2(x, *up);
    ASSERT_EQ(fast.sizes(), reference.sizes());
    EXPECT_TRUE(fast.is_contiguous(c10::MemoryFormat::ChannelsLast));
    EXPECT_LT(max_rel_diff(fast, reference), kRelTolerance);
    // Gradients reach the layer's own weight and bias, equal to LibTorch's.
    const torch::Tensor g = torch::randn(reference.sizes());
    const auto grads_ref = torch::autograd::grad({reference}, {x, up->weight, up->bias}, {g});
    const auto grads_fast = torch::autograd::grad({fast}, {x, up->weight, up->bias}, {g});
    for (size_t i = 0; i < grads_ref.size(); ++i)
      EXPECT_LT(max_rel_diff(grads_fast[i], grads_ref[i]), kRelTolerance) << i;
  }
  torch::nn::ConvTranspose2d padded(
      torch::nn::ConvTranspose2dOptions(6, 4, 2).stride(2).padding(1));
  EXPECT_THROW(transposed_conv_2x2(torch::randn({1, 6, 4, 4}), *padded), std::invalid_argument);
  EXPECT_THROW(transposed_conv_2x2(torch::randn({1, 5, 4, 4}), *up), std::invalid_argument);
}

TEST(ModelMemoryFormat, LoadingStateKeepsTheLayout) {
  UNet a(small_net());
  UNet b(small_net());
  torch::NoGradGuard no_grad;
  auto src = a->named_parameters();
  for (auto& p : b->named_parameters())
    p.value().copy_(src[p.key()]);  // what checkpoint::load does
  for (const auto& p : b->named_parameters()) {
    EXPECT_TRUE(torch::equal(p.value(), src[p.key()]));
    if (p.value().dim() == 4 && p.value().size(2) > 1)
      EXPECT_EQ(filter_format(p.value()), c10::MemoryFormat::ChannelsLast) << p.key();
  }
}

}  // namespace
}  // namespace aslseg::models
