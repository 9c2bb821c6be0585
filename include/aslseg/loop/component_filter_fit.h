// Fitting round K's component filter (postprocess/component_filter.h) on what its SS predicts
// on the expert-labelled volumes: the only place where SS's false tumour components can be
// told from true ones without looking at a hidden label.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aslseg/dataset/split.h"
#include "aslseg/infer/predictor.h"
#include "aslseg/loop/loop_params.h"
#include "aslseg/postprocess/component_filter.h"

namespace aslseg::loop {

struct ComponentFilterFit {
  postprocess::ComponentFilter filter;
  // What it was fitted on and what it does there: cases, true / false components and voxels,
  // and the voxels of each it keeps (in-sample: these volumes trained SS).
  nlohmann::json info;

  // What RUN/round_K/component_filter.json and `aslseg component-filter` write: the filter's
  // JSON with the fit's counts under "fit".
  nlohmann::json to_json() const;
  // One line for the log: what it was fitted on and what it keeps there, or why it is off.
  std::string summary() const;
};

// SS (one net or an ensemble) on every labelled case; a case that cannot be read is logged
// and left out.
ComponentFilterFit fit_component_filter(infer::Predictor& ss,
                                        const std::vector<dataset::LabelledCase>& labelled,
                                        const ComponentFilterLoopParams& params);

// A filter file (component_filter.json): InputError naming the file when it cannot be read or
// is not a filter.
postprocess::ComponentFilter read_component_filter(const std::filesystem::path& path);

}  // namespace aslseg::loop
