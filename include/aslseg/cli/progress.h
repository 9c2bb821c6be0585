// Progress with rate and ETA for long work (training steps, cases of a batch). Three styles:
// a redrawn bar when the stream is a terminal, one plain line per update when it is not (logs,
// CI, `| tee`), and nothing with `-q`. Thread-compatible: call tick() from one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace aslseg::cli {

enum class ProgressStyle { kBar, kLines, kOff };

struct ProgressOptions {
  std::FILE* stream = stderr;
  // Unset: kOff when the default logger is quieter than info (-q), else kBar on a terminal
  // and kLines otherwise.
  std::optional<ProgressStyle> style;
};

// The style a Progress writing to `stream` takes when none is given.
ProgressStyle default_progress_style(std::FILE* stream);

class Progress {
 public:
  Progress(std::string label, int64_t total, ProgressOptions options = {});
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void tick(int64_t n = 1);
  void finish();

 private:
  void draw_bar(bool final_line);
  void write_line();
  bool line_due(std::chrono::steady_clock::time_point now) const;

  std::string label_;
  int64_t total_;
  int64_t done_ = 0;
  std::FILE* stream_;
  ProgressStyle style_;
  bool finished_ = false;
  int64_t last_line_done_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace aslseg::cli
