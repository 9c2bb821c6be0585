// RUN/state.json: the steps of the loop that have finished, so that rerunning `aslseg train`
// on the same run folder resumes at the first unfinished step. A step is recorded only after
// everything it writes is on disk (each file written through a temporary name and a rename),
// and state.json itself is replaced atomically, so a kill at any moment leaves a state that
// names only complete steps.
//
//   {"version": 1, "steps": [{"step": "round_1/ss", "info": {...}}, ...]}
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace aslseg::loop {

inline constexpr const char* kStateFile = "state.json";
inline constexpr int kStateVersion = 1;

class RunState {
 public:
  // Reads `file` when it exists. InputError naming the file when it is not a state this
  // version wrote (not JSON, wrong version, malformed or repeated steps).
  explicit RunState(std::filesystem::path file);

  bool done(const std::string& step) const;
  // What mark_done recorded for a finished step (std::out_of_range when not finished).
  const nlohmann::json& info(const std::string& step) const;
  // Records the step (with what a resumed run needs to know of it) and rewrites the file.
  void mark_done(const std::string& step, nlohmann::json info = nlohmann::json::object());

  const std::filesystem::path& file() const { return file_; }
  std::vector<std::string> steps() const;  // finished steps, in the order they finished

 private:
  std::filesystem::path file_;
  nlohmann::json doc_;
};

}  // namespace aslseg::loop
