#include "aslseg/checkpoint/torch_pth.h"

#include <spdlog/spdlog.h>

#include <array>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "aslseg/checkpoint/pickler.h"
#include "aslseg/checkpoint/unpickler.h"
#include "aslseg/checkpoint/zip_archive.h"
#include "aslseg/checkpoint/zip_writer.h"
#include "aslseg/io/atomic_file.h"
#include "aslseg/io/error.h"

namespace aslseg::checkpoint {

namespace {

namespace fs = std::filesystem;
using Kind = PickleValue::Kind;

constexpr uint64_t kMaxPickleBytes = uint64_t{64} << 20;  // SAM ViT-H's data.pkl is ~100 KB
constexpr uint64_t kMaxSmallRecord = 64;                  // "version", "byteorder"
constexpr size_t kMaxDims = 64;
constexpr size_t kSetItemsBatch = 1000;  // as CPython's pickler batches SETITEMS
constexpr const char* kRebuildTensor = "torch._utils._rebuild_tensor_v2";
constexpr const char* kRebuildParameter = "torch._utils._rebuild_parameter";
constexpr const char* kFormatVersion = "3\n";  // torch.save's zip format version
constexpr std::array<const char*, 2> kWrapperKeys{"model", "state_dict"};
// torch.save's legacy (pre-1.6) format starts with a protocol-2 pickle of this magic number.
constexpr std::array<unsigned char, 14> kLegacyMagic{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c,
                                                     0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

struct StorageType {
  const char* name;  // "FloatStorage", as torch.<name>
  torch::ScalarType dtype;
};
constexpr std::array<StorageType, 10> kStorageTypes{{
    {"FloatStorage", torch::kFloat},
    {"HalfStorage", torch::kHalf},
    {"BFloat16Storage", torch::kBFloat16},
    {"DoubleStorage", torch::kDouble},
    {"LongStorage", torch::kLong},
    {"IntStorage", torch::kInt},
    {"ShortStorage", torch::kShort},
    {"CharStorage", torch::kChar},
    {"ByteStorage", torch::kByte},
    {"BoolStorage", torch::kBool},
}};

std::optional<torch::ScalarType> dtype_of_storage(const std::string& dotted) {
  for (const auto& s : kStorageTypes)
    if (dotted == std::string("torch.") + s.name) return s.dtype;
  return std::nullopt;
}

const char* storage_name(torch::ScalarType dtype) {
  for (const auto& s : kStorageTypes)
    if (s.dtype == dtype) return s.name;
  return nullptr;
}

void refuse_legacy_format(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::array<char, kLegacyMagic.size()> head{};
  in.read(head.data(), head.size());
  if (in.gcount() == static_cast<std::streamsize>(head.size()) &&
      std::memcmp(head.data(), kLegacyMagic.data(), head.size()) == 0)
    throw InputError(path.string(),
                     "legacy torch.save format (PyTorch < 1.6) is not supported; re-save with "
                     "torch>=1.6: torch.save(torch.load(f), f)");
}

// Turns the unpickled _rebuild_tensor_v2 calls into tensors, reading each storage once.
class TensorBuilder {
 public:
  TensorBuilder(ZipArchive& zip, std::string root) : zip_(zip), root_(std::move(root)) {}

  torch::Tensor build(const std::string& name, const PickleValue& value) {
    name_ = name;
    const PickleValue* v = &value;
    if (v->is(Kind::kCall) && v->items[0]->text == kRebuildParameter) {
      const auto& args = v->items[1]->items;
      if (args.empty()) fail("parameter without its data");
      v = args[0];
    }
    if (!v->is(Kind::kCall) || v->items[0]->text != kRebuildTensor)
      fail(std::string("is a ") + kind_name(v->kind) + ", not a tensor");
    const auto& args = v->items[1]->items;
    // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    if (args.size() != 6 && args.size() != 7)
      fail("tensor rebuilt from " + std::to_string(args.size()) + " arguments, not 6 or 7");
    const auto [storage, dtype] = load_storage(*args[0]);
    const int64_t offset = integer(*args[1], "storage offset");
    const std::vector<int64_t> sizes = int_tuple(*args[2], "size");
    const std::vector<int64_t> strides = int_tuple(*args[3], "stride");
    if (sizes.size() != strides.size())
      fail("size and stride have different lengths (" + std::to_string(sizes.size()) + " and " +
           std::to_string(strides.size()) + ")");
    check_extent(storage.numel(), offset, sizes, strides);
    (void)dtype;
    return storage.as_strided(sizes, strides, offset);
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    throw InputError(zip_.path().string(), "tensor '" + name_ + "' " + problem);
  }

  int64_t integer(const PickleValue& v, const char* what) const {
    if (!v.is(Kind::kInt)) fail(std::string("has a ") + kind_name(v.kind) + " as its " + what);
    if (v.integer < 0) fail(std::string("has a negative ") + what);
    return v.integer;
  }

  std::vector<int64_t> int_tuple(const PickleValue& v, const char* what) const {
    if (!v.is(Kind::kTuple)) fail(std::string("has a ") + kind_name(v.kind) + " as its " + what);
    if (v.items.size() > kMaxDims)
      fail("has " + std::to_string(v.items.size()) + " dimensions (at most " +
           std::to_string(kMaxDims) + ")");
    std::vector<int64_t> out;
    out.reserve(v.items.size());
    for (const PickleValue* item : v.items) out.push_back(integer(*item, what));
    return out;
  }

  // offset + sum((size_i - 1) * stride_i) must index inside the storage: LibTorch itself
  // would hand out uninitialised memory (or crash) for a storage too short.
  void check_extent(int64_t numel, int64_t offset, const std::vector<int64_t>& sizes,
                    const std::vector<int64_t>& strides) const {
    if (offset > numel)
      fail("starts at element " + std::to_string(offset) + " of a storage of " +
           std::to_string(numel));
    int64_t count = 1;
    for (int64_t s : sizes)
      if (__builtin_mul_overflow(count, s, &count)) fail("has a size whose product overflows");
    if (count == 0) return;  // an empty tensor needs no storage
    int64_t last = offset;
    for (size_t i = 0; i < sizes.size(); ++i) {
      int64_t step = 0;
      if (__builtin_mul_overflow(sizes[i] - 1, strides[i], &step) ||
          __builtin_add_overflow(last, step, &last))
        fail("has a size and stride that overflow");
    }
    if (last >= numel)
      fail("needs element " + std::to_string(last) + " of its storage, which holds only " +
           std::to_string(numel) + " (storage shorter than the shape needs)");
  }

  std::pair<torch::Tensor, torch::ScalarType> load_storage(const PickleValue& pid) {
    if (!pid.is(Kind::kPersistentId) || !pid.items[0]->is(Kind::kTuple))
      fail("has no storage reference");
    const auto& f = pid.items[0]->items;
    // ('storage', torch.<Type>Storage, key, location, numel)
    if (f.size() != 5 || !f[0]->is(Kind::kString) || f[0]->text != "storage" ||
        !f[1]->is(Kind::kGlobal) || !f[2]->is(Kind::kString) || !f[3]->is(Kind::kString))
      fail("has a malformed storage reference");
    const auto dtype = dtype_of_storage(f[1]->text);
    if (!dtype) fail("has an unsupported storage type '" + f[1]->text + "'");
    const std::string& key = f[2]->text;
    const int64_t numel = integer(*f[4], "storage size");

    const auto cached = storages_.find(key);
    if (cached != storages_.end()) {
      if (cached->second.scalar_type() != *dtype || cached->second.numel() != numel)
        fail("reuses storage '" + key + "' with another type or size");
      return {cached->second, *dtype};
    }
    const std::string entry_name = root_ + "/data/" + key;
    const ZipEntry* entry = zip_.find(entry_name);
    if (!entry) fail("refers to a missing storage record '" + entry_name + "'");
    const uint64_t item = torch::elementSize(*dtype);
    if (entry->size % item != 0 || entry->size / item != static_cast<uint64_t>(numel))
      fail("storage '" + entry_name + "' holds " + std::to_string(entry->size) +
           " bytes, not the " + std::to_string(numel) + " x " + std::to_string(item) + " declared");
    torch::Tensor storage = torch::empty({numel}, torch::TensorOptions().dtype(*dtype));
    zip_.read_into(*entry, storage.data_ptr(), entry->size);
    storages_.emplace(key, storage);
    return {storage, *dtype};
  }

  ZipArchive& zip_;
  std::string root_;
  std::string name_;
  std::unordered_map<std::string, torch::Tensor> storages_;
};

// The one "<root>/data.pkl" of a torch.save archive.
std::string find_root(const ZipArchive& zip) {
  std::optional<std::string> root;
  bool torchscript = false;
  for (const auto& e : zip.entries()) {
    const auto slash = e.name.find('/');
    if (slash == std::string::npos) continue;
    const std::string rest = e.name.substr(slash + 1);
    if (rest == "data.pkl") {
      if (root)
        throw InputError(zip.path().string(), "archive holds more than one data.pkl ('" + *root +
                                                  "/data.pkl' and '" + e.name + "')");
      root = e.name.substr(0, slash);
    }
    if (rest == "constants.pkl" || rest.rfind("code/", 0) == 0) torchscript = true;
  }
  if (torchscript)
    throw InputError(zip.path().string(),
                     "a TorchScript archive (torch.jit.save), not a torch.save state dict");
  if (!root)
    throw InputError(zip.path().string(),
                     "zip archive without '<name>/data.pkl': not a torch.save file");
  return *root;
}

void check_byte_order(ZipArchive& zip, const std::string& root) {
  const ZipEntry* e = zip.find(root + "/byteorder");
  if (!e) return;  // written by torch >= 2.1 only; older files are little-endian
  const std::string order = zip.read(*e, kMaxSmallRecord);
  if (order == "big")
    throw InputError(zip.path().string(),
                     "big-endian checkpoint (saved on a big-endian machine) is not supported");
  if (order != "little")
    throw InputError(zip.path().string(), "unknown byte order record '" + order + "'");
}

// The dict of tensors: the top level, or the one under "model" / "state_dict".
const PickleValue& state_dict_of(const PickleValue& top, const fs::path& path) {
  if (!top.is(Kind::kDict))
    throw InputError(path.string(), std::string("top level of the pickle is a ") +
                                        kind_name(top.kind) + ", not a dict of tensors");
  bool all_tensors = true;
  for (const auto& [key, value] : top.entries) all_tensors = all_tensors && value->is(Kind::kCall);
  if (all_tensors) return top;
  const PickleValue* inner = nullptr;
  std::string inner_key;
  for (const auto& [key, value] : top.entries) {
    if (!key->is(Kind::kString) || !value->is(Kind::kDict)) continue;
    for (const char* wrapper : kWrapperKeys) {
      if (key->text != wrapper) continue;
      if (inner)
        throw InputError(path.string(), "checkpoint holds both '" + inner_key + "' and '" +
                                            key->text + "': which state dict to load is unclear");
      inner = value;
      inner_key = key->text;
    }
  }
  if (!inner) return top;  // reported entry by entry below
  spdlog::info("{}: loading the state dict under '{}' (a training checkpoint)", path.string(),
               inner_key);
  return *inner;
}

std::string archive_name(const fs::path& path) {
  std::string stem = path.filename().string();
  const auto dot = stem.rfind('.');
  if (dot != std::string::npos && dot > 0) stem.resize(dot);
  for (char& c : stem)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') c = '_';
  return stem.empty() ? "archive" : stem;
}

}  // namespace

StateDict read_torch_state_dict(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError(path.string(), "file not found");
  refuse_legacy_format(path);
  ZipArchive zip(path);
  const std::string root = find_root(zip);
  check_byte_order(zip, root);

  std::string pickle = zip.read(*zip.find(root + "/data.pkl"), kMaxPickleBytes);
  Unpickler unpickler(std::move(pickle), path.string());
  const PickleValue& sd_value = state_dict_of(unpickler.load(), path);

  TensorBuilder builder(zip, root);
  StateDict sd;
  sd.reserve(sd_value.entries.size());
  std::unordered_set<std::string> seen;
  for (const auto& [key, value] : sd_value.entries) {
    if (!key->is(Kind::kString))
      throw InputError(path.string(), std::string("state dict has a ") + kind_name(key->kind) +
                                          " key; keys must be strings");
    if (!seen.insert(key->text).second)
      throw InputError(path.string(), "key '" + key->text + "' appears twice");
    sd.emplace_back(key->text, builder.build(key->text, *value));
  }
  return sd;
}

void write_torch_state_dict(const fs::path& path, const StateDict& sd, bool ordered_dict) {
  struct Storage {
    torch::Tensor owner;  // keeps the bytes alive
    const void* data;
    uint64_t nbytes;
    torch::ScalarType dtype;
  };
  std::vector<Storage> storages;
  std::map<const void*, size_t> by_data;
  Pickler p;
  if (ordered_dict) {
    p.global("collections", "OrderedDict");
    p.empty_tuple();
    p.reduce();
  } else {
    p.empty_dict();
  }

  for (size_t i = 0; i < sd.size(); ++i) {
    const auto& [name, given] = sd[i];
    if (!given.defined()) throw InputError(path.string(), "tensor '" + name + "' is undefined");
    if (given.layout() != torch::kStrided)
      throw InputError(path.string(), "tensor '" + name + "' is not dense (strided)");
    const char* type = storage_name(given.scalar_type());
    if (!type)
      throw InputError(path.string(), "tensor '" + name + "' has dtype " +
                                          std::string(c10::toString(given.scalar_type())) +
                                          ", which this writer does not support");
    torch::Tensor t = given.detach().cpu();
    const uint64_t item = t.element_size();
    const c10::Storage& st = t.storage();
    const void* data = st.data_ptr().get();
    auto found = data ? by_data.find(data) : by_data.end();
    // A storage seen with another dtype, or with a partial element, is saved as a fresh copy.
    if ((found != by_data.end() && storages[found->second].dtype != t.scalar_type()) ||
        st.nbytes() % item != 0) {
      t = t.clone(torch::MemoryFormat::Contiguous);
      data = t.storage().data_ptr().get();
      found = by_data.end();
    }
    size_t index = 0;
    if (found != by_data.end()) {
      index = found->second;
    } else {
      index = storages.size();
      storages.push_back({t, data, t.storage().nbytes(), t.scalar_type()});
      if (data) by_data.emplace(data, index);
    }

    if (i % kSetItemsBatch == 0) p.mark();
    p.string(name);
    p.global("torch._utils", "_rebuild_tensor_v2");
    p.mark();
    p.mark();
    p.string("storage");
    p.global("torch", type);
    p.string(std::to_string(index));
    p.string("cpu");
    p.integer(static_cast<int64_t>(storages[index].nbytes / item));
    p.tuple();
    p.binpersid();
    p.integer(t.storage_offset());
    p.mark();
    for (int64_t s : t.sizes()) p.integer(s);
    p.tuple();
    p.mark();
    for (int64_t s : t.strides()) p.integer(s);
    p.tuple();
    p.boolean(false);
    p.global("collections", "OrderedDict");  // backward hooks
    p.empty_tuple();
    p.reduce();
    p.tuple();
    p.reduce();
    if (i % kSetItemsBatch == kSetItemsBatch - 1 || i + 1 == sd.size()) p.setitems();
  }
  p.stop();

  const std::string root = archive_name(path);
  io::write_atomically(path, [&](const fs::path& tmp) {
    ZipWriter zip(tmp);
    zip.add(root + "/data.pkl", p.bytes());
    zip.add(root + "/byteorder", "little");
    for (size_t k = 0; k < storages.size(); ++k)
      zip.add(root + "/data/" + std::to_string(k), storages[k].data, storages[k].nbytes);
    zip.add(root + "/version", kFormatVersion);
    zip.finish();
  });
}

}  // namespace aslseg::checkpoint
