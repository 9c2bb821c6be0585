// Where two JSON documents differ, for error messages such as "RUN was started with a
// different configuration (first difference: optim.lr)".
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace aslseg::config {

// The first key path where two documents differ ("optim.lr"), or "" when equal.
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b);

}  // namespace aslseg::config
