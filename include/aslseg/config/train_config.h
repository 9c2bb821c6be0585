// The configuration of `aslseg train`: one JSON document with a default for every field,
// merged with the user's file (configs/*.json) and `--set key.path=value` overrides. Unknown
// keys are errors (a typo must not silently train with a default), and the resolved document
// is printed at start and written to RUN/config.json, so every run says exactly what it used.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aslseg/config/json_diff.h"
#include "aslseg/dataset/split.h"
#include "aslseg/loop/loop_params.h"
#include "aslseg/ssl/trainer.h"

namespace aslseg::config {

struct TrainConfig {
  ssl::TrainParams train;      // seed, device, spec (model + preprocessing), ssl, optim, data
  dataset::SplitParams split;  // used when no --split file is given
  loop::LoopParams loop;       // rounds of SAM + adaptation net (0: SS alone)
};

// Every field with its default, as the JSON users write.
nlohmann::json default_config_json();

// defaults <- file (may be empty path) <- overrides ("a.b.c=value": value parsed as JSON when
// it parses, else taken as a string). Throws InputError naming the file or the override for
// unknown keys, wrong types, or invalid values.
nlohmann::json resolve_config_json(const std::filesystem::path& file,
                                   const std::vector<std::string>& overrides);

TrainConfig config_from_json(const nlohmann::json& resolved);

}  // namespace aslseg::config
