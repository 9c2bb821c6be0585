#include "aslseg/models/adaptation_net.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "aslseg/config/json_fields.h"

namespace aslseg::models {

namespace {

// Same keys as SegmenterSpec plus use_pl1, so the two specs read alike in a config.
const std::vector<std::string> kSpecKeys{"unet", "window", "context", "image_size", "use_pl1"};
const std::vector<std::string> kWindowKeys{"level", "width"};
constexpr const char* kWhere = "adaptation spec";

}  // namespace

AdaptationSpec make_adaptation_spec(UNetOptions unet, preprocess::WindowParams window,
                                    int64_t context, int64_t image_size, bool use_pl1) {
  AdaptationSpec s;
  s.window = window;
  s.context = context;
  s.image_size = image_size;
  s.use_pl1 = use_pl1;
  s.unet = std::move(unet);
  s.unet.in_channels = s.input_channels();
  s.unet.num_classes = kAdaptationClasses;
  return s;
}

void validate(const AdaptationSpec& s) {
  const std::string where = kWhere;
  validate(s.unet);
  preprocess::validate(s.window);
  if (s.context < 0)
    throw std::invalid_argument(where + ": context must be >= 0, got " + std::to_string(s.context));
  if (s.unet.in_channels != s.input_channels())
    throw std::invalid_argument(
        where + ": unet.in_channels is " + std::to_string(s.unet.in_channels) + " but context " +
        std::to_string(s.context) + (s.use_pl1 ? " with" : " without") + " PL1 gives " +
        std::to_string(s.input_channels()) + " channels (2k+1 image slices + PL2" +
        (s.use_pl1 ? " + PL1)" : ")"));
  if (s.unet.num_classes != kAdaptationClasses)
    throw std::invalid_argument(where + ": unet.num_classes must be " +
                                std::to_string(kAdaptationClasses) + " (background, tumour), got " +
                                std::to_string(s.unet.num_classes));
  const int64_t multiple = s.unet.size_multiple();
  if (s.image_size <= 0 || s.image_size % multiple != 0)
    throw std::invalid_argument(where + ": image_size must be a positive multiple of " +
                                std::to_string(multiple) + " (2^(depth-1)), got " +
                                std::to_string(s.image_size));
}

void to_json(nlohmann::json& j, const AdaptationSpec& s) {
  j = nlohmann::json{{"unet", s.unet},
                     {"window", {{"level", s.window.level}, {"width", s.window.width}}},
                     {"context", s.context},
                     {"image_size", s.image_size},
                     {"use_pl1", s.use_pl1}};
}

void from_json(const nlohmann::json& j, AdaptationSpec& s) {
  config::reject_unknown_keys(j, kSpecKeys, kWhere);
  config::read_if_present(j, "context", s.context, kWhere);
  config::read_if_present(j, "image_size", s.image_size, kWhere);
  config::read_if_present(j, "use_pl1", s.use_pl1, kWhere);
  if (j.contains("window")) {
    const nlohmann::json& w = j.at("window");
    const std::string where = std::string(kWhere) + ".window";
    config::reject_unknown_keys(w, kWindowKeys, where);
    config::read_if_present(w, "level", s.window.level, where);
    config::read_if_present(w, "width", s.window.width, where);
  }
  // Channels and classes follow the other fields unless the JSON says otherwise (then they
  // must agree, which validate checks).
  s.unet.in_channels = s.input_channels();
  s.unet.num_classes = kAdaptationClasses;
  if (j.contains("unet")) j.at("unet").get_to(s.unet);
  validate(s);
}

}  // namespace aslseg::models
