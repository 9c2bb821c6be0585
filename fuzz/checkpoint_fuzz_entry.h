// What the checkpoint fuzz target does with one input, shared with the deterministic mutation
// test (tests/checkpoint/checkpoint_mutation_test.cpp): write the bytes to a file and hand it
// to every checkpoint reader. A reader may accept the input or throw InputError; anything else
// (another exception, a crash, a sanitizer report) is a bug.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>

#include "aslseg/checkpoint/safetensors.h"
#include "aslseg/checkpoint/torch_pth.h"
#include "aslseg/io/error.h"

namespace aslseg::fuzz {

// Bit 0: read_torch_state_dict accepted the input; bit 1: read_safetensors did.
inline int run_checkpoint_readers(const uint8_t* data, size_t size,
                                  const std::filesystem::path& scratch) {
  {
    std::ofstream out(scratch, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  int accepted = 0;
  try {
    checkpoint::read_torch_state_dict(scratch);
    accepted |= 1;
  } catch (const InputError&) {
  }
  try {
    checkpoint::read_safetensors(scratch);
    accepted |= 2;
  } catch (const InputError&) {
  }
  return accepted;
}

}  // namespace aslseg::fuzz
