#include "aslseg/checkpoint/checkpoint.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "aslseg/io/atomic_file.h"
#include "aslseg/io/error.h"

namespace aslseg::checkpoint {

namespace {

namespace fs = std::filesystem;
using torch::serialize::InputArchive;
using torch::serialize::OutputArchive;

// Archive layout: "modules/<name>/<module's own keys>", "optimizer/...", "meta".
constexpr const char* kModulesKey = "modules";
constexpr const char* kOptimizerKey = "optimizer";
constexpr const char* kMetaKey = "meta";

std::string shape_string(c10::IntArrayRef sizes) {
  std::string s = "[";
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? "," : "") + std::to_string(sizes[i]);
  return s + "]";
}

// The first line of a LibTorch message, without its C++ backtrace.
std::string first_line(const std::string& message) {
  const size_t end = message.find('\n');
  return end == std::string::npos ? message : message.substr(0, end);
}

// Names become archive attribute names: keep them to identifiers.
void check_module_name(const std::string& name) {
  const bool ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
  if (!ok)
    throw std::invalid_argument("checkpoint: module name '" + name +
                                "' must be letters, digits and '_'");
}

// Where the archive's tensors should land: the device of the caller's first parameter, so
// that optimiser state ends up next to the parameters it belongs to.
torch::Device target_device(const Contents& into) {
  for (const auto& named : into.modules) {
    for (const auto& p : named.second->parameters()) return p.device();
  }
  return torch::kCPU;
}

InputArchive open(const fs::path& path, const torch::Device& device = torch::kCPU) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError(path.string(), "no such file");
  if (fs::is_directory(path, ec))
    throw InputError(path.string(), "is a folder, not a checkpoint file");
  InputArchive archive;
  try {
    archive.load_from(path.string(), device);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    // c10::Error for a truncated or foreign file: the zip reader or the unpickler gave up.
    throw InputError(path.string(),
                     "not a readable checkpoint (truncated or corrupt?): " + first_line(e.what()));
  }
  return archive;
}

nlohmann::json read_meta_record(InputArchive& archive, const fs::path& path) {
  torch::Tensor bytes;
  if (!archive.try_read(kMetaKey, bytes) || bytes.scalar_type() != torch::kUInt8 ||
      bytes.dim() != 1)
    throw InputError(path.string(), "not an aslseg checkpoint (no metadata record)");
  bytes = bytes.to(torch::kCPU).contiguous();
  const std::string text(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()),
                         static_cast<size_t>(bytes.numel()));
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path.string(), std::string("metadata is not valid JSON: ") + e.what());
  }
}

// Every tensor of an archive by dotted key ("encoders.0.conv1.weight"), recursively.
void collect_tensors(InputArchive& archive, const std::string& prefix,
                     std::map<std::string, torch::Tensor>& out) {
  for (const std::string& key : archive.keys()) {
    torch::Tensor t;
    if (archive.try_read(key, t)) {
      out[prefix + key] = t;
      continue;
    }
    InputArchive child;
    if (archive.try_read(key, child)) collect_tensors(child, prefix + key + ".", out);
  }
}

std::vector<std::string> module_names_of(InputArchive& archive) {
  std::vector<std::string> names;
  InputArchive modules;
  if (!archive.try_read(kModulesKey, modules)) return names;
  for (const std::string& key : modules.keys()) {
    InputArchive child;
    if (modules.try_read(key, child)) names.push_back(key);
  }
  std::sort(names.begin(), names.end());
  return names;
}

using TensorPairs = std::vector<std::pair<torch::Tensor, torch::Tensor>>;

// Matches every parameter and buffer of `module` with the archive's tensor of the same key
// and shape (LibTorch's own Module::load would silently take a tensor of another shape).
// Returns (model tensor, stored tensor) pairs; nothing is copied yet.
TensorPairs match_module(InputArchive& archive, const std::string& name, torch::nn::Module& module,
                         const fs::path& path) {
  const std::string where = std::string(kModulesKey) + "/" + name;
  InputArchive modules;
  InputArchive sub;
  if (!archive.try_read(kModulesKey, modules) || !modules.try_read(name, sub)) {
    std::string held;
    for (const std::string& n : module_names_of(archive)) held += (held.empty() ? "" : ", ") + n;
    throw InputError(path.string(), where + ": not in this checkpoint (it holds: " +
                                        (held.empty() ? "no modules" : held) + ")");
  }
  std::map<std::string, torch::Tensor> stored;
  collect_tensors(sub, "", stored);

  TensorPairs pairs;
  std::set<std::string> expected;
  auto check = [&](const std::string& key, const torch::Tensor& target) {
    expected.insert(key);
    const auto it = stored.find(key);
    if (it == stored.end())
      throw InputError(path.string(), where + ": " + key + " is missing from the checkpoint");
    if (it->second.sizes() != target.sizes())
      throw InputError(path.string(), where + ": " + key + " has shape " +
                                          shape_string(it->second.sizes()) +
                                          ", the model expects " + shape_string(target.sizes()));
    pairs.emplace_back(target, it->second);
  };
  for (const auto& p : module.named_parameters(/*recurse=*/true)) check(p.key(), p.value());
  for (const auto& b : module.named_buffers(/*recurse=*/true)) check(b.key(), b.value());
  for (const auto& [key, tensor] : stored)
    if (!expected.count(key))
      throw InputError(path.string(), where + ": unexpected key " + key +
                                          " (saved from a model with other hyper-parameters?)");
  return pairs;
}

}  // namespace

void save(const fs::path& path, const Contents& contents) {
  OutputArchive root;
  OutputArchive modules(root.compilation_unit());
  std::set<std::string> seen;
  for (const auto& [name, module] : contents.modules) {
    check_module_name(name);
    if (!module) throw std::invalid_argument("checkpoint: module '" + name + "' is null");
    if (!seen.insert(name).second)
      throw std::invalid_argument("checkpoint: module name '" + name + "' given twice");
    OutputArchive sub(root.compilation_unit());
    module->save(sub);
    modules.write(name, sub);
  }
  root.write(kModulesKey, modules);
  if (contents.optimizer != nullptr) {
    OutputArchive optim(root.compilation_unit());
    contents.optimizer->save(optim);
    root.write(kOptimizerKey, optim);
  }
  const std::string text = contents.meta.dump();
  torch::Tensor meta = torch::empty({static_cast<int64_t>(text.size())}, torch::kUInt8);
  std::copy(text.begin(), text.end(), reinterpret_cast<char*>(meta.data_ptr<uint8_t>()));
  root.write(kMetaKey, meta);
  io::write_atomically(path, [&](const fs::path& tmp) { root.save_to(tmp.string()); });
}

nlohmann::json load(const fs::path& path, const Contents& into) {
  InputArchive archive = open(path, target_device(into));
  nlohmann::json meta = read_meta_record(archive, path);
  // Every module is checked before any is written, so a bad file leaves the caller's modules
  // as they were.
  TensorPairs pairs;
  for (const auto& [name, module] : into.modules) {
    if (!module) throw std::invalid_argument("checkpoint: module '" + name + "' is null");
    TensorPairs matched = match_module(archive, name, *module, path);
    pairs.insert(pairs.end(), matched.begin(), matched.end());
  }
  if (into.optimizer != nullptr) {
    InputArchive optim;
    if (archive.try_read(kOptimizerKey, optim)) {
      try {
        into.optimizer->load(optim);
      } catch (const c10::Error& e) {
        throw InputError(path.string(), "optimizer state does not fit this optimizer: " +
                                            first_line(e.what_without_backtrace()));
      }
    } else {
      spdlog::debug("{}: holds no optimizer state; the optimizer starts fresh", path.string());
    }
  }
  // In place: each tensor keeps its device, dtype and identity (an optimiser holding the
  // parameters stays valid).
  torch::NoGradGuard no_grad;
  for (auto& [target, source] : pairs) target.copy_(source);
  return meta;
}

nlohmann::json read_meta(const fs::path& path) {
  InputArchive archive = open(path);
  return read_meta_record(archive, path);
}

Summary inspect(const fs::path& path) {
  InputArchive archive = open(path);
  Summary s;
  s.meta = read_meta_record(archive, path);
  s.modules = module_names_of(archive);
  InputArchive optim;
  s.has_optimizer = archive.try_read(kOptimizerKey, optim);
  return s;
}

}  // namespace aslseg::checkpoint
