#include "aslseg/config/json_fields.h"

#include <algorithm>

namespace aslseg::config {

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
