// Where the SAM parity fixtures live (DESIGN.md, "Parity with the official SAM"): the folder
// named by ASLSEG_SAM_FIXTURES when it is set (then a missing folder is a test failure),
// otherwise the default ../shared/fixtures/sam next to the project (then a missing folder skips
// the test). The default comes from the source folder the tests were built from.
//
//   TEST(Sam, Parity) {
//     ASLSEG_SAM_FIXTURE_DIR_OR_SKIP(dir);
//     for (const auto& name : aslseg::testing::sam_fixture_names(dir)) ...
//   }
#pragma once

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace aslseg::testing {

struct SamFixtureLookup {
  std::filesystem::path dir;      // empty when not found
  bool explicit_setting = false;  // from ASLSEG_SAM_FIXTURES
  std::string problem;            // why dir is empty
};

inline SamFixtureLookup find_sam_fixtures() {
  namespace fs = std::filesystem;
  SamFixtureLookup out;
  fs::path dir;
  if (const char* env = std::getenv("ASLSEG_SAM_FIXTURES"); env && *env) {
    dir = env;
    out.explicit_setting = true;
  } else {
    // <project>/../shared/fixtures/sam (not from __FILE__: ccache's base_dir makes it relative)
    dir = fs::path(ASLSEG_SOURCE_DIR).parent_path() / "shared" / "fixtures" / "sam";
  }
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    out.problem = "SAM fixture folder " + dir.string() + " not found" +
                  (out.explicit_setting ? " (ASLSEG_SAM_FIXTURES is set to it)"
                                        : " (set ASLSEG_SAM_FIXTURES to run these tests)");
    return out;
  }
  out.dir = dir;
  return out;
}

// Fixture NAMEs with all of NAME.json, NAME.pth and NAME_cases.pt, sorted.
inline std::vector<std::string> sam_fixture_names(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".json") continue;
    const std::string name = entry.path().stem().string();
    if (fs::exists(dir / (name + ".pth")) && fs::exists(dir / (name + "_cases.pt")))
      names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace aslseg::testing

// Declares `std::filesystem::path var` holding the fixture folder, or ends the test: skipped
// when the default folder is absent, failed when ASLSEG_SAM_FIXTURES names a missing folder.
#define ASLSEG_SAM_FIXTURE_DIR_OR_SKIP(var)                                  \
  std::filesystem::path var;                                                 \
  do {                                                                       \
    const auto aslseg_lookup_ = ::aslseg::testing::find_sam_fixtures();      \
    if (aslseg_lookup_.dir.empty()) {                                        \
      if (aslseg_lookup_.explicit_setting) FAIL() << aslseg_lookup_.problem; \
      GTEST_SKIP() << aslseg_lookup_.problem;                                \
    }                                                                        \
    var = aslseg_lookup_.dir;                                                \
  } while (0)
