// Process-wide CPU settings that every entry point (the CLI, the benchmarks) applies once at
// start-up, so users get the machine's speed without environment variables
// (docs/benchmarks.md, "CPU runtime settings", has the measurements behind each choice):
// - intra-op threads = the CPUs this process may use (affinity mask and cgroup quota); Debian's
//   LibTorch otherwise runs one OpenMP thread;
// - one inter-op thread: aslseg never forks graph work, so a pool there only costs threads;
// - glibc keeps freed tensor buffers in the process instead of unmapping them and faulting
//   them in again on the next step (millions of minor page faults per run otherwise).
#pragma once

#include <string>

namespace aslseg::core {

// CPUs this process may run on: the affinity mask, capped by a cgroup v2 `cpu.max` or v1 CFS
// quota (rounded up), at least 1.
int available_cpus();

// Makes glibc keep freed memory: large blocks come from the heap instead of their own mmap,
// and the heap top is never trimmed. Must run before the first large allocation; peak RSS is
// then the program's high-water mark of live tensors plus fragmentation. Returns false when
// it was switched off ($ASLSEG_KEEP_FREED_MEMORY=0, for measuring) or refused by the allocator.
bool keep_freed_memory();

struct ThreadSettings {
  int intra_op = 1;    // LibTorch's OpenMP threads
  int inter_op = 1;    // LibTorch's inter-op pool: always 1
  std::string source;  // where intra_op came from: "--threads", "OMP_NUM_THREADS", "CPUs"
  // Threads OpenBLAS was limited to by apply_threads (1), or 0 when left alone: another BLAS,
  // or OPENBLAS_NUM_THREADS set by the user.
  int openblas = 0;
};

// requested > 0 wins; else $OMP_NUM_THREADS when it holds a positive number; else
// available_cpus(). Pure: applies nothing.
ThreadSettings choose_threads(int requested);

// choose_threads(), applied to LibTorch; OpenBLAS (when it is the BLAS) runs single-threaded
// unless OPENBLAS_NUM_THREADS says otherwise. Safe to call again (a subcommand's --threads after
// the global default): the inter-op pool is sized only on the first call, before it exists.
ThreadSettings apply_threads(int requested);

// While alive, OpenBLAS (when apply_threads limits it) uses as many threads as LibTorch's
// intra-op pool: for code that is mostly large matrix products, such as SAM ViT-B's image
// encoder (12.5 s instead of 15.5 s per slice on 2 cores, docs/benchmarks.md). Not for small
// products: there the spinning BLAS workers cost more than they give.
class ScopedBlasThreads {
 public:
  ScopedBlasThreads();
  ~ScopedBlasThreads();
  ScopedBlasThreads(const ScopedBlasThreads&) = delete;
  ScopedBlasThreads& operator=(const ScopedBlasThreads&) = delete;

 private:
  bool active_ = false;
};

// True when the CPU multiplies bf16 natively (AVX512-BF16 or AMX-BF16): there bf16 convolutions
// run about 1.8x as fast as fp32 (docs/benchmarks.md); elsewhere bf16 is emulated and slower.
bool cpu_has_native_bf16();

// Sets the intra-op threads of parallel regions started from the calling thread only: LibTorch
// runs on OpenMP, and libgomp keeps the team size per thread, so two training threads of one
// process can each run on their own core. at::set_num_threads would also change the default
// that LibTorch gives threads it starts later. Returns false when the OpenMP runtime is not
// libgomp-compatible (then nothing changed).
bool set_calling_thread_intra_op(int threads);

// Lowers the calling thread's scheduling priority so that background work (batch prefetching)
// runs in the time the compute threads leave idle instead of stalling an OpenMP team.
void lower_thread_priority();

}  // namespace aslseg::core
