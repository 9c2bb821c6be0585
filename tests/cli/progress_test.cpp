// Progress: a bar on a terminal, plain lines in logs, nothing with -q (issue 13 item 7).
#include "aslseg/cli/progress.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "common/test_util.h"

namespace aslseg {
namespace {

using testing::run_cli;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::string run_progress(cli::ProgressStyle style, int64_t total) {
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* stream = open_memstream(&buffer, &size);
  {
    cli::Progress progress("work", total, {stream, style});
    for (int64_t i = 0; i < total; ++i) progress.tick();
  }
  std::fclose(stream);
  std::string text(buffer, size);
  std::free(buffer);
  return text;
}

TEST(Progress, LinesStyleWritesPlainLinesWithCountAndEta) {
  const std::string text = run_progress(cli::ProgressStyle::kLines, 1000);
  const auto lines = lines_of(text);
  // A fast loop gives the final line only (lines are at least seconds apart), never one per
  // tick; no carriage returns or terminal escapes in a log.
  ASSERT_EQ(lines.size(), 1u) << text;
  EXPECT_EQ(lines[0].rfind("work: 1000/1000 (100%) ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("eta 00:00"), std::string::npos) << lines[0];
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_EQ(text.find('\033'), std::string::npos);
}

TEST(Progress, BarStyleRedrawsOneLine) {
  const std::string text = run_progress(cli::ProgressStyle::kBar, 5);
  EXPECT_NE(text.find('\r'), std::string::npos);
  EXPECT_EQ(lines_of(text).size(), 1u) << text;
  EXPECT_NE(text.find("5/5"), std::string::npos) << text;
}

TEST(Progress, OffStyleWritesNothing) {
  EXPECT_TRUE(run_progress(cli::ProgressStyle::kOff, 50).empty());
}

// Through the real CLI: output to a file (not a terminal) gets the plain line, -q none.
TEST(Progress, CliWritesLinesToALogAndNothingWhenQuiet) {
  testing::TempDir dir;
  const auto log = dir / "synth.log";
  ASSERT_EQ(run_cli("synth --out " + (dir / "a").string() + " --cases 2 --size 32,32,8", log), 0);
  const std::string text = testing::read_text(log);
  EXPECT_NE(text.find("synth: 2/2 (100%)"), std::string::npos) << text;
  EXPECT_EQ(text.find('\r'), std::string::npos) << text;

  const auto quiet_log = dir / "quiet.log";
  ASSERT_EQ(
      run_cli("-q synth --out " + (dir / "b").string() + " --cases 2 --size 32,32,8", quiet_log),
      0);
  EXPECT_EQ(testing::read_text(quiet_log), "");
}

// train keeps a debug log file in the run folder, which lowers the logger's own level: -q must
// still silence the progress of its training steps on the console.
TEST(Progress, QuietTrainShowsNoProgressDespiteItsLogFile) {
  testing::TempDir dir;
  const auto data = dir / "data";
  ASSERT_EQ(run_cli("synth --out " + data.string() + " --cases 4 --size 48,48,8 --seed 2"), 0);
  const std::string train = "train --config " + std::string(ASLSEG_SOURCE_DIR) +
                            "/configs/demo.json --data " + data.string() +
                            " --set loop.rounds=0 --set optim.steps=4 --set optim.log_every=2";
  const auto log = dir / "train.log", quiet_log = dir / "quiet.log";
  ASSERT_EQ(run_cli(train + " --out " + (dir / "run").string(), log), 0) << testing::read_text(log);
  EXPECT_NE(testing::read_text(log).find("train supervised: 4/4 (100%)"), std::string::npos)
      << testing::read_text(log);
  ASSERT_EQ(run_cli("-q " + train + " --out " + (dir / "quiet").string(), quiet_log), 0)
      << testing::read_text(quiet_log);
  EXPECT_EQ(testing::read_text(quiet_log).find("train supervised"), std::string::npos)
      << testing::read_text(quiet_log);
  // The run's own log file still has the detail.
  EXPECT_NE(testing::read_text(dir / "quiet" / "log.txt").find("configuration"), std::string::npos);
}

}  // namespace
}  // namespace aslseg
