#include "aslseg/loop/run_state.h"

#include <fstream>
#include <set>
#include <stdexcept>

#include "aslseg/io/atomic_file.h"
#include "aslseg/io/error.h"

namespace aslseg::loop {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json empty_state() { return json{{"version", kStateVersion}, {"steps", json::array()}}; }

void check_state(const json& doc, const fs::path& file) {
  auto bad = [&](const std::string& why) {
    throw InputError(file.string(), "not a run state of this aslseg (" + why +
                                        "); remove it to start the loop over");
  };
  if (!doc.is_object()) bad("not a JSON object");
  if (!doc.contains("version") || doc.at("version") != kStateVersion) bad("version");
  if (!doc.contains("steps") || !doc.at("steps").is_array()) bad("no 'steps' array");
  std::set<std::string> seen;
  for (const json& s : doc.at("steps")) {
    if (!s.is_object() || !s.contains("step") || !s.at("step").is_string() || !s.contains("info") ||
        !s.at("info").is_object())
      bad("a malformed step entry");
    if (!seen.insert(s.at("step").get<std::string>()).second)
      bad("step '" + s.at("step").get<std::string>() + "' recorded twice");
  }
}

}  // namespace

RunState::RunState(fs::path file) : file_(std::move(file)), doc_(empty_state()) {
  if (!fs::exists(file_)) return;
  std::ifstream in(file_);
  json doc = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded())
    throw InputError(file_.string(), "not valid JSON; remove it to start the loop over");
  check_state(doc, file_);
  doc_ = std::move(doc);
}

bool RunState::done(const std::string& step) const {
  for (const json& s : doc_.at("steps"))
    if (s.at("step") == step) return true;
  return false;
}

const json& RunState::info(const std::string& step) const {
  for (const json& s : doc_.at("steps"))
    if (s.at("step") == step) return s.at("info");
  throw std::out_of_range("step '" + step + "' has not finished");
}

void RunState::mark_done(const std::string& step, json info) {
  if (done(step)) throw std::logic_error("step '" + step + "' is already recorded");
  if (!info.is_object()) throw std::invalid_argument("step info must be a JSON object");
  doc_.at("steps").push_back(json{{"step", step}, {"info", std::move(info)}});
  io::write_text_atomically(file_, doc_.dump(2) + "\n");
}

std::vector<std::string> RunState::steps() const {
  std::vector<std::string> out;
  for (const json& s : doc_.at("steps")) out.push_back(s.at("step").get<std::string>());
  return out;
}

}  // namespace aslseg::loop
