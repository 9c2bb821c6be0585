// Shared bits of the benchmarks: peak resident memory (reported as a benchmark counter), the
// /proc/self/status readings behind per-stage peaks, and the SSL config the benchmarks use.
#pragma once

#include <sys/resource.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace aslseg::bench {

// Peak resident set size of this process so far, in MiB (Linux reports ru_maxrss in KiB).
inline double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// A "VmHWM" / "VmRSS" ... line of /proc/self/status in MiB; -1 when absent.
inline double vm_status_mib(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::string k = std::string(key) + ":";
  while (std::getline(f, line))
    if (line.rfind(k, 0) == 0) return std::stod(line.substr(k.size())) / 1024.0;  // kB
  return -1.0;
}

// $ASLSEG_BENCH_CONFIG, else configs/ssl.json of this source tree, else of the working folder.
inline std::filesystem::path ssl_config_path() {
  if (const char* s = std::getenv("ASLSEG_BENCH_CONFIG")) return s;
  const std::filesystem::path next_to_source =
      std::filesystem::path(ASLSEG_SOURCE_DIR) / "configs/ssl.json";
  if (std::filesystem::exists(next_to_source)) return next_to_source;
  return "configs/ssl.json";
}

}  // namespace aslseg::bench
