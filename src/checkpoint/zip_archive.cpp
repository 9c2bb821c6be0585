#include "aslseg/checkpoint/zip_archive.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "aslseg/io/error.h"
#include "zip_format.h"

namespace aslseg::checkpoint {

namespace {

namespace zf = zip_format;

// Chunk for streaming reads while inflating and for zlib's 32-bit length arguments.
constexpr uint64_t kChunk = uint64_t{1} << 20;
// Deflate's best case is about 1032:1 (258-byte matches coded in 2 bits); a larger claim is a lie.
constexpr uint64_t kMaxDeflateRatio = 1100;

}  // namespace

ZipArchive::ZipArchive(const std::filesystem::path& path) : path_(path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) throw InputError(path.string(), "file not found");
  if (!std::filesystem::is_regular_file(status)) throw InputError(path.string(), "not a file");
  file_size_ = std::filesystem::file_size(path, ec);
  if (ec) throw InputError(path.string(), "cannot read file size: " + ec.message());
  file_.open(path, std::ios::binary);
  if (!file_) throw InputError(path.string(), "cannot open file");
  index();
}

void ZipArchive::fail(const std::string& problem) const {
  throw InputError(path_.string(), "corrupt zip archive: " + problem);
}

void ZipArchive::read_raw(uint64_t offset, void* dst, uint64_t length) {
  if (offset > file_size_ || length > file_size_ - offset)
    fail("read of " + std::to_string(length) + " bytes at " + std::to_string(offset) +
         " runs past the end of the file (" + std::to_string(file_size_) + " bytes)");
  file_.clear();
  file_.seekg(static_cast<std::streamoff>(offset));
  auto* out = static_cast<char*>(dst);
  while (length > 0) {
    const uint64_t n = std::min(length, kChunk);
    file_.read(out, static_cast<std::streamsize>(n));
    if (static_cast<uint64_t>(file_.gcount()) != n)
      throw InputError(path_.string(), "read failed at byte " + std::to_string(offset) +
                                           " (file changed while reading?)");
    out += n;
    offset += n;
    length -= n;
  }
}

std::string ZipArchive::read_at(uint64_t offset, uint64_t length) {
  if (offset > file_size_ || length > file_size_ - offset)
    fail("record at byte " + std::to_string(offset) + " runs past the end of the file");
  std::string bytes(length, '\0');
  read_raw(offset, bytes.data(), length);
  return bytes;
}

void ZipArchive::index() {
  if (file_size_ < zf::kEndRecordSize)
    throw InputError(path_.string(), "not a zip archive (" + std::to_string(file_size_) +
                                         " bytes, too short for one)");
  // The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes.
  const uint64_t tail_size = std::min<uint64_t>(file_size_, zf::kEndRecordSize + zf::kMaxComment);
  const uint64_t tail_start = file_size_ - tail_size;
  const std::string tail = read_at(tail_start, tail_size);
  uint64_t eocd = std::numeric_limits<uint64_t>::max();
  for (uint64_t i = tail_size - zf::kEndRecordSize + 1; i-- > 0;) {
    const char* p = tail.data() + i;
    if (zf::u32(p) == zf::kEndSignature && zf::u16(p + 20) == tail_size - i - zf::kEndRecordSize) {
      eocd = tail_start + i;
      break;
    }
  }
  if (eocd == std::numeric_limits<uint64_t>::max())
    throw InputError(path_.string(),
                     "not a zip archive (no end-of-central-directory record: not a zip, or "
                     "truncated)");
  const char* end = tail.data() + (eocd - tail_start);
  if (zf::u16(end + 4) != 0 || zf::u16(end + 6) != 0) fail("multi-disk archives are not supported");
  uint64_t count = zf::u16(end + 10);
  uint64_t cd_size = zf::u32(end + 12);
  uint64_t cd_offset = zf::u32(end + 16);
  if (zf::u16(end + 8) != count) fail("entry counts disagree in the end record");
  uint64_t cd_limit = eocd;  // the central directory ends before the records that follow it

  // ZIP64: a locator right before the end record points at the ZIP64 end record.
  if (eocd >= zf::kLocatorSize) {
    const std::string loc = read_at(eocd - zf::kLocatorSize, zf::kLocatorSize);
    if (zf::u32(loc.data()) == zf::kLocatorSignature) {
      const uint64_t end64 = zf::u64(loc.data() + 8);
      if (end64 > eocd - zf::kLocatorSize || eocd - zf::kLocatorSize - end64 < zf::kEnd64Size)
        fail("ZIP64 end record offset " + std::to_string(end64) + " is out of place");
      const std::string rec = read_at(end64, zf::kEnd64Size);
      if (zf::u32(rec.data()) != zf::kEnd64Signature) fail("bad ZIP64 end record signature");
      const uint64_t count64 = zf::u64(rec.data() + 32);
      const uint64_t size64 = zf::u64(rec.data() + 40);
      const uint64_t offset64 = zf::u64(rec.data() + 48);
      if (zf::u64(rec.data() + 24) != count64) fail("entry counts disagree in the ZIP64 record");
      // A field not saturated in the classic record must agree with the ZIP64 one.
      if ((count != zf::kMax16 && count != count64) ||
          (cd_size != zf::kMax32 && cd_size != size64) ||
          (cd_offset != zf::kMax32 && cd_offset != offset64))
        fail("end record and ZIP64 end record disagree");
      count = count64;
      cd_size = size64;
      cd_offset = offset64;
      cd_limit = end64;
    }
  }
  if (cd_size > cd_limit || cd_offset > cd_limit - cd_size)
    fail("central directory (" + std::to_string(cd_size) + " bytes at " +
         std::to_string(cd_offset) + ") lies outside the file");
  if (count > cd_size / zf::kCentralHeaderSize)
    fail(std::to_string(count) + " entries cannot fit a central directory of " +
         std::to_string(cd_size) + " bytes");

  const std::string cd = read_at(cd_offset, cd_size);
  entries_.reserve(count);
  uint64_t pos = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (cd_size - pos < zf::kCentralHeaderSize) fail("central directory is truncated");
    const char* h = cd.data() + pos;
    if (zf::u32(h) != zf::kCentralSignature)
      fail("bad central directory signature for entry " + std::to_string(i));
    const uint16_t flags = zf::u16(h + 8);
    ZipEntry e;
    e.method = zf::u16(h + 10);
    e.crc32 = zf::u32(h + 16);
    e.compressed_size = zf::u32(h + 20);
    e.size = zf::u32(h + 24);
    const uint64_t name_len = zf::u16(h + 28);
    const uint64_t extra_len = zf::u16(h + 30);
    const uint64_t comment_len = zf::u16(h + 32);
    const uint16_t disk = zf::u16(h + 34);
    e.header_offset = zf::u32(h + 42);
    const uint64_t record = zf::kCentralHeaderSize + name_len + extra_len + comment_len;
    if (cd_size - pos < record)
      fail("central directory entry " + std::to_string(i) + " is truncated");
    e.name.assign(h + zf::kCentralHeaderSize, name_len);
    const std::string_view extra(h + zf::kCentralHeaderSize + name_len, extra_len);
    pos += record;

    const std::string what = "entry '" + e.name + "'";
    if (e.name.empty()) fail("entry " + std::to_string(i) + " has no name");
    if (e.compressed_size == zf::kMax32 || e.size == zf::kMax32 || e.header_offset == zf::kMax32 ||
        disk == zf::kMax16) {
      const auto info = zf::find_extra(extra, zf::kZip64ExtraId);
      if (!info) fail(what + " lacks its ZIP64 extended information");
      std::string_view rest = *info;
      auto take = [&](uint64_t& field) {
        if (rest.size() < 8) fail(what + " has truncated ZIP64 extended information");
        field = zf::u64(rest.data());
        rest.remove_prefix(8);
      };
      if (e.size == zf::kMax32) take(e.size);
      if (e.compressed_size == zf::kMax32) take(e.compressed_size);
      if (e.header_offset == zf::kMax32) take(e.header_offset);
    } else if (disk != 0) {
      fail(what + " lies on another disk");
    }
    if (flags & zf::kFlagEncrypted) fail(what + " is encrypted");
    if (e.method != kStored && e.method != kDeflated)
      fail(what + " uses compression method " + std::to_string(e.method) +
           " (only stored and deflated are supported)");
    if (e.method == kStored && e.compressed_size != e.size)
      fail(what + " is stored but its sizes differ");
    if (e.method == kDeflated && e.size / kMaxDeflateRatio > e.compressed_size)
      fail(what + " claims " + std::to_string(e.size) + " bytes from " +
           std::to_string(e.compressed_size) + " compressed, more than deflate can encode");
    if (!by_name_.emplace(e.name, entries_.size()).second) fail(what + " appears twice");

    // Local header: only its name and extra lengths matter (sizes may be in a data descriptor).
    if (e.header_offset > cd_offset || cd_offset - e.header_offset < zf::kLocalHeaderSize)
      fail(what + " has its local header outside the file");
    const std::string local = read_at(e.header_offset, zf::kLocalHeaderSize);
    if (zf::u32(local.data()) != zf::kLocalSignature) fail(what + " has a bad local header");
    if (zf::u16(local.data() + 8) != e.method) fail(what + " has disagreeing methods");
    const uint64_t local_name = zf::u16(local.data() + 26);
    const uint64_t local_extra = zf::u16(local.data() + 28);
    e.data_offset = e.header_offset + zf::kLocalHeaderSize + local_name + local_extra;
    if (local_name != name_len) fail(what + " has a different name in its local header");
    if (e.data_offset > cd_offset || cd_offset - e.data_offset < e.compressed_size)
      fail(what + " (" + std::to_string(e.compressed_size) + " bytes at " +
           std::to_string(e.data_offset) + ") runs past the start of the central directory");
    if (read_at(e.header_offset + zf::kLocalHeaderSize, name_len) != e.name)
      fail(what + " has a different name in its local header");
    entries_.push_back(std::move(e));
  }
  if (pos != cd_size) fail("central directory has trailing bytes");
}

const ZipEntry* ZipArchive::find(std::string_view name) const {
  const auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

std::string ZipArchive::read(const ZipEntry& entry, uint64_t max_size, bool verify_crc) {
  if (entry.size > max_size)
    throw InputError(path_.string(), "entry '" + entry.name + "' is " + std::to_string(entry.size) +
                                         " bytes, more than the " + std::to_string(max_size) +
                                         " allowed");
  std::string bytes(entry.size, '\0');
  read_into(entry, bytes.data(), bytes.size(), verify_crc);
  return bytes;
}

void ZipArchive::inflate_into(const ZipEntry& entry, void* dst) {
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw std::runtime_error("zlib inflateInit2 failed");
  std::string in;
  uint64_t consumed = 0;
  uint64_t produced = 0;
  auto* out = static_cast<Bytef*>(dst);
  const std::string what = "entry '" + entry.name + "'";
  try {
    while (true) {
      if (z.avail_in == 0 && consumed < entry.compressed_size) {
        const uint64_t n = std::min(kChunk, entry.compressed_size - consumed);
        in.resize(n);
        read_raw(entry.data_offset + consumed, in.data(), n);
        consumed += n;
        z.next_in = reinterpret_cast<Bytef*>(in.data());
        z.avail_in = static_cast<uInt>(n);
      }
      const uint64_t room = std::min(kChunk, entry.size - produced);
      z.next_out = out + produced;
      z.avail_out = static_cast<uInt>(room);
      const int rc = inflate(&z, Z_NO_FLUSH);
      produced += room - z.avail_out;
      if (rc == Z_STREAM_END) break;
      if (rc == Z_OK) continue;
      // Z_BUF_ERROR: no progress possible, for want of output room or of input.
      if (rc == Z_BUF_ERROR && room == 0)
        fail(what + " inflates to more than its declared " + std::to_string(entry.size) + " bytes");
      if (rc == Z_BUF_ERROR) fail(what + " has a truncated deflate stream");
      fail(what + " does not inflate (" + (z.msg ? z.msg : "zlib error") + ")");
    }
  } catch (...) {
    inflateEnd(&z);
    throw;
  }
  inflateEnd(&z);
  if (produced != entry.size)
    fail(what + " inflates to " + std::to_string(produced) + " bytes, not its declared " +
         std::to_string(entry.size));
}

void ZipArchive::read_into(const ZipEntry& entry, void* dst, uint64_t dst_size, bool verify_crc) {
  if (dst_size != entry.size)
    throw std::invalid_argument("ZipArchive::read_into: buffer size differs from the entry's");
  if (entry.method == kStored)
    read_raw(entry.data_offset, dst, entry.size);
  else
    inflate_into(entry, dst);
  if (!verify_crc) return;
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* p = static_cast<const Bytef*>(dst);
  for (uint64_t done = 0; done < entry.size;) {
    const uint64_t n = std::min(kChunk, entry.size - done);
    crc = crc32(crc, p + done, static_cast<uInt>(n));
    done += n;
  }
  if (static_cast<uint32_t>(crc) != entry.crc32)
    fail("entry '" + entry.name + "' fails its CRC check (the data is damaged)");
}

}  // namespace aslseg::checkpoint
