#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace {
int run_cli(const std::string& args) {
  const int status = std::system((std::string(ASLSEG_BINARY) + " " + args + " >/dev/null 2>&1").c_str());
  return WEXITSTATUS(status);
}
}  // namespace

TEST(Cli, HelpAndVersionSucceed) {
  EXPECT_EQ(run_cli("--help"), 0);
  EXPECT_EQ(run_cli("--version"), 0);
}

TEST(Cli, UnknownOptionIsBadUsage) { EXPECT_EQ(run_cli("--no-such-flag"), 2); }
TEST(Cli, NoCommandIsBadUsage) { EXPECT_EQ(run_cli(""), 2); }
