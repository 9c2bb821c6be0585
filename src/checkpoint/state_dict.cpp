#include "aslseg/checkpoint/state_dict.h"

#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "aslseg/io/error.h"

namespace aslseg::checkpoint {

namespace {

std::string shape_text(at::IntArrayRef sizes) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < sizes.size(); ++i) s << (i ? ", " : "") << sizes[i];
  s << "]";
  return s.str();
}

// "'a' (and 3 more)" for the first of `names` and how many follow.
std::string first_of(const std::vector<std::string>& names) {
  std::string text = "'" + names.front() + "'";
  if (names.size() > 1) text += " (and " + std::to_string(names.size() - 1) + " more)";
  return text;
}

}  // namespace

StateDict module_state_dict(const torch::nn::Module& module) {
  StateDict sd;
  for (const auto& item : module.named_parameters(/*recurse=*/true))
    sd.emplace_back(item.key(), item.value().detach());
  for (const auto& item : module.named_buffers(/*recurse=*/true))
    sd.emplace_back(item.key(), item.value().detach());
  return sd;
}

void load_state_dict_strict(torch::nn::Module& module, const StateDict& sd,
                            const std::filesystem::path& source) {
  const std::string where = source.string();
  const std::string mismatch = "checkpoint does not match the model: ";

  // The module's tensors themselves (not detached copies): copy_ writes into them.
  std::vector<std::pair<std::string, torch::Tensor>> targets;
  for (const auto& item : module.named_parameters(/*recurse=*/true))
    targets.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers(/*recurse=*/true))
    targets.emplace_back(item.key(), item.value());

  std::unordered_map<std::string, const torch::Tensor*> given;
  given.reserve(sd.size());
  for (const auto& [name, tensor] : sd) {
    if (!given.emplace(name, &tensor).second)
      throw InputError(where, mismatch + "key '" + name + "' appears twice");
  }

  std::unordered_set<std::string> wanted;
  std::vector<std::string> missing;
  for (const auto& [name, tensor] : targets) {
    wanted.insert(name);
    if (!given.count(name)) missing.push_back(name);
  }
  std::vector<std::string> unexpected;
  for (const auto& entry : sd)
    if (!wanted.count(entry.first)) unexpected.push_back(entry.first);

  if (!missing.empty()) throw InputError(where, mismatch + "missing key " + first_of(missing));
  if (!unexpected.empty())
    throw InputError(where, mismatch + "unexpected key " + first_of(unexpected));

  for (const auto& [name, target] : targets) {
    const torch::Tensor& value = *given.at(name);
    if (!value.defined()) throw InputError(where, mismatch + "key '" + name + "' holds no tensor");
    if (value.sizes() != target.sizes())
      throw InputError(where, mismatch + "shape of '" + name + "' is " + shape_text(value.sizes()) +
                                  " in the checkpoint but " + shape_text(target.sizes()) +
                                  " in the model");
  }

  torch::NoGradGuard no_grad;
  for (auto& [name, target] : targets) target.copy_(*given.at(name));
}

}  // namespace aslseg::checkpoint
