#include "aslseg/checkpoint/zip_writer.h"

#include <zlib.h>

#include <algorithm>
#include <stdexcept>

#include "aslseg/io/error.h"
#include "zip_format.h"

namespace aslseg::checkpoint {

namespace {

namespace zf = zip_format;

constexpr uint64_t kCrcChunk = uint64_t{1} << 30;           // zlib's crc32 takes a 32-bit length
constexpr uint16_t kPaddingExtraId = 0x4246;                // "FB", the id PyTorch's writer uses
constexpr uint64_t kExtraHeader = 4;                        // id + size
constexpr uint64_t kLocalZip64Extra = kExtraHeader + 16;    // sizes
constexpr uint64_t kCentralZip64Extra = kExtraHeader + 24;  // sizes + header offset
constexpr uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;      // 1980-01-01, the zip epoch

uint32_t crc_of(const void* data, uint64_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* p = static_cast<const Bytef*>(data);
  for (uint64_t done = 0; done < size;) {
    const uint64_t n = std::min(kCrcChunk, size - done);
    crc = crc32(crc, p + done, static_cast<uInt>(n));
    done += n;
  }
  return static_cast<uint32_t>(crc);
}

uint64_t saturate32(uint64_t v) { return std::min<uint64_t>(v, zf::kMax32); }

}  // namespace

ZipWriter::ZipWriter(const std::filesystem::path& path, bool force_zip64)
    : path_(path), out_(path, std::ios::binary | std::ios::trunc), force_zip64_(force_zip64) {
  if (!out_) throw InputError(path.string(), "cannot create file");
}

void ZipWriter::write(const void* data, uint64_t size) {
  out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out_) throw InputError(path_.string(), "write failed (disk full?)");
  offset_ += size;
}

void ZipWriter::add(std::string_view name, const void* data, uint64_t size) {
  if (finished_) throw std::logic_error("ZipWriter::add after finish");
  if (name.empty() || name.size() > zf::kMax16)
    throw std::invalid_argument("ZipWriter::add: bad entry name length");
  const uint32_t crc = crc_of(data, size);
  const bool zip64 = force_zip64_ || size >= zf::kMax32 || offset_ >= zf::kMax32;

  // Pad with an extra field so that the data starts on a kAlignment boundary.
  const uint64_t before_pad =
      offset_ + zf::kLocalHeaderSize + name.size() + (zip64 ? kLocalZip64Extra : 0);
  uint64_t pad = (kAlignment - before_pad % kAlignment) % kAlignment;
  if (pad > 0 && pad < kExtraHeader) pad += kAlignment;

  std::string h;
  zf::put32(h, zf::kLocalSignature);
  zf::put16(h, zip64 ? zf::kVersionZip64 : zf::kVersionDefault);
  zf::put16(h, 0);  // flags: sizes known up front, no data descriptor
  zf::put16(h, 0);  // stored
  zf::put16(h, 0);  // time
  zf::put16(h, kDosDate);
  zf::put32(h, crc);
  zf::put32(h, zip64 ? zf::kMax32 : size);
  zf::put32(h, zip64 ? zf::kMax32 : size);
  zf::put16(h, name.size());
  zf::put16(h, (zip64 ? kLocalZip64Extra : 0) + pad);
  h.append(name);
  if (zip64) {
    zf::put16(h, zf::kZip64ExtraId);
    zf::put16(h, kLocalZip64Extra - kExtraHeader);
    zf::put64(h, size);
    zf::put64(h, size);
  }
  if (pad > 0) {
    zf::put16(h, kPaddingExtraId);
    zf::put16(h, pad - kExtraHeader);
    h.append(pad - kExtraHeader, 'Z');
  }
  records_.push_back({std::string(name), crc, size, offset_});
  write(h.data(), h.size());
  write(data, size);
}

void ZipWriter::finish() {
  if (finished_) return;
  const uint64_t cd_offset = offset_;
  std::string cd;
  for (const auto& r : records_) {
    const bool zip64 = force_zip64_ || r.size >= zf::kMax32 || r.header_offset >= zf::kMax32;
    const uint16_t version = zip64 ? zf::kVersionZip64 : zf::kVersionDefault;
    zf::put32(cd, zf::kCentralSignature);
    zf::put16(cd, version);  // made by
    zf::put16(cd, version);  // needed
    zf::put16(cd, 0);
    zf::put16(cd, 0);
    zf::put16(cd, 0);
    zf::put16(cd, kDosDate);
    zf::put32(cd, r.crc32);
    zf::put32(cd, zip64 ? zf::kMax32 : r.size);
    zf::put32(cd, zip64 ? zf::kMax32 : r.size);
    zf::put16(cd, r.name.size());
    zf::put16(cd, zip64 ? kCentralZip64Extra : 0);
    zf::put16(cd, 0);  // comment
    zf::put16(cd, 0);  // disk
    zf::put16(cd, 0);  // internal attributes
    zf::put32(cd, 0);  // external attributes
    zf::put32(cd, zip64 ? zf::kMax32 : r.header_offset);
    cd.append(r.name);
    if (zip64) {
      zf::put16(cd, zf::kZip64ExtraId);
      zf::put16(cd, kCentralZip64Extra - kExtraHeader);
      zf::put64(cd, r.size);
      zf::put64(cd, r.size);
      zf::put64(cd, r.header_offset);
    }
  }
  write(cd.data(), cd.size());

  const uint64_t count = records_.size();
  const uint64_t cd_size = cd.size();
  std::string end;
  if (force_zip64_ || count >= zf::kMax16 || cd_offset >= zf::kMax32 || cd_size >= zf::kMax32) {
    const uint64_t end64_offset = offset_;
    zf::put32(end, zf::kEnd64Signature);
    zf::put64(end, zf::kEnd64Size - 12);  // size of the rest of the record
    zf::put16(end, zf::kVersionZip64);
    zf::put16(end, zf::kVersionZip64);
    zf::put32(end, 0);
    zf::put32(end, 0);
    zf::put64(end, count);
    zf::put64(end, count);
    zf::put64(end, cd_size);
    zf::put64(end, cd_offset);
    zf::put32(end, zf::kLocatorSignature);
    zf::put32(end, 0);
    zf::put64(end, end64_offset);
    zf::put32(end, 1);  // total disks
  }
  zf::put32(end, zf::kEndSignature);
  zf::put16(end, 0);
  zf::put16(end, 0);
  zf::put16(end, std::min<uint64_t>(count, zf::kMax16));
  zf::put16(end, std::min<uint64_t>(count, zf::kMax16));
  zf::put32(end, saturate32(cd_size));
  zf::put32(end, saturate32(cd_offset));
  zf::put16(end, 0);  // comment
  write(end.data(), end.size());
  out_.close();
  if (!out_) throw InputError(path_.string(), "write failed when closing the file");
  finished_ = true;
}

}  // namespace aslseg::checkpoint
