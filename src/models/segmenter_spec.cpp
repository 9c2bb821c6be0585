#include "aslseg/models/segmenter_spec.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "aslseg/config/json_fields.h"

namespace aslseg::models {

namespace {

const std::vector<std::string> kSpecKeys{"unet", "window", "context", "image_size", "patch_size"};
const std::vector<std::string> kWindowKeys{"level", "width"};

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
  if (s.patch_size != 0 &&
      (s.patch_size < 0 || s.patch_size % multiple != 0 || s.patch_size > s.image_size))
    throw std::invalid_argument("spec: patch_size must be 0 (whole slices) or a multiple of " +
                                std::to_string(multiple) + " no larger than image_size " +
                                std::to_string(s.image_size) + ", got " +
                                std::to_string(s.patch_size));
}

void to_json(nlohmann::json& j, const SegmenterSpec& s) {
  j = nlohmann::json{{"unet", s.unet},
                     {"window", {{"level", s.window.level}, {"width", s.window.width}}},
                     {"context", s.context},
                     {"image_size", s.image_size},
                     {"patch_size", s.patch_size}};
}

void from_json(const nlohmann::json& j, SegmenterSpec& s) {
  config::reject_unknown_keys(j, kSpecKeys, "spec");
  config::read_if_present(j, "context", s.context, "spec");
  config::read_if_present(j, "image_size", s.image_size, "spec");
  config::read_if_present(j, "patch_size", s.patch_size, "spec");
  if (j.contains("window")) {
    const nlohmann::json& w = j.at("window");
    config::reject_unknown_keys(w, kWindowKeys, "spec.window");
    config::read_if_present(w, "level", s.window.level, "spec.window");
    config::read_if_present(w, "width", s.window.width, "spec.window");
  }
  // The channel count follows the context unless the JSON says otherwise (then it must agree).
  s.unet.in_channels = context_channels(s.context);
  if (j.contains("unet")) j.at("unet").get_to(s.unet);
  validate(s);
}

}  // namespace aslseg::models
