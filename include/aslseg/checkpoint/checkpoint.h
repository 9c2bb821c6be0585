// aslseg's own checkpoint format: one file holding named modules, optionally an optimiser's
// state, and JSON metadata (step, configuration, SegmenterSpec ...), in LibTorch's archive
// format (a zip, torch::serialize). Written to a temporary name and renamed, so a crash
// while saving leaves the previous checkpoint intact.
#pragma once

#include <torch/torch.h>

#include <array>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace aslseg::checkpoint {

// Metadata keys aslseg relies on (a checkpoint may hold more; these are read by infer):
//   "spec"              SegmenterSpec JSON (models/segmenter_spec.h): required by
//                       infer::Predictor::from_checkpoint to rebuild the net and its
//                       preprocessing.
//   "inference_module"  name of the module infer loads (e.g. "teacher" for mean teacher,
//                       "net_a" for CPS). Optional: without it infer takes the first of
//                       kInferenceModuleFallbacks that the file holds, else its only module.
constexpr const char* kMetaSpec = "spec";
constexpr const char* kMetaInferenceModule = "inference_module";
constexpr std::array<const char*, 5> kInferenceModuleFallbacks{"teacher", "net", "net_a", "student",
                                                               "model"};

using NamedModules = std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>>;

struct Contents {
  NamedModules modules;                          // saved under "modules/<name>"
  torch::optim::Optimizer* optimizer = nullptr;  // optional
  nlohmann::json meta = nlohmann::json::object();
};

void save(const std::filesystem::path& path, const Contents& contents);

// Loads into the given modules (and optimizer, when both file and caller have one) and
// returns the metadata. Throws InputError naming the file for a missing or corrupt file or a
// module whose parameters do not match (first missing key, shape mismatch or unexpected key).
// Every module is checked before anything is copied; tensors are copied in place, so they
// keep their device, dtype and identity (an optimiser holding them stays valid).
nlohmann::json load(const std::filesystem::path& path, const Contents& into);

// The metadata alone (cheap: used to rebuild modules before loading their weights).
nlohmann::json read_meta(const std::filesystem::path& path);

// What a checkpoint holds, without loading it into anything.
struct Summary {
  nlohmann::json meta;
  std::vector<std::string> modules;  // names under "modules/", sorted
  bool has_optimizer = false;
};
Summary inspect(const std::filesystem::path& path);

}  // namespace aslseg::checkpoint
