// safetensors: round trip, a hand-built file with known values, and malformed headers.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>

#include "aslseg/checkpoint/safetensors.h"
#include "checkpoint/checkpoint_test_util.h"
#include "common/test_util.h"

namespace aslseg::checkpoint {
namespace {

namespace fs = std::filesystem;
using testing::expect_input_error;
using testing::read_file_bytes;
using testing::write_file_bytes;

// 8-byte little-endian length + header + data.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i)
    out[i] = static_cast<char>((static_cast<uint64_t>(header.size()) >> (8 * i)) & 0xFF);
  return out + header + data;
}

template <class T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

TEST(Safetensors, RoundTripIsExactWithMetadata) {
  testing::TempDir dir;
  torch::manual_seed(8);
  const torch::Tensor base = torch::randn({4, 6});
  const StateDict sd{{"z.weight", base.t()},  // non-contiguous: written contiguous
                     {"a.half", torch::randn({3}).to(torch::kHalf)},
                     {"m.bf16", torch::randn({2, 2}).to(torch::kBFloat16)},
                     {"ids", torch::arange(-4, 4, torch::kLong)},
                     {"mask", torch::tensor({true, false})},
                     {"i8", torch::tensor({-3, 3}, torch::kChar)},
                     {"u8", torch::tensor({200}, torch::kByte)},
                     {"scalar", torch::tensor(2.0, torch::kDouble)},
                     {"empty", torch::zeros({0}, torch::kInt)}};
  write_safetensors(dir / "w.safetensors", sd, {{"format", "pt"}});
  SafetensorsMetadata meta;
  const StateDict back = read_safetensors(dir / "w.safetensors", &meta);
  EXPECT_EQ(meta, (SafetensorsMetadata{{"format", "pt"}}));
  ASSERT_EQ(back.size(), sd.size());
  for (size_t i = 0; i < sd.size(); ++i) {
    SCOPED_TRACE(sd[i].first);
    EXPECT_EQ(back[i].first, sd[i].first);  // data order = written order
    EXPECT_EQ(back[i].second.scalar_type(), sd[i].second.scalar_type());
    EXPECT_TRUE(torch::equal(back[i].second, sd[i].second));
  }
  const std::string bytes = read_file_bytes(dir / "w.safetensors");
  uint64_t header = 0;
  std::memcpy(&header, bytes.data(), 8);
  EXPECT_EQ(header % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
}

TEST(Safetensors, ReadsAHandBuiltFile) {
  testing::TempDir dir;
  const std::string header = R"({"b":{"dtype":"I32","shape":[2],"data_offsets":[8,16]},)"
                             R"("__metadata__":{"source":"hand"},)"
                             R"("a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}})";
  write_file_bytes(dir / "h.safetensors",
              safetensors_bytes(header, raw<float>({1.5f, -2.0f}) + raw<int32_t>({7, -9})));
  SafetensorsMetadata meta;
  const StateDict sd = read_safetensors(dir / "h.safetensors", &meta);
  ASSERT_EQ(sd.size(), 2u);
  EXPECT_EQ(sd[0].first, "a");
  EXPECT_EQ(sd[0].second.sizes().vec(), (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(torch::equal(sd[0].second, torch::tensor({{1.5f, -2.0f}})));
  EXPECT_EQ(sd[1].first, "b");
  EXPECT_TRUE(torch::equal(sd[1].second, torch::tensor({7, -9}, torch::kInt)));
  EXPECT_EQ(meta.at("source"), "hand");
}

TEST(Safetensors, MalformedHeadersAreNamed) {
  testing::TempDir dir;
  const std::string data = raw<float>({1, 2, 3, 4});
  const struct {
    const char* header;
    const char* problem;
  } cases[] = {
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
       "'a' and 'b' overlap"},
      {R"({"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})", "outside the data"},
      {R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", "need 12"},
      {R"({"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})",
       "unsupported dtype 'F8_E4M3'"},
      {R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "non-negative"},
      {R"({"a":{"dtype":"F32","shape":[1]}})", "lacks dtype, shape or data_offsets"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", "outside the data"},
      {R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}})",
       "too large"},
      {R"({"a":{"dtype":"F32")", "not JSON"},
      {R"([1,2])", "not a JSON object"},
      {R"({"__metadata__":{"k":1}})", "is not a string"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.header);
    write_file_bytes(dir / "bad.safetensors", safetensors_bytes(c.header, data));
    expect_input_error([&] { read_safetensors(dir / "bad.safetensors"); }, dir / "bad.safetensors",
                       c.problem);
  }
  write_file_bytes(dir / "len.safetensors", std::string("\xff\xff\xff\x00\x00\x00\x00\x00{}", 10));
  expect_input_error([&] { read_safetensors(dir / "len.safetensors"); }, dir / "len.safetensors",
                     "exceeds the file");
  write_file_bytes(dir / "tiny.safetensors", "abc");
  expect_input_error([&] { read_safetensors(dir / "tiny.safetensors"); }, dir / "tiny.safetensors",
                     "shorter than its 8-byte header");
}

TEST(Safetensors, EveryTruncationIsAnInputError) {
  testing::TempDir dir;
  write_safetensors(dir / "w.safetensors",
                    {{"a", torch::randn({3, 3})}, {"b", torch::ones({2}, torch::kLong)}});
  const std::string bytes = read_file_bytes(dir / "w.safetensors");
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    SCOPED_TRACE(cut);
    write_file_bytes(dir / "cut.safetensors", bytes.substr(0, cut));
    EXPECT_THROW(read_safetensors(dir / "cut.safetensors"), InputError);
  }
}

}  // namespace
}  // namespace aslseg::checkpoint
