// main() of every benchmark: the CPU settings of the aslseg command (core/runtime.h) before
// Google Benchmark runs, so a benchmark measures what a user of the CLI gets.
#include <benchmark/benchmark.h>

#include "aslseg/core/runtime.h"

int main(int argc, char** argv) {
  aslseg::core::keep_freed_memory();
  aslseg::core::apply_threads(0);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
