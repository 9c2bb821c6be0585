// Writes zip archives of stored (uncompressed) entries laid out like PyTorch's writer does:
// each entry's data starts at a multiple of 64 bytes (padding in an extra field), so that
// torch.load can memory-map the tensors. ZIP64 records are added when sizes or offsets need
// them (or always, with force_zip64, which tests use to exercise the reader).
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace aslseg::checkpoint {

class ZipWriter {
 public:
  static constexpr uint64_t kAlignment = 64;

  // Creates (truncates) `path`; throws InputError when it cannot be written.
  explicit ZipWriter(const std::filesystem::path& path, bool force_zip64 = false);
  ~ZipWriter() = default;
  ZipWriter(const ZipWriter&) = delete;
  ZipWriter& operator=(const ZipWriter&) = delete;

  void add(std::string_view name, const void* data, uint64_t size);
  void add(std::string_view name, std::string_view bytes) { add(name, bytes.data(), bytes.size()); }
  // Writes the central directory and closes the file; nothing may be added afterwards.
  void finish();

 private:
  struct Record {
    std::string name;
    uint32_t crc32;
    uint64_t size;
    uint64_t header_offset;
  };
  void write(const void* data, uint64_t size);

  std::filesystem::path path_;
  std::ofstream out_;
  bool force_zip64_;
  bool finished_ = false;
  uint64_t offset_ = 0;
  std::vector<Record> records_;
};

}  // namespace aslseg::checkpoint
