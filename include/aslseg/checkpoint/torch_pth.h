// PyTorch `torch.save(state_dict)` files (the zip format of torch >= 1.6), read and written
// without Python: the official Segment Anything checkpoints (sam_vit_b_01ec64.pth ...) and
// MedSAM's are such files. LibTorch's own torch::pickle_load refuses their OrderedDict, so the
// zip (zip_archive.h) and the pickle (unpickler.h) are read here with only what these files
// use; see docs/checkpoints.md for what is accepted and refused.
#pragma once

#include <filesystem>

#include "aslseg/checkpoint/state_dict.h"

namespace aslseg::checkpoint {

// Reads a top-level dict or OrderedDict of tensors, in file order, as CPU tensors (views of one
// storage share it, as with torch.load). A top-level dict whose only dict value sits under
// "model" or "state_dict" (a training checkpoint) is unwrapped, and that is logged. Throws
// InputError naming the file and the problem for anything else: not a zip, the pre-1.6 legacy
// format, a big-endian file, a pickle calling anything but the tensor-rebuilding functions, a
// storage shorter than its tensor's size and stride need, a corrupt archive.
StateDict read_torch_state_dict(const std::filesystem::path& path);

// Writes `sd` in the layout torch.save uses (`<stem>/data.pkl`, `<stem>/data/<key>` aligned to
// 64 bytes, `<stem>/version`, `<stem>/byteorder`), as an OrderedDict like the official
// checkpoints or, with ordered_dict = false, a plain dict (which LibTorch's torch::pickle_load
// can read too). Tensors sharing a storage are saved once, with their offsets and strides.
// Written to a temporary sibling and renamed (io/atomic_file.h).
void write_torch_state_dict(const std::filesystem::path& path, const StateDict& sd,
                            bool ordered_dict = true);

}  // namespace aslseg::checkpoint
