// The bf16 autocast guard of training: active on CUDA and on CPUs with native bf16, nowhere
// else; off (optim.bf16 false, or a CPU without bf16) it leaves no trace, so such runs stay
// bitwise what they were; on, matmuls and convolutions run in bf16 inside it and the previous
// state is restored after it.
#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>

#include "aslseg/core/runtime.h"
#include "aslseg/ssl/autocast.h"

namespace aslseg::ssl {
namespace {

TEST(SslAutocast, OffLeavesNoTraceOnTheCpu) {
  const torch::Tensor a = torch::randn({8, 8});
  const torch::Tensor plain = torch::matmul(a, a);
  {
    const AutocastGuard guard(/*bf16=*/false, torch::kCPU);
    EXPECT_FALSE(guard.active());
    EXPECT_FALSE(at::autocast::is_cpu_enabled());
    const torch::Tensor inside = torch::matmul(a, a);
    EXPECT_EQ(inside.scalar_type(), torch::kFloat);
    EXPECT_TRUE(torch::equal(inside, plain));
  }
  EXPECT_FALSE(at::autocast::is_cpu_enabled());
}

TEST(SslAutocast, OnTheCpuOnlyWhereBf16IsNative) {
  const torch::Tensor a = torch::randn({8, 8});
  const torch::Tensor w = torch::randn({4, 8, 3, 3});
  const torch::Tensor x = torch::randn({1, 8, 6, 6});
  const bool native = core::cpu_has_native_bf16();
  EXPECT_EQ(bf16_autocast_available(torch::kCPU), native);
  {
    const AutocastGuard guard(/*bf16=*/true, torch::kCPU);
    EXPECT_EQ(guard.active(), native);
    EXPECT_EQ(at::autocast::is_cpu_enabled(), native);
    const auto expected = native ? torch::kBFloat16 : torch::kFloat;
    EXPECT_EQ(torch::matmul(a, a).scalar_type(), expected);
    EXPECT_EQ(torch::conv2d(x, w).scalar_type(), expected);
  }
  EXPECT_FALSE(at::autocast::is_cpu_enabled());  // state restored
  EXPECT_EQ(torch::matmul(a, a).scalar_type(), torch::kFloat);
}

TEST(SslAutocast, CastsMatmulsToBf16OnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const torch::Tensor a = torch::randn({8, 8}, torch::kCUDA);
  {
    const AutocastGuard guard(/*bf16=*/true, torch::kCUDA);
    ASSERT_TRUE(guard.active());
    EXPECT_EQ(torch::matmul(a, a).scalar_type(), torch::kBFloat16);
  }
  EXPECT_EQ(torch::matmul(a, a).scalar_type(), torch::kFloat);  // state restored
}

}  // namespace
}  // namespace aslseg::ssl
