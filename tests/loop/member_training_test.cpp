// The loop's SS members side by side (loop/member_training.h): how the CPU is shared, and that
// every worker really runs on its share of the intra-op threads.
#include "aslseg/loop/member_training.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace aslseg::loop {
namespace {

void expect_plan(const MemberPlan& p, int at_once, int threads_each) {
  EXPECT_EQ(p.at_once, at_once);
  EXPECT_EQ(p.threads_each, threads_each);
}

TEST(MemberTraining, PlanSharesTheThreadsAmongTheMembers) {
  expect_plan(plan_members(2, 2, true), 2, 1);
  expect_plan(plan_members(3, 2, true), 2, 1);  // two, then the third alone on one thread
  expect_plan(plan_members(2, 16, true), 2, 8);
  expect_plan(plan_members(4, 3, true), 3, 1);
  // In turn, on every thread: one member, one thread, or not allowed.
  expect_plan(plan_members(1, 2, true), 1, 2);
  expect_plan(plan_members(2, 1, true), 1, 1);
  expect_plan(plan_members(2, 2, false), 1, 2);
  expect_plan(plan_members(2, 0, true), 1, 1);
}

TEST(MemberTraining, EachWorkerRunsOnItsShareOfTheThreads) {
  // A process default above the share, so that a worker falling back to it shows.
  const int before = at::get_num_threads();
  at::set_num_threads(2);
  const MemberPlan plan{2, 1};
  std::mutex mutex;
  std::vector<int> seen(5, 0), threads(5, 0);
  std::atomic<int> running{0}, most{0};
  run_members(5, plan, [&](size_t i) {
    const int now = ++running;
    int prev = most.load();
    while (now > prev && !most.compare_exchange_weak(prev, now)) {
    }
    {
      const std::lock_guard<std::mutex> lock(mutex);
      ++seen[i];
      threads[i] = at::get_num_threads();
    }
    --running;
  });
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i], 1) << i;
    EXPECT_EQ(threads[i], 1) << i;  // LibTorch's lazy per-thread default must not undo it
  }
  EXPECT_LE(most.load(), 2);
  // In turn, the calling thread's own setting stays.
  const int mine = at::get_num_threads();
  int inside = 0;
  run_members(1, MemberPlan{1, 1}, [&](size_t) { inside = at::get_num_threads(); });
  EXPECT_EQ(inside, mine);
  at::set_num_threads(before);
}

TEST(MemberTraining, TheFirstFailureIsRethrownAfterItsWaveEnded) {
  std::atomic<int> finished{0};
  try {
    run_members(4, MemberPlan{2, 1}, [&](size_t i) {
      if (i == 1) throw std::runtime_error("member 1 failed");
      ++finished;
    });
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "member 1 failed");
  }
  EXPECT_EQ(finished.load(), 1);  // member 0 ran to its end; the next wave never started
}

}  // namespace
}  // namespace aslseg::loop
