#include "aslseg/loop/member_training.h"

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

#include "aslseg/core/runtime.h"

namespace aslseg::loop {

MemberPlan plan_members(int members, int cpu_threads, bool side_by_side) {
  const int threads = std::max(cpu_threads, 1);
  if (!side_by_side || members < 2 || threads < 2) return {1, threads};
  const int at_once = std::min(members, threads);
  return {at_once, threads / at_once};
}

void run_members(size_t n, const MemberPlan& plan, const std::function<void(size_t)>& work) {
  if (plan.at_once <= 1) {
    for (size_t i = 0; i < n; ++i) work(i);
    return;
  }
  const size_t wave = static_cast<size_t>(plan.at_once);
  for (size_t first = 0; first < n; first += wave) {
    const size_t last = std::min(n, first + wave);
    std::vector<std::exception_ptr> errors(last - first);
    std::vector<std::thread> threads;
    for (size_t i = first; i < last; ++i) {
      threads.emplace_back([&, i] {
        try {
          core::set_calling_thread_intra_op(plan.threads_each);
          work(i);
        } catch (...) {
          errors[i - first] = std::current_exception();
        }
      });
    }
    for (std::thread& t : threads) t.join();
    for (const std::exception_ptr& e : errors)
      if (e) std::rethrow_exception(e);
  }
}

}  // namespace aslseg::loop
