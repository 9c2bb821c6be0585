// SAM weights on disk, in the two forms aslseg uses: the official layout (`torch.save` of the
// state dict: sam_vit_b_01ec64.pth, MedSAM's, and our fine-tuned .pth, loadable by the official
// Python code) and aslseg's own checkpoint format (checkpoint.h) with the SamConfig in its
// metadata, so a fine-tuned model rebuilds itself without a separate config file.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "aslseg/models/sam.h"
#include "aslseg/models/sam_config.h"

namespace aslseg::sam {

constexpr const char* kSamModuleName = "sam";         // module name inside our checkpoint
constexpr const char* kMetaSamConfig = "sam_config";  // SamConfig JSON in its metadata
constexpr const char* kMetaKind = "kind";
constexpr const char* kKindSam = "sam";

// Our format: modules {"sam"}, meta = extra_meta + {"kind": "sam", "sam_config": ...}.
// Atomic (temporary sibling + rename).
void save_sam_checkpoint(const models::Sam& sam, const std::filesystem::path& path,
                         const nlohmann::json& extra_meta = nlohmann::json::object());
// The official layout (checkpoint::write_torch_state_dict, OrderedDict), atomic.
void save_sam_pth(const models::Sam& sam, const std::filesystem::path& path);

struct LoadedSam {
  models::Sam model{nullptr};
  models::SamConfig config;
  nlohmann::json meta = nlohmann::json::object();  // our format's metadata; {} for a .pth
  bool random_weights = false;
};

// Loads SAM for inference (eval mode, CPU):
//  - empty `checkpoint`: random weights from `config` (required), with load_sam's warning;
//  - aslseg's own checkpoint (a LibTorch archive with "sam_config" in its metadata): the model
//    is rebuilt from that config; a `config` given as well must equal it (InputError naming
//    the first differing field otherwise);
//  - anything else is read as an official-layout .pth with `config` (required: InputError
//    when missing); every key and shape is checked (load_sam).
// Errors are InputError naming the file: missing, not a checkpoint, truncated, wrong model.
LoadedSam load_sam_checkpoint(const std::filesystem::path& checkpoint,
                              const std::optional<models::SamConfig>& config);

}  // namespace aslseg::sam
