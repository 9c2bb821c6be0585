// The SS members of one round side by side on the CPU (docs/loop.md, "Ensemble"): a small
// U-Net's step at the demo's size leaves most of a second core idle (1,000 steps: 23 s on 2
// threads, 28 s on 1), so two members on one thread each finish in about the time of one.
#pragma once

#include <cstddef>
#include <functional>

namespace aslseg::loop {

// How a round's members share the CPU: `at_once` train side by side, each on `threads_each`
// intra-op threads; at_once == 1 trains them in turn on the calling thread's threads.
struct MemberPlan {
  int at_once = 1;
  int threads_each = 1;
};

// `cpu_threads`: the process's intra-op threads. `side_by_side`: allowed at all (CPU device,
// loop.concurrent_members, steps that draw nothing from torch's generator). A member gets the
// same thread count whether or not another runs beside it, so a resumed round (some members
// already done) trains the rest as the uninterrupted round would have.
MemberPlan plan_members(int members, int cpu_threads, bool side_by_side);

// Calls work(i) for every i in [0, n). With plan.at_once > 1: on that many threads at a time,
// each limited to plan.threads_each intra-op threads; the first failure (lowest index) is
// rethrown once every thread of its wave has ended. Else in turn on the calling thread.
void run_members(size_t n, const MemberPlan& plan, const std::function<void(size_t)>& work);

}  // namespace aslseg::loop
