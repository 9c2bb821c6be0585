// Strict reading of JSON parameter objects (model options, SSL and SAM parameters ...):
// unknown keys and values of the wrong type are errors that name the key, instead of being
// ignored or surfacing nlohmann's generic messages. Missing keys keep the caller's defaults.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace aslseg::config {

// The JSON document in `path`: InputError naming the file when it cannot be read or is not
// JSON (a run's own files: summary.json, scores.json, config.json ...).
nlohmann::json read_json_file(const std::filesystem::path& path);

// std::invalid_argument "<where>: expected a JSON object" or
// "<where>: unknown key 'k' (known, keys, ...)".
void reject_unknown_keys(const nlohmann::json& j, const std::vector<std::string>& known,
                         const std::string& where);

// "<where>.<key> has the wrong type: <value>".
[[noreturn]] void throw_wrong_type(const std::string& where, const std::string& key,
                                   const nlohmann::json& value);

namespace detail {

template <typename T>
struct is_vector : std::false_type {};
template <typename U, typename A>
struct is_vector<std::vector<U, A>> : std::true_type {};

// Whether `v` has the JSON type of T exactly: nlohmann would turn 2.5 into 2, true into 1 and
// -1 into a huge unsigned without a word.
template <typename T>
bool has_type_of(const nlohmann::json& v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v.is_boolean();
  } else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
    return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
  } else if constexpr (std::is_integral_v<T>) {
    return v.is_number_integer();
  } else if constexpr (std::is_floating_point_v<T>) {
    return v.is_number();
  } else if constexpr (std::is_same_v<T, std::string>) {
    return v.is_string();
  } else if constexpr (is_vector<T>::value) {
    if (!v.is_array()) return false;
    for (const auto& e : v)
      if (!has_type_of<typename T::value_type>(e)) return false;
    return true;
  } else {
    return true;  // a type with its own from_json checks itself
  }
}

}  // namespace detail

// Reads j[key] into `field` when present. The JSON type must be the field's exactly (an
// integer for an integer field, non-negative for an unsigned one, a boolean for a bool, every
// element of an array), else throw_wrong_type.
template <typename T>
void read_if_present(const nlohmann::json& j, const std::string& key, T& field,
                     const std::string& where) {
  if (!j.contains(key)) return;
  const nlohmann::json& v = j.at(key);
  if (!detail::has_type_of<T>(v)) throw_wrong_type(where, key, v);
  try {
    v.get_to(field);
  } catch (const nlohmann::json::exception&) {
    throw_wrong_type(where, key, v);
  }
}

}  // namespace aslseg::config
