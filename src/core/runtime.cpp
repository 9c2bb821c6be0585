#include "aslseg/core/runtime.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <malloc.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>

namespace aslseg::core {

namespace {

// Freed memory is kept unless the heap top grows past this; far above any working set here.
constexpr int kTrimThresholdBytes = 1 << 30;
// Each heap extension asks for this much extra, so growing to the working set takes few brk calls.
constexpr int kTopPadBytes = 64 << 20;
// Nice increment for prefetch threads: below the compute threads, still scheduled when idle.
constexpr int kBackgroundNice = 10;
// OpenBLAS threads: Debian's pthread OpenBLAS keeps its workers spinning on sched_yield for a
// while after every call, and they take the cores from LibTorch's OpenMP team (half the CPU in
// the kernel; a training run took 71 s instead of 36 s, docs/benchmarks.md). LibTorch's own
// threads parallelise around the BLAS calls, so the BLAS runs on the calling thread.
constexpr int kOpenBlasThreads = 1;

// Positive integer from an environment variable, 0 when unset or not a positive number.
int positive_env(const char* name) {
  const char* s = std::getenv(name);
  if (s == nullptr) return 0;
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (end == s || v <= 0 || v > (1 << 16)) return 0;
  return static_cast<int>(v);
}

// CPUs allowed by the cgroup quota, rounded up; 0 when there is no quota.
int cgroup_cpu_limit() {
  std::ifstream v2("/sys/fs/cgroup/cpu.max");  // "max 100000" or "200000 100000"
  if (v2) {
    std::string quota;
    double period = 0.0;
    if (v2 >> quota >> period && quota != "max" && period > 0.0)
      return static_cast<int>(std::ceil(std::stod(quota) / period));
    return 0;
  }
  std::ifstream q("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
  std::ifstream p("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  double quota = -1.0, period = 0.0;
  if (q >> quota && p >> period && quota > 0.0 && period > 0.0)
    return static_cast<int>(std::ceil(quota / period));
  return 0;
}

}  // namespace

int available_cpus() {
  int cpus = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cpus = CPU_COUNT(&set);
  if (cpus <= 0) cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  const int quota = cgroup_cpu_limit();
  if (quota > 0 && quota < cpus) cpus = quota;
  return cpus > 0 ? cpus : 1;
}

bool keep_freed_memory() {
  if (const char* s = std::getenv("ASLSEG_KEEP_FREED_MEMORY"); s && std::string(s) == "0")
    return false;
  // mallopt returns 1 on success. M_MMAP_MAX = 0: no block gets its own mapping (glibc caps
  // M_MMAP_THRESHOLD at 32 MiB, below one activation tensor of a 256² batch).
  bool ok = mallopt(M_MMAP_MAX, 0) == 1;
  ok = mallopt(M_TRIM_THRESHOLD, kTrimThresholdBytes) == 1 && ok;
  ok = mallopt(M_TOP_PAD, kTopPadBytes) == 1 && ok;
  return ok;
}

ThreadSettings choose_threads(int requested) {
  ThreadSettings s;
  if (requested > 0) {
    s.intra_op = requested;
    s.source = "--threads";
  } else if (const int omp = positive_env("OMP_NUM_THREADS"); omp > 0) {
    s.intra_op = omp;
    s.source = "OMP_NUM_THREADS";
  } else {
    s.intra_op = available_cpus();
    s.source = "CPUs";
  }
  return s;
}

namespace {

using SetBlasThreads = void (*)(int);

// openblas_set_num_threads when OpenBLAS is loaded and the user left OPENBLAS_NUM_THREADS
// unset (OpenBLAS read it at load), else null. Looked up at run time: the BLAS behind
// libblas.so.3 is whatever the system chose.
SetBlasThreads openblas_setter() {
  static const SetBlasThreads set = []() -> SetBlasThreads {
    if (std::getenv("OPENBLAS_NUM_THREADS") != nullptr) return nullptr;
    return reinterpret_cast<SetBlasThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  }();
  return set;
}

int limit_openblas_threads() {
  const SetBlasThreads set = openblas_setter();
  if (set == nullptr) return 0;
  set(kOpenBlasThreads);
  return kOpenBlasThreads;
}

}  // namespace

ThreadSettings apply_threads(int requested) {
  ThreadSettings s = choose_threads(requested);
  static std::once_flag inter_op_once;
  std::call_once(inter_op_once, [&] {
    try {
      at::set_num_interop_threads(s.inter_op);
    } catch (const std::exception&) {
      // The pool already exists (something ran inter-op work first): its size stays.
    }
  });
  at::set_num_threads(s.intra_op);
  s.openblas = limit_openblas_threads();
  return s;
}

ScopedBlasThreads::ScopedBlasThreads() {
  const SetBlasThreads set = openblas_setter();
  if (set == nullptr) return;
  set(at::get_num_threads());
  active_ = true;
}

ScopedBlasThreads::~ScopedBlasThreads() {
  if (active_) openblas_setter()(kOpenBlasThreads);
}

bool cpu_has_native_bf16() {
  // Read once: the training loop asks at every step.
  static const bool native = [] {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
      if (line.rfind("flags", 0) != 0) continue;
      const std::string flags = line + " ";
      return flags.find(" avx512_bf16 ") != std::string::npos ||
             flags.find(" amx_bf16 ") != std::string::npos;
    }
    return false;
  }();
  return native;
}

bool set_calling_thread_intra_op(int threads) {
  using SetOmpThreads = void (*)(int);
  // Looked up at run time (the OpenMP runtime comes with LibTorch), so aslseg itself need not
  // be compiled with -fopenmp.
  static const auto set =
      reinterpret_cast<SetOmpThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  if (set == nullptr || threads < 1) return false;
  // LibTorch sets a thread's team size to its process-wide default the first time the thread
  // asks for it (a thread-local lazy init); let that happen first, or it would undo this.
  (void)at::get_num_threads();
  set(threads);
  return true;
}

void lower_thread_priority() {
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  const int current = getpriority(PRIO_PROCESS, tid);
  // Linux: PRIO_PROCESS with a thread id changes that thread only. Failure is harmless.
  (void)setpriority(PRIO_PROCESS, tid, current + kBackgroundNice);
}

}  // namespace aslseg::core
