// torch.save files: the official-style tiny SAM checkpoint, agreement with LibTorch's own
// reader, exact write/read round trips, and every refusal naming the file and the problem.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>

#include "aslseg/checkpoint/pickler.h"
#include "aslseg/checkpoint/torch_pth.h"
#include "aslseg/checkpoint/zip_archive.h"
#include "checkpoint/checkpoint_test_util.h"
#include "common/sam_fixtures.h"
#include "common/test_util.h"

namespace aslseg::checkpoint {
namespace {

namespace fs = std::filesystem;
using testing::expect_input_error;
using testing::float_bytes;
using testing::pickle_tensor;
using testing::read_file_bytes;
using testing::write_archive;
using testing::write_file_bytes;

const torch::Tensor* find(const StateDict& sd, const std::string& name) {
  for (const auto& [k, v] : sd)
    if (k == name) return &v;
  return nullptr;
}

std::vector<int64_t> shape(const torch::Tensor& t) { return t.sizes().vec(); }

TEST(TorchPth, TinySamLoadsInFileOrderWithShapes) {
  ASLSEG_SAM_FIXTURE_DIR_OR_SKIP(fixtures);
  const StateDict sd = read_torch_state_dict(fixtures / "tiny_sam.pth");
  ASSERT_EQ(sd.size(), 188u);
  EXPECT_EQ(sd[0].first, "image_encoder.pos_embed");
  EXPECT_EQ(shape(sd[0].second), (std::vector<int64_t>{1, 16, 16, 64}));
  EXPECT_EQ(sd[1].first, "image_encoder.patch_embed.proj.weight");
  EXPECT_EQ(shape(sd[1].second), (std::vector<int64_t>{64, 3, 16, 16}));
  EXPECT_EQ(sd[3].first, "image_encoder.blocks.0.norm1.weight");
  EXPECT_EQ(sd[100].first,
            "mask_decoder.transformer.layers.0.cross_attn_image_to_token.v_proj.weight");
  EXPECT_EQ(shape(sd[100].second), (std::vector<int64_t>{16, 32}));
  EXPECT_EQ(sd[187].first, "mask_decoder.iou_prediction_head.layers.2.bias");
  EXPECT_EQ(shape(sd[187].second), (std::vector<int64_t>{4}));
  const struct {
    const char* name;
    std::vector<int64_t> shape;
  } more[] = {{"image_encoder.blocks.0.attn.rel_pos_h", {9, 16}},
              {"image_encoder.blocks.1.attn.rel_pos_w", {31, 16}},
              {"prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", {2, 16}},
              {"prompt_encoder.not_a_point_embed.weight", {1, 32}}};
  for (const auto& m : more) {
    const torch::Tensor* t = find(sd, m.name);
    ASSERT_NE(t, nullptr) << m.name;
    EXPECT_EQ(shape(*t), m.shape) << m.name;
    EXPECT_EQ(t->scalar_type(), torch::kFloat);
  }
  // Values: pos_embed is storage "0", contiguous from offset 0.
  ZipArchive zip(fixtures / "tiny_sam.pth");
  const std::string raw = zip.read(*zip.find("tiny_sam/data/0"), 1 << 20);
  ASSERT_EQ(raw.size(), static_cast<size_t>(sd[0].second.numel()) * sizeof(float));
  EXPECT_EQ(std::memcmp(raw.data(), sd[0].second.data_ptr(), raw.size()), 0);
  EXPECT_GT(sd[0].second.abs().sum().item<double>(), 0.0);
}

TEST(TorchPth, CasesFileAgreesWithLibTorchPickleLoad) {
  ASLSEG_SAM_FIXTURE_DIR_OR_SKIP(fixtures);
  const fs::path path = fixtures / "tiny_sam_cases.pt";
  const StateDict ours = read_torch_state_dict(path);
  const std::string bytes = read_file_bytes(path);
  const auto dict =
      torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end())).toGenericDict();
  ASSERT_EQ(ours.size(), dict.size());
  size_t i = 0;
  for (const auto& item : dict) {
    const std::string& name = item.key().toStringRef();
    const torch::Tensor ref = item.value().toTensor();
    SCOPED_TRACE(name);
    ASSERT_EQ(ours[i].first, name);  // same order
    const torch::Tensor& t = ours[i].second;
    EXPECT_EQ(t.scalar_type(), ref.scalar_type());
    EXPECT_EQ(t.sizes(), ref.sizes());
    EXPECT_EQ(t.strides(), ref.strides());
    EXPECT_EQ(t.storage_offset(), ref.storage_offset());
    EXPECT_TRUE(torch::equal(t, ref));
    ++i;
  }
  // Expanded views of one storage (stride 0) share it, as with torch.load.
  const torch::Tensor* a = find(ours, "point.dense_embeddings");
  const torch::Tensor* b = find(ours, "boxes_batch.dense_embeddings");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->stride(2), 0);
  EXPECT_EQ(a->data_ptr(), b->data_ptr());
}

// Tensors that exercise dtypes, views, offsets, zero strides, scalars and empties.
StateDict varied_tensors() {
  torch::manual_seed(3);
  const torch::Tensor base = torch::randn({6, 5});
  StateDict sd;
  sd.emplace_back("float", torch::randn({3, 4}));
  sd.emplace_back("double", torch::randn({2, 2}, torch::kDouble));
  sd.emplace_back("half", torch::randn({5}).to(torch::kHalf));
  sd.emplace_back("bfloat16", torch::randn({5}).to(torch::kBFloat16));
  sd.emplace_back("int64", torch::arange(-3, 9, torch::kLong).reshape({3, 4}));
  sd.emplace_back("int32", torch::tensor({-2147483647 - 1, 0, 2147483647}, torch::kInt));
  sd.emplace_back("int16", torch::tensor({-32768, 7}, torch::kShort));
  sd.emplace_back("int8", torch::tensor({-128, 127}, torch::kChar));
  sd.emplace_back("uint8", torch::tensor({0, 255}, torch::kByte));
  sd.emplace_back("bool", torch::tensor({true, false, true}));
  sd.emplace_back("scalar", torch::tensor(4.5));
  sd.emplace_back("empty", torch::zeros({0, 3}));
  sd.emplace_back("base", base);
  sd.emplace_back("transposed", base.t());                // shares base's storage
  sd.emplace_back("offset_slice", base.narrow(0, 2, 3));  // offset 10
  sd.emplace_back("strided", base.slice(1, 1, 5, 2));
  sd.emplace_back("expanded", torch::randn({1, 4}).expand({3, 4}));  // stride 0
  return sd;
}

void expect_same(const StateDict& got, const StateDict& want, bool views_preserved) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(want[i].first);
    EXPECT_EQ(got[i].first, want[i].first);
    const torch::Tensor& g = got[i].second;
    const torch::Tensor& w = want[i].second;
    EXPECT_EQ(g.scalar_type(), w.scalar_type());
    EXPECT_EQ(g.sizes(), w.sizes());
    EXPECT_TRUE(torch::equal(g, w));
    if (views_preserved) {
      EXPECT_EQ(g.strides(), w.strides());
      EXPECT_EQ(g.storage_offset(), w.storage_offset());
    }
  }
}

TEST(TorchPth, OrderedDictRoundTripIsExactAndKeepsViews) {
  testing::TempDir dir;
  const StateDict sd = varied_tensors();
  write_torch_state_dict(dir / "w.pth", sd);
  const StateDict back = read_torch_state_dict(dir / "w.pth");
  expect_same(back, sd, /*views_preserved=*/true);
  EXPECT_EQ(find(back, "base")->data_ptr(), find(back, "transposed")->data_ptr());
  // Official layout: an OrderedDict under "<stem>/", storages aligned for torch.load's mmap.
  ZipArchive zip(dir / "w.pth");
  const std::string pickle = zip.read(*zip.find("w/data.pkl"), 1 << 20);
  EXPECT_EQ(pickle.rfind("\x80\x02"
                         "ccollections\nOrderedDict\n",
                         0),
            0u);
  EXPECT_EQ(zip.read(*zip.find("w/version"), 8), "3\n");
  EXPECT_EQ(zip.read(*zip.find("w/byteorder"), 8), "little");
  for (const auto& e : zip.entries()) EXPECT_EQ(e.data_offset % 64, 0u) << e.name;
  // No temporary left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(TorchPth, PlainDictWeWriteIsReadIdenticallyByLibTorch) {
  testing::TempDir dir;
  const StateDict sd = varied_tensors();
  write_torch_state_dict(dir / "sub" / "plain.pt", sd, /*ordered_dict=*/false);
  expect_same(read_torch_state_dict(dir / "sub" / "plain.pt"), sd, true);
  const std::string bytes = read_file_bytes(dir / "sub" / "plain.pt");
  const auto dict =
      torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end())).toGenericDict();
  StateDict libtorch;
  for (const auto& item : dict)
    libtorch.emplace_back(item.key().toStringRef(), item.value().toTensor());
  expect_same(libtorch, sd, /*views_preserved=*/true);
}

TEST(TorchPth, TinySamRewriteRoundTrips) {
  ASLSEG_SAM_FIXTURE_DIR_OR_SKIP(fixtures);
  testing::TempDir dir;
  const StateDict sd = read_torch_state_dict(fixtures / "tiny_sam.pth");
  write_torch_state_dict(dir / "copy.pth", sd);
  expect_same(read_torch_state_dict(dir / "copy.pth"), sd, true);
}

TEST(TorchPth, MoreThanOneSetItemsBatch) {
  testing::TempDir dir;
  StateDict sd;
  for (int i = 0; i < 2100; ++i) sd.emplace_back("t" + std::to_string(i), torch::full({1}, i));
  write_torch_state_dict(dir / "many.pth", sd);
  const StateDict back = read_torch_state_dict(dir / "many.pth");
  ASSERT_EQ(back.size(), sd.size());
  EXPECT_EQ(back[2099].first, "t2099");
  EXPECT_EQ(back[2099].second.item<float>(), 2099.0f);
}

TEST(TorchPth, UnwrapsModelOfATrainingCheckpoint) {
  testing::TempDir dir;
  Pickler p;
  p.empty_dict();
  p.mark();
  p.string("epoch");
  p.integer(12);
  p.string("model");
  p.empty_dict();
  p.mark();
  p.string("w");
  pickle_tensor(p, "FloatStorage", "0", 3, 0, {3}, {1});
  p.setitems();
  p.setitems();
  p.stop();
  write_archive(dir / "train.pth", p.bytes(), {{"data/0", float_bytes({1, 2, 3})}});
  const StateDict sd = read_torch_state_dict(dir / "train.pth");
  ASSERT_EQ(sd.size(), 1u);
  EXPECT_EQ(sd[0].first, "w");
  EXPECT_TRUE(torch::equal(sd[0].second, torch::tensor({1.0f, 2.0f, 3.0f})));
}

// --- refusals ---------------------------------------------------------------------------

TEST(TorchPth, StorageShorterThanTheShapeNeeds) {
  testing::TempDir dir;
  Pickler p;
  p.empty_dict();
  p.string("w");
  pickle_tensor(p, "FloatStorage", "0", 4, 0, {3, 2}, {2, 1});  // needs 6 elements
  p.setitem();
  p.stop();
  write_archive(dir / "short.pth", p.bytes(), {{"data/0", float_bytes({1, 2, 3, 4})}});
  expect_input_error([&] { read_torch_state_dict(dir / "short.pth"); }, dir / "short.pth",
                     "tensor 'w' needs element 5 of its storage, which holds only 4");

  Pickler q;  // same extent, reached through the offset
  q.empty_dict();
  q.string("w");
  pickle_tensor(q, "FloatStorage", "0", 4, 3, {2}, {1});
  q.setitem();
  q.stop();
  write_archive(dir / "offset.pth", q.bytes(), {{"data/0", float_bytes({1, 2, 3, 4})}});
  expect_input_error([&] { read_torch_state_dict(dir / "offset.pth"); }, dir / "offset.pth",
                     "storage shorter than the shape needs");
}

TEST(TorchPth, HostileSizesAndOffsetsAreRefused) {
  testing::TempDir dir;
  const std::string storage = float_bytes({1, 2, 3, 4});
  Pickler p;  // stride 0 keeps the extent tiny while the element count overflows int64
  p.empty_dict();
  p.string("w");
  pickle_tensor(p, "FloatStorage", "0", 4, 0, {1LL << 40, 1LL << 40}, {0, 0});
  p.setitem();
  p.stop();
  write_archive(dir / "huge.pth", p.bytes(), {{"data/0", storage}});
  expect_input_error([&] { read_torch_state_dict(dir / "huge.pth"); }, dir / "huge.pth",
                     "product overflows");
  Pickler q;  // an empty tensor, but placed beyond its storage
  q.empty_dict();
  q.string("w");
  pickle_tensor(q, "FloatStorage", "0", 4, 1000, {0}, {1});
  q.setitem();
  q.stop();
  write_archive(dir / "beyond.pth", q.bytes(), {{"data/0", storage}});
  expect_input_error([&] { read_torch_state_dict(dir / "beyond.pth"); }, dir / "beyond.pth",
                     "starts at element 1000 of a storage of 4");
  Pickler r;  // a dtype torch.save never writes for state dicts
  r.empty_dict();
  r.string("w");
  pickle_tensor(r, "ComplexFloatStorage", "0", 2, 0, {2}, {1});
  r.setitem();
  r.stop();
  write_archive(dir / "complex.pth", r.bytes(), {{"data/0", storage}});
  expect_input_error([&] { read_torch_state_dict(dir / "complex.pth"); }, dir / "complex.pth",
                     "refusing to load global 'torch.ComplexFloatStorage'");
}

TEST(TorchPth, StorageRecordOfTheWrongSizeOrMissing) {
  testing::TempDir dir;
  Pickler p;
  p.empty_dict();
  p.string("w");
  pickle_tensor(p, "FloatStorage", "0", 4, 0, {4}, {1});
  p.setitem();
  p.stop();
  write_archive(dir / "size.pth", p.bytes(), {{"data/0", float_bytes({1, 2, 3})}});
  expect_input_error([&] { read_torch_state_dict(dir / "size.pth"); }, dir / "size.pth",
                     "holds 12 bytes, not the 4 x 4 declared");
  write_archive(dir / "missing.pth", p.bytes(), {});
  expect_input_error([&] { read_torch_state_dict(dir / "missing.pth"); }, dir / "missing.pth",
                     "missing storage record 'archive/data/0'");
}

TEST(TorchPth, PickleCallingOsSystemIsRefused) {
  testing::TempDir dir;
  Pickler p;
  p.global("os", "system");
  p.mark();
  p.string("touch pwned");
  p.tuple();
  p.reduce();
  p.stop();
  write_archive(dir / "evil.pth", p.bytes(), {});
  expect_input_error([&] { read_torch_state_dict(dir / "evil.pth"); }, dir / "evil.pth",
                     "refusing to load global 'os.system'");
}

TEST(TorchPth, NonZipGarbageAndMissingFile) {
  testing::TempDir dir;
  std::string garbage(4096, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 131 + 7);
  write_file_bytes(dir / "g.pth", garbage);
  expect_input_error([&] { read_torch_state_dict(dir / "g.pth"); }, dir / "g.pth",
                     "not a zip archive");
  expect_input_error([&] { read_torch_state_dict(dir / "absent.pth"); }, dir / "absent.pth",
                     "file not found");
}

TEST(TorchPth, LegacyFormatAsksToResave) {
  testing::TempDir dir;
  const std::string legacy("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.rest", 19);
  write_file_bytes(dir / "old.pth", legacy);
  expect_input_error([&] { read_torch_state_dict(dir / "old.pth"); }, dir / "old.pth",
                     "re-save with torch>=1.6");
}

TEST(TorchPth, ZipWithoutDataPkl) {
  testing::TempDir dir;
  {
    ZipWriter zip(dir / "nopkl.pth");
    zip.add("archive/version", "3\n");
    zip.finish();
  }
  expect_input_error([&] { read_torch_state_dict(dir / "nopkl.pth"); }, dir / "nopkl.pth",
                     "without '<name>/data.pkl'");
  {
    ZipWriter zip(dir / "script.pt");
    zip.add("m/data.pkl", "\x80\x02}.");
    zip.add("m/constants.pkl", "\x80\x02).");
    zip.finish();
  }
  expect_input_error([&] { read_torch_state_dict(dir / "script.pt"); }, dir / "script.pt",
                     "TorchScript");
}

TEST(TorchPth, TopLevelMustBeADictOfTensors) {
  testing::TempDir dir;
  write_archive(dir / "list.pth", std::string("\x80\x02]q\x00.", 6), {});
  expect_input_error([&] { read_torch_state_dict(dir / "list.pth"); }, dir / "list.pth",
                     "top level of the pickle is a list");
  Pickler p;
  p.empty_dict();
  p.string("lr");
  p.binfloat(0.1);
  p.setitem();
  p.stop();
  write_archive(dir / "float.pth", p.bytes(), {});
  expect_input_error([&] { read_torch_state_dict(dir / "float.pth"); }, dir / "float.pth",
                     "tensor 'lr' is a float, not a tensor");
}

TEST(TorchPth, DuplicateKeysAreRefused) {
  testing::TempDir dir;
  Pickler p;
  p.empty_dict();
  p.mark();
  for (int i = 0; i < 2; ++i) {
    p.string("w");
    pickle_tensor(p, "FloatStorage", "0", 1, 0, {1}, {1});
  }
  p.setitems();
  p.stop();
  write_archive(dir / "dup.pth", p.bytes(), {{"data/0", float_bytes({1})}});
  expect_input_error([&] { read_torch_state_dict(dir / "dup.pth"); }, dir / "dup.pth",
                     "key 'w' appears twice");
}

TEST(TorchPth, BigEndianFilesAreRefused) {
  testing::TempDir dir;
  Pickler p;
  p.empty_dict();
  p.stop();
  write_archive(dir / "be.pth", p.bytes(), {{"byteorder", "big"}});
  expect_input_error([&] { read_torch_state_dict(dir / "be.pth"); }, dir / "be.pth", "big-endian");
  write_archive(dir / "le.pth", p.bytes(), {{"byteorder", "little"}});
  EXPECT_TRUE(read_torch_state_dict(dir / "le.pth").empty());
}

TEST(TorchPth, UnsupportedDtypeIsNotWritten) {
  testing::TempDir dir;
  const StateDict sd{{"c", torch::zeros({2}, torch::kComplexFloat)}};
  expect_input_error([&] { write_torch_state_dict(dir / "c.pth", sd); }, dir / "c.pth",
                     "tensor 'c' has dtype");
  EXPECT_FALSE(fs::exists(dir / "c.pth"));
}

TEST(TorchPth, TruncatedAtManyCutPoints) {
  ASLSEG_SAM_FIXTURE_DIR_OR_SKIP(fixtures);
  testing::TempDir dir;
  const std::string bytes = read_file_bytes(fixtures / "tiny_sam.pth");
  std::vector<size_t> cuts = {0, 1, 4, 21, 22, 64, 1000, 33950, 500000};
  for (size_t back = 1; back <= 120; back += 7) cuts.push_back(bytes.size() - back);
  for (size_t back = 200; back < 12000; back += 1111) cuts.push_back(bytes.size() - back);
  for (size_t cut : cuts) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    write_file_bytes(dir / "cut.pth", bytes.substr(0, cut));
    EXPECT_THROW(read_torch_state_dict(dir / "cut.pth"), InputError);
  }
}

}  // namespace
}  // namespace aslseg::checkpoint
