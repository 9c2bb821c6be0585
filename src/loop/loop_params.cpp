#include "aslseg/loop/loop_params.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "aslseg/config/json_fields.h"

namespace aslseg::loop {

namespace {

using nlohmann::json;

const std::vector<std::string> kLoopKeys{"rounds",
                                         "ss_members",
                                         "concurrent_members",
                                         "warm_start",
                                         "selection",
                                         "mc_dropout_samples",
                                         "sam",
                                         "adaptation",
                                         "stages",
                                         "component_filter",
                                         "pseudo_label_loss"};
const char* const kPseudoLossFull = "full";
const char* const kPseudoLossPartial = "tumour_and_background";
const std::vector<std::string> kComponentFilterKeys{"enabled", "threshold", "min_examples"};
const std::vector<std::string> kWarmStartKeys{"steps", "lr"};
const std::vector<std::string> kStageKeys{"sam", "adaptation"};
const std::vector<std::string> kSamKeys{"model", "checkpoint", "finetune", "prompts"};
const std::vector<std::string> kSelectionKeys{"reliability",
                                              "tau",
                                              "tau_liver",
                                              "max_fraction",
                                              "min_selected",
                                              "tau_min",
                                              "both_empty_reliability",
                                              "small_volume_voxels",
                                              "max_uncertainty"};
// The run's top-level "device" drives every stage.
constexpr const char* kDeviceKey = "device";

// Reads a nested parameter object with its own from_json, prefixing its errors with where it
// sits in the configuration, and refusing a per-stage device.
template <typename T>
void read_section(const json& j, const std::string& key, T& field, const std::string& where) {
  if (!j.contains(key)) return;
  const json& v = j.at(key);
  const std::string here = where + "." + key;
  if (v.is_object() && v.contains(kDeviceKey))
    throw std::invalid_argument(here +
                                ": 'device' is set once for the whole run (top-level "
                                "\"device\")");
  try {
    v.get_to(field);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(here + ": " + e.what());
  } catch (const json::exception& e) {
    throw std::invalid_argument(here + ": " + e.what());
  }
}

json without_device(json j) {
  j.erase(kDeviceKey);
  return j;
}

}  // namespace

void to_json(json& j, const SelectionParams& p) {
  j = json{{"reliability", reliability_source_name(p.reliability)},
           {"tau", p.tau},
           {"tau_liver", p.tau_liver},
           {"max_fraction", p.max_fraction},
           {"min_selected", p.min_selected},
           {"tau_min", p.tau_min},
           {"both_empty_reliability", p.both_empty_reliability},
           {"small_volume_voxels", p.small_volume_voxels},
           {"max_uncertainty", p.max_uncertainty ? json(*p.max_uncertainty) : json(nullptr)}};
}

void from_json(const json& j, SelectionParams& p) {
  const std::string where = "selection";
  config::reject_unknown_keys(j, kSelectionKeys, where);
  if (j.contains("reliability")) {
    const json& v = j.at("reliability");
    if (!v.is_string()) config::throw_wrong_type(where, "reliability", v);
    const auto source = parse_reliability_source(v.get<std::string>());
    if (!source)
      throw std::invalid_argument(where + ".reliability must be \"stages\" (PL3 against PL1) or " +
                                  "\"members\" (the SS ensemble's members), got \"" +
                                  v.get<std::string>() + "\"");
    p.reliability = *source;
  }
  config::read_if_present(j, "tau", p.tau, where);
  config::read_if_present(j, "tau_liver", p.tau_liver, where);
  config::read_if_present(j, "max_fraction", p.max_fraction, where);
  config::read_if_present(j, "min_selected", p.min_selected, where);
  config::read_if_present(j, "tau_min", p.tau_min, where);
  config::read_if_present(j, "both_empty_reliability", p.both_empty_reliability, where);
  config::read_if_present(j, "small_volume_voxels", p.small_volume_voxels, where);
  if (j.contains("max_uncertainty")) {
    const json& v = j.at("max_uncertainty");
    if (v.is_null()) {
      p.max_uncertainty.reset();
    } else {
      if (!v.is_number()) config::throw_wrong_type(where, "max_uncertainty", v);
      p.max_uncertainty = v.get<double>();
    }
  }
  try {
    validate(p);
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string(e.what()));
  }
}

void to_json(json& j, const LoopParams& p) {
  json model;
  models::to_json(model, p.sam.model);
  json finetune;
  sam::to_json(finetune, p.sam.finetune);
  json prompts;
  sam::to_json(prompts, p.sam.prompts);
  json adaptation;
  to_json(adaptation, p.adaptation);
  j = json{{"rounds", p.rounds},
           {"ss_members", p.ss_members},
           {"concurrent_members", p.concurrent_members},
           {"warm_start", {{"steps", p.warm_start.steps}, {"lr", p.warm_start.lr}}},
           {"pseudo_label_loss", p.pseudo_liver_supervised ? kPseudoLossFull : kPseudoLossPartial},
           {"selection", p.selection},
           {"mc_dropout_samples", p.mc_dropout_samples},
           {"sam",
            {{"model", model},
             {"checkpoint", p.sam.checkpoint},
             {"finetune", without_device(finetune)},
             {"prompts", prompts}}},
           {"adaptation", without_device(adaptation)},
           {"stages", {{"sam", p.stages.sam}, {"adaptation", p.stages.adaptation}}},
           {"component_filter",
            {{"enabled", p.component_filter.enabled},
             {"threshold", p.component_filter.threshold},
             {"min_examples", p.component_filter.min_examples}}}};
}

void from_json(const json& j, LoopParams& p) {
  const std::string where = "loop";
  config::reject_unknown_keys(j, kLoopKeys, where);
  config::read_if_present(j, "rounds", p.rounds, where);
  if (p.rounds < 0)
    throw std::invalid_argument("loop.rounds must be >= 0, got " + std::to_string(p.rounds));
  config::read_if_present(j, "ss_members", p.ss_members, where);
  if (p.ss_members < 1 || p.ss_members > kMaxSsMembers)
    throw std::invalid_argument("loop.ss_members must be in [1, " + std::to_string(kMaxSsMembers) +
                                "], got " + std::to_string(p.ss_members));
  config::read_if_present(j, "concurrent_members", p.concurrent_members, where);
  if (j.contains("pseudo_label_loss")) {
    std::string loss;
    config::read_if_present(j, "pseudo_label_loss", loss, where);
    if (loss != kPseudoLossFull && loss != kPseudoLossPartial)
      throw std::invalid_argument("loop.pseudo_label_loss must be \"" +
                                  std::string(kPseudoLossFull) + "\" or \"" + kPseudoLossPartial +
                                  "\", got \"" + loss + "\"");
    p.pseudo_liver_supervised = loss == kPseudoLossFull;
  }
  if (j.contains("warm_start")) {
    const json& w = j.at("warm_start");
    const std::string here = where + ".warm_start";
    config::reject_unknown_keys(w, kWarmStartKeys, here);
    config::read_if_present(w, "steps", p.warm_start.steps, here);
    config::read_if_present(w, "lr", p.warm_start.lr, here);
    if (p.warm_start.steps < 0)
      throw std::invalid_argument(here + ".steps must be >= 0 (0: no warm start), got " +
                                  std::to_string(p.warm_start.steps));
    if (!(p.warm_start.lr > 0.0))
      throw std::invalid_argument(here + ".lr must be > 0, got " + std::to_string(p.warm_start.lr));
  }
  read_section(j, "selection", p.selection, where);
  config::read_if_present(j, "mc_dropout_samples", p.mc_dropout_samples, where);
  if (p.mc_dropout_samples < 1)
    throw std::invalid_argument("loop.mc_dropout_samples must be >= 1, got " +
                                std::to_string(p.mc_dropout_samples));
  if (j.contains("sam")) {
    const json& s = j.at("sam");
    const std::string here = where + ".sam";
    config::reject_unknown_keys(s, kSamKeys, here);
    read_section(s, "model", p.sam.model, here);
    config::read_if_present(s, "checkpoint", p.sam.checkpoint, here);
    read_section(s, "finetune", p.sam.finetune, here);
    read_section(s, "prompts", p.sam.prompts, here);
  }
  read_section(j, "adaptation", p.adaptation, where);
  if (j.contains("stages")) {
    const json& s = j.at("stages");
    const std::string here = where + ".stages";
    config::reject_unknown_keys(s, kStageKeys, here);
    config::read_if_present(s, "sam", p.stages.sam, here);
    config::read_if_present(s, "adaptation", p.stages.adaptation, here);
  }
  if (j.contains("component_filter")) {
    const json& f = j.at("component_filter");
    const std::string here = where + ".component_filter";
    config::reject_unknown_keys(f, kComponentFilterKeys, here);
    config::read_if_present(f, "enabled", p.component_filter.enabled, here);
    config::read_if_present(f, "threshold", p.component_filter.threshold, here);
    config::read_if_present(f, "min_examples", p.component_filter.min_examples, here);
    if (!(p.component_filter.threshold > 0.0 && p.component_filter.threshold < 1.0))
      throw std::invalid_argument(here + ".threshold must be in (0, 1), got " +
                                  std::to_string(p.component_filter.threshold));
    if (p.component_filter.min_examples < 1)
      throw std::invalid_argument(here + ".min_examples must be >= 1, got " +
                                  std::to_string(p.component_filter.min_examples));
  }
}

}  // namespace aslseg::loop
