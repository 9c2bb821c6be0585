// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length, a
// JSON header mapping each tensor name to {dtype, shape, data_offsets} (plus an optional
// "__metadata__" of strings), then the raw little-endian tensor bytes. Read with every offset
// checked (inside the file, no overlap, size = shape x dtype) and written like the reference
// implementation (header padded with spaces to 8 bytes, data packed in order).
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "aslseg/checkpoint/state_dict.h"

namespace aslseg::checkpoint {

using SafetensorsMetadata = std::map<std::string, std::string>;

// Tensors in the order of their data in the file. Throws InputError naming the file and the
// problem. `metadata`, when given, receives "__metadata__".
StateDict read_safetensors(const std::filesystem::path& path,
                           SafetensorsMetadata* metadata = nullptr);

// Written to a temporary sibling and renamed. Tensors may live anywhere and be non-contiguous.
void write_safetensors(const std::filesystem::path& path, const StateDict& sd,
                       const SafetensorsMetadata& metadata = {});

}  // namespace aslseg::checkpoint
