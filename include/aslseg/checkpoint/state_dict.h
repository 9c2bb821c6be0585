// Named tensors as a checkpoint file holds them (a PyTorch state_dict), and loading them into a
// LibTorch module with every key and shape checked first, the way PyTorch's
// `Module.load_state_dict(strict=True)` does, but with an error that names the file.
#pragma once

#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace aslseg::checkpoint {

// Name -> tensor, in the order of the file (or of the module, for module_state_dict).
using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

// Copies `sd` into the parameters and buffers of `module` (recursive names such as
// "image_encoder.blocks.3.attn.rel_pos_h"). Before anything is copied, throws InputError naming
// `source` and the first missing key, unexpected key, duplicate key or shape mismatch (with both
// shapes). Values are converted to each target's dtype and device and copied in place, so the
// module's tensors keep their identity (an optimiser holding them stays valid).
void load_state_dict_strict(torch::nn::Module& module, const StateDict& sd,
                            const std::filesystem::path& source);

// The parameters, then the buffers, of `module` with their recursive names, in module order.
// The tensors are detached views of the module's own (no copy).
StateDict module_state_dict(const torch::nn::Module& module);

}  // namespace aslseg::checkpoint
