// Strict reading of JSON parameter objects (model options, SSL and SAM parameters ...):
// unknown keys and values of the wrong type are errors that name the key, instead of being
// ignored or surfacing nlohmann's generic messages. Missing keys keep the caller's defaults.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace aslseg::config {

// std::invalid_argument "<where>: expected a JSON object" or
// "<where>: unknown key 'k' (known, keys, ...)".
void reject_unknown_keys(const nlohmann::json& j, const std::vector<std::string>& known,
                         const std::string& where);

// "<where>.<key> has the wrong type: <value>".
[[noreturn]] void throw_wrong_type(const std::string& where, const std::string& key,
                                   const nlohmann::json& value);

// Reads j[key] into `field` when present. A boolean for a number field is refused (nlohmann
// would silently turn it into 0/1), as is any value nlohmann cannot convert.
template <typename T>
void read_if_present(const nlohmann::json& j, const std::string& key, T& field,
                     const std::string& where) {
  if (!j.contains(key)) return;
  const nlohmann::json& v = j.at(key);
  if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
    if (!v.is_number()) throw_wrong_type(where, key, v);
  }
  try {
    v.get_to(field);
  } catch (const nlohmann::json::exception&) {
    throw_wrong_type(where, key, v);
  }
}

}  // namespace aslseg::config
