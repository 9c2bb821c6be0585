#include "aslseg/sam/sam_checkpoint.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "aslseg/checkpoint/checkpoint.h"
#include "aslseg/checkpoint/state_dict.h"
#include "aslseg/checkpoint/torch_pth.h"
#include "aslseg/checkpoint/zip_archive.h"
#include "aslseg/config/json_diff.h"
#include "aslseg/io/error.h"

namespace aslseg::sam {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A LibTorch archive (our checkpoint format) holds "<root>/constants.pkl"; a torch.save state
// dict does not. Throws InputError when the file is not a zip at all.
bool is_libtorch_archive(const fs::path& path) {
  const checkpoint::ZipArchive zip(path);
  for (const auto& e : zip.entries()) {
    const auto slash = e.name.find('/');
    if (slash != std::string::npos && e.name.substr(slash + 1) == "constants.pkl") return true;
  }
  return false;
}

LoadedSam load_ours(const fs::path& path, const std::optional<models::SamConfig>& config) {
  LoadedSam out;
  out.meta = checkpoint::read_meta(path);
  if (!out.meta.contains(kMetaSamConfig))
    throw InputError(path.string(),
                     "an aslseg checkpoint without a SAM model (no 'sam_config' in its metadata; "
                     "a segmentation-net checkpoint?)");
  try {
    out.meta.at(kMetaSamConfig).get_to(out.config);
  } catch (const std::exception& e) {
    throw InputError(path.string(), std::string("bad SAM config in the metadata: ") + e.what());
  }
  if (config) {
    json given;
    to_json(given, *config);
    json stored;
    to_json(stored, out.config);
    if (given != stored)
      throw InputError(path.string(),
                       "--config differs from the SAM config stored in this "
                       "checkpoint (first difference: " +
                           config::first_difference(stored, given) +
                           "); leave --config out to use the stored one");
  }
  out.model = models::Sam(out.config);
  checkpoint::load(path, checkpoint::Contents{{{kSamModuleName, out.model.ptr()}}, nullptr, {}});
  spdlog::info("{}", models::describe(out.config));
  spdlog::info("SAM weights loaded from {} (aslseg checkpoint)", path.string());
  out.model->eval();
  return out;
}

}  // namespace

void save_sam_checkpoint(const models::Sam& sam, const fs::path& path, const json& extra_meta) {
  checkpoint::Contents contents;
  contents.modules.emplace_back(kSamModuleName, sam.ptr());
  contents.meta = extra_meta.is_object() ? extra_meta : json::object();
  contents.meta[kMetaKind] = kKindSam;
  json config;
  to_json(config, sam->config());
  contents.meta[kMetaSamConfig] = config;
  checkpoint::save(path, contents);
}

void save_sam_pth(const models::Sam& sam, const fs::path& path) {
  checkpoint::StateDict sd = checkpoint::module_state_dict(*sam);
  for (auto& [name, t] : sd) t = t.to(torch::kCPU).contiguous();
  checkpoint::write_torch_state_dict(path, sd);
}

LoadedSam load_sam_checkpoint(const fs::path& checkpoint,
                              const std::optional<models::SamConfig>& config) {
  if (checkpoint.empty()) {
    if (!config) throw InputError("", "SAM without a checkpoint needs a config (--config)");
    LoadedSam out;
    out.config = *config;
    out.model = models::load_sam(*config, {});
    out.random_weights = true;
    return out;
  }
  if (is_libtorch_archive(checkpoint)) return load_ours(checkpoint, config);
  if (!config)
    throw InputError(checkpoint.string(),
                     "an official-layout SAM checkpoint carries no hyper-parameters: give the "
                     "matching --config (configs/sam/vit_b.json, ...)");
  LoadedSam out;
  out.config = *config;
  out.model = models::load_sam(*config, checkpoint);
  return out;
}

}  // namespace aslseg::sam
