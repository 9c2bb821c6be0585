#include "aslseg/config/json_fields.h"

#include <algorithm>
#include <fstream>

#include "aslseg/io/error.h"

namespace aslseg::config {

nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path.string(), "cannot read file");
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw InputError(path.string(), "not valid JSON");
  return j;
}

void reject_unknown_keys(const nlohmann::json& j, const std::vector<std::string>& known,
                         const std::string& where) {
  if (!j.is_object()) throw std::invalid_argument(where + ": expected a JSON object");
  for (const auto& item : j.items()) {
    if (std::find(known.begin(), known.end(), item.key()) != known.end()) continue;
    std::string names;
    for (const std::string& k : known) names += (names.empty() ? "" : ", ") + k;
    throw std::invalid_argument(where + ": unknown key '" + item.key() + "' (" + names + ")");
  }
}

void throw_wrong_type(const std::string& where, const std::string& key,
                      const nlohmann::json& value) {
  throw std::invalid_argument(where + "." + key + " has the wrong type: " + value.dump());
}

}  // namespace aslseg::config
