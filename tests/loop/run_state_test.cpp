// RUN/state.json (loop/run_state.h): finished steps survive a reload in order with their info;
// a malformed or foreign state is refused naming the file; a step cannot be recorded twice.
#include "aslseg/loop/run_state.h"

#include <gtest/gtest.h>

#include <fstream>

#include "aslseg/io/error.h"
#include "common/test_util.h"

namespace aslseg::loop {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

TEST(RunState, FinishedStepsAndTheirInfoSurviveAReload) {
  testing::TempDir dir;
  const fs::path file = dir / kStateFile;
  {
    RunState s(file);
    EXPECT_FALSE(fs::exists(file)) << "nothing is written before a step finishes";
    EXPECT_FALSE(s.done("round_1/ss"));
    s.mark_done("round_1/ss", {{"steps", 40}});
    s.mark_done("sam");
    EXPECT_THROW(s.mark_done("sam"), std::logic_error);
  }
  const RunState s(file);
  EXPECT_TRUE(s.done("round_1/ss"));
  EXPECT_TRUE(s.done("sam"));
  EXPECT_FALSE(s.done("an"));
  EXPECT_EQ(s.steps(), (std::vector<std::string>{"round_1/ss", "sam"}));
  EXPECT_EQ(s.info("round_1/ss").at("steps"), 40);
  EXPECT_THROW(s.info("an"), std::out_of_range);
  // No temporary left beside it.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST(RunState, RefusesWhatItDidNotWrite) {
  testing::TempDir dir;
  const fs::path file = dir / kStateFile;
  for (const std::string& text :
       {std::string("{\"version\": 1, \"steps\": [{\"step\": \"a\", \"info\": {}}, "
                    "{\"step\": \"a\", \"info\": {}}]}"),
        std::string("{\"version\": 99, \"steps\": []}"), std::string("{\"steps\": [}"),
        std::string("[1, 2]"), std::string("{\"version\": 1, \"steps\": [{\"step\": 3}]}")}) {
    SCOPED_TRACE(text);
    std::ofstream(file) << text;
    try {
      RunState s(file);
      ADD_FAILURE() << "accepted";
    } catch (const InputError& e) {
      EXPECT_EQ(e.path(), file.string());
    }
  }
}

}  // namespace
}  // namespace aslseg::loop
