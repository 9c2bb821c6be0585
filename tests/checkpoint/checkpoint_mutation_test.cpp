// A deterministic slice of what fuzz/checkpoint_fuzz.cpp does: mutate the real tiny SAM
// checkpoint (bit flips in its pickle, central directory and anywhere; truncations; random
// bytes) and feed each mutant to the readers through the fuzz target's own entry. They may
// accept a mutant or throw InputError, nothing else, and must catch most damaged pickles.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <random>
#include <string>

#include "../../fuzz/checkpoint_fuzz_entry.h"
#include "aslseg/checkpoint/zip_archive.h"
#include "checkpoint/checkpoint_test_util.h"
#include "common/sam_fixtures.h"
#include "common/test_util.h"

namespace aslseg::checkpoint {
namespace {

constexpr int kMutantsPerTest = 120;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kCrcField = 16;

struct Region {
  size_t begin;
  size_t end;
};

class CheckpointMutation : public ::testing::Test {
 protected:
  void SetUp() override {
    ASLSEG_SAM_FIXTURE_DIR_OR_SKIP(fixtures);
    bytes_ = testing::read_file_bytes(fixtures / "tiny_sam.pth");
    ZipArchive zip(fixtures / "tiny_sam.pth");
    const ZipEntry* pkl = zip.find("tiny_sam/data.pkl");
    pickle_ = {pkl->data_offset, pkl->data_offset + pkl->size};
    size_t data_end = 0;
    for (const auto& e : zip.entries()) data_end = std::max(data_end, e.data_offset + e.size);
    central_ = {bytes_.find("PK\x01\x02", data_end), bytes_.size()};
    // data.pkl's central header: its name follows the 46 fixed bytes.
    pickle_crc_at_ =
        bytes_.find("tiny_sam/data.pkl", central_.begin) - kCentralHeaderSize + kCrcField;
  }

  // Feeds `mutant` to the readers; returns whether the torch reader accepted it.
  bool feed(const std::string& mutant) {
    int accepted = 0;
    EXPECT_NO_THROW(
        accepted = fuzz::run_checkpoint_readers(reinterpret_cast<const uint8_t*>(mutant.data()),
                                                mutant.size(), dir_ / "mutant.pth"));
    return accepted & 1;
  }

  std::string flipped(std::mt19937& rng, Region r) {
    std::string m = bytes_;
    const size_t at = r.begin + rng() % (r.end - r.begin);
    m[at] = static_cast<char>(m[at] ^ (1u << (rng() % 8)));
    return m;
  }

  // A pickle flip with the CRC recomputed, so that the unpickler (not the CRC) must cope.
  std::string pickle_flipped(std::mt19937& rng) {
    std::string m = flipped(rng, pickle_);
    const uint32_t crc = crc32(0L, reinterpret_cast<const Bytef*>(m.data() + pickle_.begin),
                               static_cast<uInt>(pickle_.end - pickle_.begin));
    for (int k = 0; k < 4; ++k) m[pickle_crc_at_ + k] = static_cast<char>((crc >> (8 * k)) & 0xFF);
    return m;
  }

  testing::TempDir dir_;
  std::string bytes_;
  Region pickle_{};
  Region central_{};
  size_t pickle_crc_at_ = 0;
};

TEST_F(CheckpointMutation, PickleBitFlipsCaughtByCrc) {
  std::mt19937 rng(11);
  int accepted = 0;
  for (int i = 0; i < kMutantsPerTest / 2; ++i) accepted += feed(flipped(rng, pickle_));
  EXPECT_EQ(accepted, 0);
}

TEST_F(CheckpointMutation, PickleBitFlipsWithValidCrc) {
  std::mt19937 rng(14);
  int accepted = 0;
  for (int i = 0; i < kMutantsPerTest; ++i) accepted += feed(pickle_flipped(rng));
  // Flips inside key names are still valid state dicts; most others are not.
  EXPECT_GT(accepted, 0);
  EXPECT_LT(accepted, kMutantsPerTest);
}

TEST_F(CheckpointMutation, CentralDirectoryBitFlips) {
  std::mt19937 rng(12);
  int accepted = 0;
  for (int i = 0; i < kMutantsPerTest; ++i) accepted += feed(flipped(rng, central_));
  EXPECT_LT(accepted, kMutantsPerTest / 2);
}

TEST_F(CheckpointMutation, TruncationsAndRandomDamageAnywhere) {
  std::mt19937 rng(13);
  int accepted = 0;
  for (int i = 0; i < kMutantsPerTest; ++i) {
    std::string m = bytes_;
    switch (i % 3) {
      case 0:
        m.resize(rng() % m.size());
        break;
      case 1:
        m = flipped(rng, {0, m.size()});
        break;
      default:
        for (int k = 0; k < 8; ++k) m[rng() % m.size()] = static_cast<char>(rng());
    }
    accepted += feed(m);
  }
  EXPECT_LT(accepted, kMutantsPerTest);
}

}  // namespace
}  // namespace aslseg::checkpoint
