// The bf16 autocast guard of training: active on CUDA only, and leaves no trace on the CPU
// (CPU runs must stay bitwise reproducible whatever optim.bf16 says).
#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>

#include "aslseg/ssl/autocast.h"

namespace aslseg::ssl {
namespace {

TEST(SslAutocast, IsANoOpOnTheCpu) {
  const torch::Tensor a = torch::randn({8, 8});
  const torch::Tensor plain = torch::matmul(a, a);
  {
    const AutocastGuard guard(/*bf16=*/true, torch::kCPU);
    EXPECT_FALSE(guard.active());
    EXPECT_FALSE(at::autocast::is_cpu_enabled());
    const torch::Tensor inside = torch::matmul(a, a);
    EXPECT_EQ(inside.scalar_type(), torch::kFloat);
    EXPECT_TRUE(torch::equal(inside, plain));
  }
  EXPECT_FALSE(at::autocast::is_cpu_enabled());
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
