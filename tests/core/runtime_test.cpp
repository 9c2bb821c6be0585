// CPU runtime settings (core/runtime.h): the CPU count follows the affinity mask, thread
// precedence is --threads > OMP_NUM_THREADS > CPUs, LibTorch takes the count, and glibc serves
// a large block from the heap (no mmap) and keeps it after free once freed memory is kept.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <sched.h>

#include <ATen/Parallel.h>
#include <cstdlib>
#include <optional>
#include <string>

#include "aslseg/core/runtime.h"

namespace aslseg::core {
namespace {

// Sets (or unsets) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(CoreRuntime, CpuCountFollowsTheAffinityMask) {
  cpu_set_t saved;
  ASSERT_EQ(sched_getaffinity(0, sizeof(saved), &saved), 0);
  const int allowed = CPU_COUNT(&saved);
  EXPECT_GE(available_cpus(), 1);
  EXPECT_LE(available_cpus(), allowed);
  cpu_set_t one;
  CPU_ZERO(&one);
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &saved)) {
      CPU_SET(c, &one);
      break;
    }
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
  EXPECT_EQ(available_cpus(), 1);
  ASSERT_EQ(sched_setaffinity(0, sizeof(saved), &saved), 0);
}

TEST(CoreRuntime, ThreadPrecedence) {
  {
    ScopedEnv omp("OMP_NUM_THREADS", "3");
    EXPECT_EQ(choose_threads(5).intra_op, 5);
    EXPECT_EQ(choose_threads(5).source, "--threads");
    EXPECT_EQ(choose_threads(0).intra_op, 3);
    EXPECT_EQ(choose_threads(0).source, "OMP_NUM_THREADS");
  }
  for (const char* junk : {"", "zero", "-2", "0"}) {
    ScopedEnv omp("OMP_NUM_THREADS", junk);
    EXPECT_EQ(choose_threads(0).intra_op, available_cpus()) << "'" << junk << "'";
    EXPECT_EQ(choose_threads(0).source, "CPUs");
  }
  EXPECT_EQ(choose_threads(0).inter_op, 1);
}

TEST(CoreRuntime, LibTorchTakesTheThreadCount) {
  const int before = at::get_num_threads();
  EXPECT_EQ(apply_threads(2).intra_op, 2);
  EXPECT_EQ(at::get_num_threads(), 2);
  apply_threads(before);
  EXPECT_EQ(at::get_num_threads(), before);
}

// OpenBLAS's pthread workers spin between calls and take the cores from LibTorch's team:
// apply_threads runs it on the calling thread, ScopedBlasThreads lends it the team's size.
TEST(CoreRuntime, OpenBlasRunsSingleThreadedOutsideScopes) {
  using GetThreads = int (*)();
  const auto get = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  if (get == nullptr || std::getenv("OPENBLAS_NUM_THREADS") != nullptr)
    GTEST_SKIP() << "the BLAS is not OpenBLAS, or OPENBLAS_NUM_THREADS is set";
  const int before = at::get_num_threads();
  EXPECT_EQ(apply_threads(2).openblas, 1);
  EXPECT_EQ(get(), 1);
  {
    const ScopedBlasThreads wide;
    EXPECT_EQ(get(), 2);
  }
  EXPECT_EQ(get(), 1);
  apply_threads(before);
}

TEST(CoreRuntime, KeepFreedMemoryServesLargeBlocksFromTheHeap) {
  {
    ScopedEnv off("ASLSEG_KEEP_FREED_MEMORY", "0");
    EXPECT_FALSE(keep_freed_memory());
  }
  ASSERT_TRUE(keep_freed_memory());
  constexpr size_t kBlock = size_t{96} << 20;  // above glibc's largest mmap threshold (32 MiB)
  const struct mallinfo2 before = mallinfo2();
  void* p = std::malloc(kBlock);
  ASSERT_NE(p, nullptr);
  static_cast<volatile char*>(p)[kBlock - 1] = 1;
  const struct mallinfo2 during = mallinfo2();
  EXPECT_EQ(during.hblkhd, before.hblkhd) << "the block was mmapped";
  std::free(p);
  const struct mallinfo2 after = mallinfo2();
  // Kept in the heap for the next tensor instead of going back to the kernel.
  EXPECT_GE(after.arena, kBlock);
  EXPECT_GE(after.fordblks, kBlock);
}

}  // namespace
}  // namespace aslseg::core
