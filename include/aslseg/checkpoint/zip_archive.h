// A small, defensive zip reader for checkpoint files (torch.save archives): central directory,
// ZIP64 extended information, stored and deflated entries. Every offset and size read from the
// file is checked against the file before use, so a corrupt or hostile archive is an
// InputError naming the file, never an out-of-bounds read or a huge allocation.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace aslseg::checkpoint {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0 stored, 8 deflated
  uint32_t crc32 = 0;   // of the uncompressed bytes
  uint64_t compressed_size = 0;
  uint64_t size = 0;           // uncompressed
  uint64_t header_offset = 0;  // local file header
  uint64_t data_offset = 0;    // first byte of the (compressed) data
};

class ZipArchive {
 public:
  static constexpr uint16_t kStored = 0;
  static constexpr uint16_t kDeflated = 8;

  // Opens and indexes the archive; throws InputError when it is not a zip or is corrupt.
  explicit ZipArchive(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  uint64_t file_size() const { return file_size_; }
  // In central-directory order.
  const std::vector<ZipEntry>& entries() const { return entries_; }
  // nullptr when absent.
  const ZipEntry* find(std::string_view name) const;

  // The whole uncompressed entry; InputError when it is larger than max_size (the caller's
  // bound on what it is willing to hold in memory), fails to inflate, or fails its CRC.
  std::string read(const ZipEntry& entry, uint64_t max_size, bool verify_crc = true);
  // Into dst, which must hold exactly entry.size bytes.
  void read_into(const ZipEntry& entry, void* dst, uint64_t dst_size, bool verify_crc = true);

 private:
  void index();
  std::string read_at(uint64_t offset, uint64_t length);
  void read_raw(uint64_t offset, void* dst, uint64_t length);
  void inflate_into(const ZipEntry& entry, void* dst);
  [[noreturn]] void fail(const std::string& problem) const;

  std::filesystem::path path_;
  std::ifstream file_;
  uint64_t file_size_ = 0;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> by_name_;  // index into entries_
};

}  // namespace aslseg::checkpoint
