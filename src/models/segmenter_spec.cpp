#include "aslseg/models/segmenter_spec.h"

#include <set>
#include <stdexcept>
#include <string>

namespace aslseg::models {

namespace {

const std::set<std::string> kSpecKeys{"unet", "window", "context", "image_size"};
const std::set<std::string> kWindowKeys{"level", "width"};

void reject_unknown(const nlohmann::json& j, const std::set<std::string>& known,
                    const std::string& where) {
  if (!j.is_object()) throw std::invalid_argument(where + ": expected a JSON object");
  for (const auto& item : j.items()) {
    if (known.count(item.key())) continue;
    std::string names;
    for (const std::string& k : known) names += (names.empty() ? "" : ", ") + k;
    throw std::invalid_argument(where + ": unknown key '" + item.key() + "' (" + names + ")");
  }
}

template <typename T>
void get_if_present(const nlohmann::json& j, const char* key, const std::string& where, T& field) {
  if (!j.contains(key)) return;
  try {
    j.at(key).get_to(field);
  } catch (const nlohmann::json::exception&) {
    throw std::invalid_argument(where + ": '" + key + "' has the wrong type: " + j.at(key).dump());
  }
}

int64_t context_channels(int64_t context) { return 2 * context + 1; }

}  // namespace

void validate(const SegmenterSpec& s) {
  validate(s.unet);
  preprocess::validate(s.window);
  if (s.context < 0)
    throw std::invalid_argument("spec: context must be >= 0, got " + std::to_string(s.context));
  if (s.unet.in_channels != context_channels(s.context))
    throw std::invalid_argument("spec: unet.in_channels is " + std::to_string(s.unet.in_channels) +
                                " but context " + std::to_string(s.context) + " gives " +
                                std::to_string(context_channels(s.context)) + " slices");
  const int64_t multiple = s.unet.size_multiple();
  if (s.image_size <= 0 || s.image_size % multiple != 0)
    throw std::invalid_argument("spec: image_size must be a positive multiple of " +
                                std::to_string(multiple) + " (2^(depth-1)), got " +
                                std::to_string(s.image_size));
}

void to_json(nlohmann::json& j, const SegmenterSpec& s) {
  j = nlohmann::json{{"unet", s.unet},
                     {"window", {{"level", s.window.level}, {"width", s.window.width}}},
                     {"context", s.context},
                     {"image_size", s.image_size}};
}

void from_json(const nlohmann::json& j, SegmenterSpec& s) {
  reject_unknown(j, kSpecKeys, "spec");
  get_if_present(j, "context", "spec", s.context);
  get_if_present(j, "image_size", "spec", s.image_size);
  if (j.contains("window")) {
    const nlohmann::json& w = j.at("window");
    reject_unknown(w, kWindowKeys, "spec.window");
    get_if_present(w, "level", "spec.window", s.window.level);
    get_if_present(w, "width", "spec.window", s.window.width);
  }
  // The channel count follows the context unless the JSON says otherwise (then it must agree).
  s.unet.in_channels = context_channels(s.context);
  if (j.contains("unet")) j.at("unet").get_to(s.unet);
  validate(s);
}

}  // namespace aslseg::models
