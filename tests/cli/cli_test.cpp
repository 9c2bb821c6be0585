// The CLI shell: help, version and the exit codes of DESIGN.md.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/test_util.h"

namespace aslseg {
namespace {

using testing::run_cli;

TEST(Cli, HelpAndVersionSucceed) {
  EXPECT_EQ(run_cli("--help"), 0);
  EXPECT_EQ(run_cli("--version"), 0);
  for (const char* cmd : {"train", "infer", "export", "evaluate", "synth", "dataset", "sam"})
    EXPECT_EQ(run_cli(std::string(cmd) + " --help"), 0) << cmd;
}

TEST(Cli, BadUsageIsExitTwo) {
  EXPECT_EQ(run_cli("--no-such-flag"), 2);
  EXPECT_EQ(run_cli(""), 2);
  EXPECT_EQ(run_cli("no-such-command"), 2);
}

// The foundation's end-to-end check: phantoms scored against their own labels are perfect.
TEST(Cli, SynthThenEvaluateAgainstItselfIsPerfect) {
  testing::TempDir dir;
  const auto data = dir / "data";
  ASSERT_EQ(
      run_cli("synth --out " + data.string() + " --cases 3 --seed 5 --size 64,64,24 --tumours 1,3"),
      0);
  const auto out = dir / "self.json";
  ASSERT_EQ(run_cli("evaluate --pred " + data.string() + " --gt " + data.string() + " --out " +
                    out.string()),
            0);
  const auto report = nlohmann::json::parse(testing::read_text(out));
  ASSERT_EQ(report["cases"].size(), 3u);
  EXPECT_TRUE(report["failures"].empty());
  for (const char* cls : {"liver", "tumour"}) {
    const auto& s = report["summary"][cls];
    EXPECT_EQ(s["dice"]["mean"].get<double>(), 1.0) << cls;
    EXPECT_EQ(s["hd95"]["mean"].get<double>(), 0.0) << cls;
    EXPECT_EQ(s["asd"]["mean"].get<double>(), 0.0) << cls;
  }
}

}  // namespace
}  // namespace aslseg
