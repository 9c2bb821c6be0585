#include "aslseg/config/json_diff.h"

namespace aslseg::config {

namespace {

// "" when equal, "." for a differing leaf, else the dotted path below this level.
std::string diff(const nlohmann::json& a, const nlohmann::json& b) {
  if (!a.is_object() || !b.is_object()) return a == b ? "" : ".";
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (!b.contains(it.key())) return it.key();
    const std::string sub = diff(*it, b.at(it.key()));
    if (!sub.empty()) return sub == "." ? it.key() : it.key() + "." + sub;
  }
  for (auto it = b.begin(); it != b.end(); ++it)
    if (!a.contains(it.key())) return it.key();
  return "";
}

}  // namespace

std::string first_difference(const nlohmann::json& a, const nlohmann::json& b) {
  const std::string d = diff(a, b);
  return d == "." ? "(the whole document)" : d;
}

}  // namespace aslseg::config
