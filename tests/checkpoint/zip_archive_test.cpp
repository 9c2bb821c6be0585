// The zip reader and writer: round trips (classic and ZIP64), deflated entries with data
// descriptors, PyTorch's own archive layout, and corrupt archives rejected as InputError.
#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <string>

#include "aslseg/checkpoint/zip_archive.h"
#include "aslseg/checkpoint/zip_writer.h"
#include "checkpoint/checkpoint_test_util.h"
#include "common/sam_fixtures.h"
#include "common/test_util.h"

namespace aslseg::checkpoint {
namespace {

namespace fs = std::filesystem;
using testing::expect_input_error;
using testing::read_file_bytes;
using testing::write_file_bytes;

constexpr uint32_t kCentralSignature = 0x02014b50;

void put16(std::string& s, uint32_t v) {
  s.push_back(static_cast<char>(v & 0xFF));
  s.push_back(static_cast<char>((v >> 8) & 0xFF));
}
void put32(std::string& s, uint32_t v) {
  put16(s, v & 0xFFFF);
  put16(s, v >> 16);
}

std::string raw_deflate(const std::string& data) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
            Z_OK);
  std::string out(deflateBound(&z, data.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// One deflated entry, its sizes only in the central directory and a data descriptor (as
// PyTorch's and many streaming writers do). `declared_size` lets tests lie about the size.
std::string deflated_zip(const std::string& name, const std::string& content,
                         uint32_t declared_size) {
  const std::string packed = raw_deflate(content);
  const uint32_t crc =
      crc32(0L, reinterpret_cast<const Bytef*>(content.data()), static_cast<uInt>(content.size()));
  std::string z;
  put32(z, 0x04034b50);
  put16(z, 20);
  put16(z, 0x0008);  // sizes in a data descriptor
  put16(z, 8);
  put16(z, 0);
  put16(z, 0);
  put32(z, 0);
  put32(z, 0);
  put32(z, 0);
  put16(z, name.size());
  put16(z, 0);
  z += name;
  z += packed;
  put32(z, 0x08074b50);
  put32(z, crc);
  put32(z, packed.size());
  put32(z, declared_size);
  const uint32_t cd_offset = z.size();
  put32(z, kCentralSignature);
  put16(z, 20);
  put16(z, 20);
  put16(z, 0x0008);
  put16(z, 8);
  put16(z, 0);
  put16(z, 0);
  put32(z, crc);
  put32(z, packed.size());
  put32(z, declared_size);
  put16(z, name.size());
  put16(z, 0);
  put16(z, 0);
  put16(z, 0);
  put16(z, 0);
  put32(z, 0);
  put32(z, 0);
  z += name;
  const uint32_t cd_size = z.size() - cd_offset;
  put32(z, 0x06054b50);
  put16(z, 0);
  put16(z, 0);
  put16(z, 1);
  put16(z, 1);
  put32(z, cd_size);
  put32(z, cd_offset);
  put16(z, 0);
  return z;
}

std::string pattern(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() % 7 + 'a');  // compressible but not trivial
  return s;
}

void write_sample(const fs::path& path, bool zip64) {
  ZipWriter w(path, zip64);
  w.add("root/data.pkl", pattern(1000, 1));
  w.add("root/empty", "");
  w.add("root/data/0", pattern(70000, 2));
  w.add("root/version", "3\n");
  w.finish();
}

void expect_sample(const fs::path& path) {
  ZipArchive zip(path);
  ASSERT_EQ(zip.entries().size(), 4u);
  EXPECT_EQ(zip.entries()[0].name, "root/data.pkl");
  EXPECT_EQ(zip.entries()[1].name, "root/empty");
  EXPECT_EQ(zip.entries()[3].name, "root/version");
  for (const auto& e : zip.entries())
    EXPECT_EQ(e.data_offset % ZipWriter::kAlignment, 0u) << e.name;
  EXPECT_EQ(zip.read(*zip.find("root/data.pkl"), 1 << 20), pattern(1000, 1));
  EXPECT_EQ(zip.read(*zip.find("root/empty"), 1 << 20), "");
  EXPECT_EQ(zip.read(*zip.find("root/data/0"), 1 << 20), pattern(70000, 2));
  EXPECT_EQ(zip.find("root/missing"), nullptr);
}

TEST(ZipArchive, WriterOutputReadsBackAligned) {
  testing::TempDir dir;
  write_sample(dir / "a.zip", false);
  expect_sample(dir / "a.zip");
  EXPECT_EQ(read_file_bytes(dir / "a.zip").find("PK\x06\x06"), std::string::npos);  // no ZIP64
}

TEST(ZipArchive, Zip64RecordsReadBack) {
  testing::TempDir dir;
  write_sample(dir / "a.zip", true);
  const std::string bytes = read_file_bytes(dir / "a.zip");
  EXPECT_NE(bytes.find(std::string("PK\x06\x06", 4)), std::string::npos);
  EXPECT_NE(bytes.find(std::string("PK\x06\x07", 4)), std::string::npos);
  expect_sample(dir / "a.zip");
}

TEST(ZipArchive, RefusesEntriesLargerThanTheCallerAllows) {
  testing::TempDir dir;
  write_sample(dir / "a.zip", false);
  ZipArchive zip(dir / "a.zip");
  expect_input_error([&] { zip.read(*zip.find("root/data/0"), 1000); }, dir / "a.zip",
                     "more than the 1000 allowed");
}

TEST(ZipArchive, InflatesDeflatedEntriesWithDataDescriptors) {
  testing::TempDir dir;
  const std::string content = pattern(300000, 3);  // several inflate chunks' worth
  write_file_bytes(dir / "d.zip", deflated_zip("x/data.pkl", content, content.size()));
  ZipArchive zip(dir / "d.zip");
  ASSERT_EQ(zip.entries().size(), 1u);
  EXPECT_EQ(zip.entries()[0].method, ZipArchive::kDeflated);
  EXPECT_LT(zip.entries()[0].compressed_size, content.size());
  EXPECT_EQ(zip.read(zip.entries()[0], 1 << 20), content);
}

TEST(ZipArchive, DeflatedSizeLiesAreErrors) {
  testing::TempDir dir;
  const std::string content = pattern(5000, 4);
  write_file_bytes(dir / "long.zip", deflated_zip("x/a", content, content.size() - 1));
  ZipArchive longer(dir / "long.zip");
  expect_input_error([&] { longer.read(longer.entries()[0], 1 << 20); }, dir / "long.zip",
                     "more than its declared");
  write_file_bytes(dir / "short.zip", deflated_zip("x/a", content, content.size() + 10));
  ZipArchive shorter(dir / "short.zip");
  expect_input_error([&] { shorter.read(shorter.entries()[0], 1 << 20); }, dir / "short.zip",
                     "inflates to 5000 bytes");
}

TEST(ZipArchive, ImpossibleCompressionRatioIsRefusedUpFront) {
  testing::TempDir dir;
  write_file_bytes(dir / "bomb.zip", deflated_zip("x/a", pattern(100, 7), 1u << 31));
  expect_input_error([&] { ZipArchive z(dir / "bomb.zip"); }, dir / "bomb.zip",
                     "more than deflate can encode");
}

TEST(ZipArchive, CorruptDeflateStreamIsAnError) {
  testing::TempDir dir;
  const std::string content = pattern(5000, 5);
  std::string z = deflated_zip("x/a", content, content.size());
  for (size_t i = 40; i < 60; ++i) z[i] = static_cast<char>(0xFF);  // inside the stream
  write_file_bytes(dir / "bad.zip", z);
  ZipArchive zip(dir / "bad.zip");
  EXPECT_THROW(zip.read(zip.entries()[0], 1 << 20), InputError);
}

TEST(ZipArchive, CrcMismatchIsAnErrorUnlessSkipped) {
  testing::TempDir dir;
  write_sample(dir / "a.zip", false);
  ZipArchive clean(dir / "a.zip");
  const uint64_t at = clean.find("root/data/0")->data_offset + 100;
  std::string bytes = read_file_bytes(dir / "a.zip");
  bytes[at] ^= 0x01;
  write_file_bytes(dir / "b.zip", bytes);
  ZipArchive zip(dir / "b.zip");
  expect_input_error([&] { zip.read(*zip.find("root/data/0"), 1 << 20); }, dir / "b.zip", "CRC");
  EXPECT_NO_THROW(zip.read(*zip.find("root/data/0"), 1 << 20, /*verify_crc=*/false));
}

TEST(ZipArchive, GarbageAndEmptyFilesAreNotZips) {
  testing::TempDir dir;
  write_file_bytes(dir / "g.bin", pattern(5000, 6));
  expect_input_error([&] { ZipArchive z(dir / "g.bin"); }, dir / "g.bin", "not a zip archive");
  write_file_bytes(dir / "e.bin", "");
  expect_input_error([&] { ZipArchive z(dir / "e.bin"); }, dir / "e.bin", "not a zip archive");
  expect_input_error([&] { ZipArchive z(dir / "none.zip"); }, dir / "none.zip", "not found");
}

TEST(ZipArchive, EveryTruncationIsAnInputError) {
  testing::TempDir dir;
  write_sample(dir / "a.zip", true);
  const std::string bytes = read_file_bytes(dir / "a.zip");
  for (size_t cut = 0; cut < bytes.size(); cut += (cut > bytes.size() - 300 ? 1 : 997)) {
    write_file_bytes(dir / "t.zip", bytes.substr(0, cut));
    SCOPED_TRACE("cut at " + std::to_string(cut));
    EXPECT_THROW(ZipArchive z(dir / "t.zip"), InputError);
  }
}

// Flipping any bit of the central directory either still gives a readable archive whose
// entries read back or fail as InputError; flips in the offsets, sizes and signatures must fail.
TEST(ZipArchive, CentralDirectoryBitFlips) {
  testing::TempDir dir;
  write_sample(dir / "a.zip", false);
  const std::string bytes = read_file_bytes(dir / "a.zip");
  const size_t cd = bytes.find("PK\x01\x02");
  ASSERT_NE(cd, std::string::npos);
  int rejected = 0;
  int flips = 0;
  for (size_t at = cd; at < bytes.size(); ++at) {
    for (int bit = 0; bit < 8; bit += 3) {
      std::string b = bytes;
      b[at] = static_cast<char>(b[at] ^ (1 << bit));
      write_file_bytes(dir / "f.zip", b);
      ++flips;
      try {
        ZipArchive zip(dir / "f.zip");
        for (const auto& e : zip.entries()) zip.read(e, 1 << 20);
      } catch (const InputError&) {
        ++rejected;
      }
    }
  }
  EXPECT_GT(rejected, flips / 2);  // most of a central directory is load-bearing

  // The first central header: signature, sizes, name length, local header offset.
  for (size_t field : {0, 20, 24, 28, 42}) {
    std::string b = bytes;
    b[cd + field] = static_cast<char>(b[cd + field] ^ 0x40);
    write_file_bytes(dir / "f.zip", b);
    SCOPED_TRACE("field at +" + std::to_string(field));
    EXPECT_THROW(
        {
          ZipArchive zip(dir / "f.zip");
          for (const auto& e : zip.entries()) zip.read(e, 1 << 20);
        },
        InputError);
  }
}

TEST(ZipArchive, ReadsPyTorchWrittenArchive) {
  ASLSEG_SAM_FIXTURE_DIR_OR_SKIP(fixtures);
  ZipArchive zip(fixtures / "tiny_sam.pth");
  ASSERT_EQ(zip.entries().size(), 190u);  // data.pkl, 188 storages, version
  const ZipEntry* pkl = zip.find("tiny_sam/data.pkl");
  ASSERT_NE(pkl, nullptr);
  EXPECT_EQ(pkl->size, 33887u);
  EXPECT_EQ(pkl->data_offset % 64, 0u);
  const std::string pickle = zip.read(*pkl, 1 << 20);
  EXPECT_EQ(pickle.substr(0, 2), "\x80\x02");
  EXPECT_EQ(pickle.back(), '.');
  EXPECT_EQ(zip.read(*zip.find("tiny_sam/version"), 16), "3\n");
  EXPECT_EQ(zip.find("tiny_sam/data/0")->size, 65536u);  // 1x16x16x64 floats
}

}  // namespace
}  // namespace aslseg::checkpoint
