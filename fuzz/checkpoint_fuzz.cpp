// libFuzzer target for the checkpoint readers (zip, pickle, torch.save, safetensors); see
// docs/checkpoints.md for how to build and run it.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "checkpoint_fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // One scratch file per process: libFuzzer's -jobs/-workers run separate processes.
  static const std::filesystem::path scratch =
      std::filesystem::temp_directory_path() /
      ("aslseg-checkpoint-fuzz-" + std::to_string(::getpid()) + ".bin");
  aslseg::fuzz::run_checkpoint_readers(data, size, scratch);
  return 0;
}
