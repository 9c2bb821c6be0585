#include "aslseg/config/train_config.h"

#include <fstream>

#include "aslseg/io/error.h"

namespace aslseg::config {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Every key of `user` must exist in `defaults` with a compatible type.
void check_keys(const json& user, const json& defaults, const std::string& where,
                const std::string& prefix) {
  for (auto it = user.begin(); it != user.end(); ++it) {
    const std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (!defaults.contains(it.key()))
      throw InputError(where, "unknown configuration key '" + key + "'");
    const json& d = defaults.at(it.key());
    if (d.is_null()) continue;  // an optional value (null = off): its reader checks the type
    if (d.is_object()) {
      if (!it->is_object()) throw InputError(where, "'" + key + "' must be an object");
      check_keys(*it, d, where, key);
    } else if (d.is_number() != it->is_number() || d.is_boolean() != it->is_boolean() ||
               d.is_string() != it->is_string()) {
      throw InputError(where, "'" + key + "' has the wrong type (expected like " + d.dump() + ")");
    }
  }
}

void set_path(json& doc, const std::string& override_text) {
  const auto eq = override_text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError("--set " + override_text, "expected key.path=value");
  const std::string path = override_text.substr(0, eq);
  const std::string text = override_text.substr(eq + 1);
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) value = text;  // a bare word is a string
  json patch = value;
  size_t end = path.size();
  while (true) {
    const auto dot = path.rfind('.', end - 1);
    const std::string key = path.substr(dot == std::string::npos ? 0 : dot + 1,
                                        end - (dot == std::string::npos ? 0 : dot + 1));
    patch = json{{key, patch}};
    if (dot == std::string::npos) break;
    end = dot;
  }
  check_keys(patch, default_config_json(), "--set " + override_text, "");
  doc.merge_patch(patch);
}

}  // namespace

json default_config_json() {
  const TrainConfig c;
  const ssl::TrainParams& t = c.train;
  json j;
  j["seed"] = t.seed;
  j["device"] = t.device;
  j["model"] = {{"base_width", t.spec.unet.base_width},
                {"depth", t.spec.unet.depth},
                {"norm", t.spec.unet.norm},
                {"dropout", t.spec.unet.dropout}};
  j["preprocess"] = {{"context", t.spec.context},
                     {"image_size", t.spec.image_size},
                     {"window", {{"level", t.spec.window.level}, {"width", t.spec.window.width}}}};
  j["data"] = t.data;
  j["ssl"] = t.ssl;
  j["optim"] = t.optim;
  j["split"] = {{"labelled_fraction", c.split.labelled_fraction},
                {"test_fraction", c.split.test_fraction},
                {"seed", c.split.seed}};
  j["loop"] = c.loop;
  return j;
}

json resolve_config_json(const fs::path& file, const std::vector<std::string>& overrides) {
  json doc = default_config_json();
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) throw InputError(file.string(), "cannot open the configuration file");
    json user = json::parse(in, nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/true);
    if (user.is_discarded() || !user.is_object())
      throw InputError(file.string(), "not a valid JSON object");
    check_keys(user, doc, file.string(), "");
    doc.merge_patch(user);
  }
  for (const auto& o : overrides) set_path(doc, o);
  config_from_json(doc);  // validates values
  return doc;
}

TrainConfig config_from_json(const json& j) {
  TrainConfig c;
  try {
    ssl::TrainParams& t = c.train;
    t.seed = j.at("seed").get<uint64_t>();
    t.device = j.at("device").get<std::string>();
    const json& m = j.at("model");
    t.spec.unet.base_width = m.at("base_width").get<int64_t>();
    t.spec.unet.depth = m.at("depth").get<int64_t>();
    t.spec.unet.norm = m.at("norm").get<std::string>();
    t.spec.unet.dropout = m.at("dropout").get<double>();
    const json& p = j.at("preprocess");
    t.spec.context = p.at("context").get<int64_t>();
    t.spec.image_size = p.at("image_size").get<int64_t>();
    t.spec.window.level = p.at("window").at("level").get<float>();
    t.spec.window.width = p.at("window").at("width").get<float>();
    t.spec.unet.in_channels = 2 * t.spec.context + 1;
    from_json(j.at("data"), t.data);
    t.data.context = t.spec.context;
    t.data.image_size = t.spec.image_size;
    t.data.window = t.spec.window;
    t.ssl = j.at("ssl").get<ssl::SslParams>();
    t.optim = j.at("optim").get<ssl::OptimParams>();
    c.split.labelled_fraction = j.at("split").at("labelled_fraction").get<double>();
    c.split.test_fraction = j.at("split").at("test_fraction").get<double>();
    c.split.seed = j.at("split").at("seed").get<uint64_t>();
    c.loop = j.at("loop").get<loop::LoopParams>();
  } catch (const json::exception& e) {
    throw InputError("configuration", e.what());
  } catch (const std::invalid_argument& e) {
    throw InputError("configuration", e.what());
  }
  const auto& t = c.train;
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw InputError("configuration", what);
  };
  require(t.spec.context >= 0, "preprocess.context must be >= 0");
  require(t.spec.image_size > 0 && t.spec.image_size % t.spec.unet.size_multiple() == 0,
          "preprocess.image_size must be a positive multiple of 2^(model.depth-1) = " +
              std::to_string(t.spec.unet.size_multiple()));
  require(t.spec.window.width > 0, "preprocess.window.width must be > 0");
  require(t.optim.steps > 0, "optim.steps must be > 0");
  require(t.optim.batch_labelled > 0, "optim.batch_labelled must be > 0");
  require(t.optim.lr > 0, "optim.lr must be > 0");
  require(t.optim.checkpoint_every > 0, "optim.checkpoint_every must be > 0");
  require(t.optim.validate_every > 0,
          "optim.validate_every must be > 0 (set it to optim.steps to validate at the end only)");
  require(t.optim.log_every > 0, "optim.log_every must be > 0");
  require(t.data.patch_size == 0 || (t.data.patch_size <= t.spec.image_size &&
                                     t.data.patch_size % t.spec.unet.size_multiple() == 0),
          "data.patch_size must be 0 (whole slices) or a multiple of 2^(model.depth-1) = " +
              std::to_string(t.spec.unet.size_multiple()) +
              " no larger than preprocess.image_size");
  require(c.loop.rounds >= 0, "loop.rounds must be >= 0");
  return c;
}

}  // namespace aslseg::config
