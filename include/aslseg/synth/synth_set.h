// Writing a set of phantoms in the LiTS layout (volume-<i>.nii.gz int16 HU,
// segmentation-<i>.nii.gz uint8 labels) plus a synth.json manifest, cases in parallel.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aslseg/synth/phantom.h"

namespace aslseg::synth {

struct SetOptions {
  PhantomParams params;
  uint64_t seed = 0;
  int cases = 1;
  int threads = 0;  // 0: hardware threads, limited by memory
  std::filesystem::path out_dir;
};

struct CaseResult {
  int index = 0;
  uint64_t case_seed = 0;
  std::string image;  // file names inside out_dir
  std::string label;
  PhantomInfo info;
  double seconds = 0.0;
};

// File names of case `index` in the LiTS layout.
std::string volume_name(int index);
std::string segmentation_name(int index);

// Worker threads for `cases` phantoms of this size: the hardware threads, no more than the
// cases, and no more than fit in half the machine's memory.
int default_threads(const PhantomParams& params, int cases);

// Generates and writes every case, then synth.json. `on_case` runs on the calling thread as
// each case is written (in completion order), for logging and progress. The first error
// stops the remaining work and is rethrown. Returns the cases in index order.
std::vector<CaseResult> write_set(const SetOptions& options,
                                  const std::function<void(const CaseResult&)>& on_case);

nlohmann::json to_json(const PhantomParams& params);
nlohmann::json to_json(const TumourInfo& tumour);
nlohmann::json to_json(const PhantomInfo& info);
// The synth.json document.
nlohmann::json manifest(const SetOptions& options, const std::vector<CaseResult>& cases);

}  // namespace aslseg::synth
