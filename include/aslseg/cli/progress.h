// A one-line progress bar with rate and ETA, drawn only when stderr is a terminal (so logs
// and CI output stay clean). Thread-compatible: call tick() from one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace aslseg::cli {

class Progress {
 public:
  Progress(std::string label, int64_t total);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void tick(int64_t n = 1);
  void finish();

 private:
  void draw(bool final_line);

  std::string label_;
  int64_t total_;
  int64_t done_ = 0;
  bool enabled_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace aslseg::cli
