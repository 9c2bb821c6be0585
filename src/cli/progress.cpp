#include "aslseg/cli/progress.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

namespace aslseg::cli {

namespace {
constexpr int kBarWidth = 30;
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
// Lines mode: a line each time another tenth of the work is done, but no more often than
// kMinLineInterval (a fast loop stays a few lines), and at least every kMaxLineInterval (a slow
// tenth still shows the run is alive).
constexpr int kLineSteps = 10;
constexpr auto kMinLineInterval = std::chrono::seconds(2);
constexpr auto kMaxLineInterval = std::chrono::seconds(60);

std::string format_seconds(double s) {
  char buf[32];
  const int total = static_cast<int>(s + 0.5);
  if (total >= 3600)
    std::snprintf(buf, sizeof buf, "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60);
  else
    std::snprintf(buf, sizeof buf, "%02d:%02d", total / 60, total % 60);
  return buf;
}

struct Rates {
  double elapsed;
  double rate;
  double eta;
};

Rates rates(std::chrono::steady_clock::time_point start, int64_t done, int64_t total) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0.0;
  return {elapsed, rate, eta};
}

// The level the console shows: the logger's, raised by its console sinks' own levels. A run's
// log file (cli::add_log_file) lowers the logger to debug and keeps the console sinks at -q's
// level, so the logger's level alone does not say what the user asked for.
spdlog::level::level_enum console_level() {
  const auto logger = spdlog::default_logger();
  if (!logger) return spdlog::level::info;
  spdlog::level::level_enum shown = spdlog::level::off;
  for (const auto& sink : logger->sinks()) {
    if (std::dynamic_pointer_cast<spdlog::sinks::basic_file_sink_mt>(sink)) continue;
    shown = std::min(shown, std::max(logger->level(), sink->level()));
  }
  return shown == spdlog::level::off ? logger->level() : shown;
}
}  // namespace

ProgressStyle default_progress_style(std::FILE* stream) {
  if (console_level() > spdlog::level::info) return ProgressStyle::kOff;
  return isatty(fileno(stream)) != 0 ? ProgressStyle::kBar : ProgressStyle::kLines;
}

Progress::Progress(std::string label, int64_t total, ProgressOptions options)
    : label_(std::move(label)),
      total_(total),
      stream_(options.stream),
      style_(options.style.value_or(default_progress_style(options.stream))),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() { finish(); }

void Progress::tick(int64_t n) {
  done_ += n;
  const auto now = std::chrono::steady_clock::now();
  if (style_ == ProgressStyle::kBar && (now - last_draw_ >= kRedrawInterval || done_ >= total_)) {
    last_draw_ = now;
    draw_bar(false);
  } else if (style_ == ProgressStyle::kLines && done_ < total_ && line_due(now)) {
    last_draw_ = now;
    write_line();
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (style_ == ProgressStyle::kBar) draw_bar(true);
  // The last line always comes, so a log shows how long the whole stage took.
  if (style_ == ProgressStyle::kLines) write_line();
}

bool Progress::line_due(std::chrono::steady_clock::time_point now) const {
  const auto since = now - last_draw_;
  if (since >= kMaxLineInterval) return true;
  if (since < kMinLineInterval || total_ <= 0) return false;
  return done_ * kLineSteps / total_ > last_line_done_ * kLineSteps / total_;
}

void Progress::draw_bar(bool final_line) {
  const Rates r = rates(start_, done_, total_);
  const double frac = total_ > 0 ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  const int filled = static_cast<int>(frac * kBarWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kBarWidth, '.');
  std::fprintf(stream_, "\r%s [%s] %lld/%lld %.1f/s elapsed %s eta %s\033[K%s", label_.c_str(),
               bar.c_str(), static_cast<long long>(done_), static_cast<long long>(total_), r.rate,
               format_seconds(r.elapsed).c_str(), format_seconds(r.eta).c_str(),
               final_line ? "\n" : "");
  std::fflush(stream_);
}

void Progress::write_line() {
  last_line_done_ = done_;
  const Rates r = rates(start_, done_, total_);
  const int percent = total_ > 0 ? static_cast<int>(100 * done_ / total_) : 100;
  std::fprintf(stream_, "%s: %lld/%lld (%d%%) %.1f/s elapsed %s eta %s\n", label_.c_str(),
               static_cast<long long>(done_), static_cast<long long>(total_), percent, r.rate,
               format_seconds(r.elapsed).c_str(), format_seconds(r.eta).c_str());
  std::fflush(stream_);
}

}  // namespace aslseg::cli
