#include "aslseg/checkpoint/safetensors.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_set>

#include "aslseg/io/atomic_file.h"
#include "aslseg/io/error.h"

namespace aslseg::checkpoint {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

constexpr uint64_t kLengthBytes = 8;
constexpr uint64_t kMaxHeader = uint64_t{100} << 20;  // the reference implementation's limit
constexpr uint64_t kHeaderAlignment = 8;
constexpr size_t kMaxDims = 64;
constexpr const char* kMetadataKey = "__metadata__";

struct DtypeName {
  const char* name;
  torch::ScalarType dtype;
};
constexpr std::array<DtypeName, 10> kDtypes{{
    {"F64", torch::kDouble},
    {"F32", torch::kFloat},
    {"F16", torch::kHalf},
    {"BF16", torch::kBFloat16},
    {"I64", torch::kLong},
    {"I32", torch::kInt},
    {"I16", torch::kShort},
    {"I8", torch::kChar},
    {"U8", torch::kByte},
    {"BOOL", torch::kBool},
}};

std::optional<torch::ScalarType> dtype_named(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return d.dtype;
  return std::nullopt;
}

const char* name_of(torch::ScalarType dtype) {
  for (const auto& d : kDtypes)
    if (d.dtype == dtype) return d.name;
  return nullptr;
}

struct Slot {
  std::string name;
  torch::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin;
  uint64_t end;
};

uint64_t unsigned_field(const Json& v, const std::string& where, const fs::path& path) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
    throw InputError(path.string(), where + " must be a non-negative integer");
  return v.get<uint64_t>();
}

Slot parse_slot(const std::string& name, const Json& info, uint64_t data_size,
                const fs::path& path) {
  const std::string what = "safetensors header: tensor '" + name + "'";
  if (!info.is_object()) throw InputError(path.string(), what + " is not an object");
  const auto dtype_it = info.find("dtype");
  const auto shape_it = info.find("shape");
  const auto offsets_it = info.find("data_offsets");
  if (dtype_it == info.end() || shape_it == info.end() || offsets_it == info.end())
    throw InputError(path.string(), what + " lacks dtype, shape or data_offsets");
  if (!dtype_it->is_string()) throw InputError(path.string(), what + " has a non-string dtype");
  const auto dtype = dtype_named(dtype_it->get<std::string>());
  if (!dtype)
    throw InputError(path.string(),
                     what + " has unsupported dtype '" + dtype_it->get<std::string>() + "'");
  if (!shape_it->is_array() || shape_it->size() > kMaxDims)
    throw InputError(path.string(), what + " has a malformed shape");
  Slot slot{name, *dtype, {}, 0, 0};
  uint64_t bytes = torch::elementSize(*dtype);
  for (const auto& d : *shape_it) {
    const uint64_t n = unsigned_field(d, what + " shape entry", path);
    if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        __builtin_mul_overflow(bytes, n, &bytes))
      throw InputError(path.string(), what + " has a shape too large");
    slot.shape.push_back(static_cast<int64_t>(n));
  }
  if (!offsets_it->is_array() || offsets_it->size() != 2)
    throw InputError(path.string(), what + " needs data_offsets [begin, end]");
  slot.begin = unsigned_field((*offsets_it)[0], what + " data_offsets", path);
  slot.end = unsigned_field((*offsets_it)[1], what + " data_offsets", path);
  if (slot.begin > slot.end || slot.end > data_size)
    throw InputError(path.string(), what + " has data_offsets [" + std::to_string(slot.begin) +
                                        ", " + std::to_string(slot.end) + "] outside the data (" +
                                        std::to_string(data_size) + " bytes)");
  if (slot.end - slot.begin != bytes)
    throw InputError(path.string(), what + " spans " + std::to_string(slot.end - slot.begin) +
                                        " bytes but its shape and dtype need " +
                                        std::to_string(bytes));
  return slot;
}

}  // namespace

StateDict read_safetensors(const fs::path& path, SafetensorsMetadata* metadata) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw InputError(path.string(), "file not found");
  const uint64_t file_size = fs::file_size(path, ec);
  if (ec) throw InputError(path.string(), "cannot read file size: " + ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string(), "cannot open file");
  auto read_exact = [&](void* dst, uint64_t n) {
    in.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
    if (static_cast<uint64_t>(in.gcount()) != n)
      throw InputError(path.string(), "read failed (file changed while reading?)");
  };

  if (file_size < kLengthBytes)
    throw InputError(path.string(), "not a safetensors file (shorter than its 8-byte header)");
  std::array<unsigned char, kLengthBytes> len_bytes{};
  read_exact(len_bytes.data(), kLengthBytes);
  uint64_t header_size = 0;
  for (size_t i = kLengthBytes; i-- > 0;) header_size = (header_size << 8) | len_bytes[i];
  if (header_size > kMaxHeader || header_size > file_size - kLengthBytes)
    throw InputError(path.string(), "not a safetensors file (header length " +
                                        std::to_string(header_size) + " exceeds the file)");
  std::string header(header_size, '\0');
  read_exact(header.data(), header_size);
  Json json;
  try {
    json = Json::parse(header);
  } catch (const Json::parse_error& e) {
    throw InputError(path.string(), std::string("safetensors header is not JSON: ") + e.what());
  }
  if (!json.is_object()) throw InputError(path.string(), "safetensors header is not a JSON object");

  const uint64_t data_start = kLengthBytes + header_size;
  const uint64_t data_size = file_size - data_start;
  std::vector<Slot> slots;
  for (const auto& [name, info] : json.items()) {
    if (name == kMetadataKey) {
      if (!info.is_object())
        throw InputError(path.string(), "safetensors __metadata__ is not an object");
      for (const auto& [k, v] : info.items()) {
        if (!v.is_string())
          throw InputError(path.string(),
                           "safetensors __metadata__ value of '" + k + "' is not a string");
        if (metadata) (*metadata)[k] = v.get<std::string>();
      }
      continue;
    }
    slots.push_back(parse_slot(name, info, data_size, path));
  }
  std::stable_sort(slots.begin(), slots.end(),
                   [](const Slot& a, const Slot& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < slots.size(); ++i)
    if (slots[i].begin < slots[i - 1].end)
      throw InputError(path.string(), "safetensors tensors '" + slots[i - 1].name + "' and '" +
                                          slots[i].name + "' overlap");

  StateDict sd;
  sd.reserve(slots.size());
  for (const auto& s : slots) {
    torch::Tensor t = torch::empty(s.shape, torch::TensorOptions().dtype(s.dtype));
    in.clear();
    in.seekg(static_cast<std::streamoff>(data_start + s.begin));
    read_exact(t.data_ptr(), s.end - s.begin);
    sd.emplace_back(s.name, std::move(t));
  }
  return sd;
}

void write_safetensors(const fs::path& path, const StateDict& sd,
                       const SafetensorsMetadata& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header[kMetadataKey] = meta;
  }
  std::vector<torch::Tensor> data;
  std::unordered_set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, given] : sd) {
    if (name == kMetadataKey || !names.insert(name).second)
      throw InputError(path.string(), "cannot save tensor name '" + name + "' (reserved or twice)");
    if (!given.defined() || given.layout() != torch::kStrided)
      throw InputError(path.string(), "tensor '" + name + "' is undefined or not dense");
    const char* dtype = name_of(given.scalar_type());
    if (!dtype)
      throw InputError(path.string(), "tensor '" + name + "' has dtype " +
                                          std::string(c10::toString(given.scalar_type())) +
                                          ", which safetensors writing does not support here");
    torch::Tensor t = given.detach().cpu().contiguous();
    const uint64_t bytes = t.numel() * t.element_size();
    header[name] = {
        {"dtype", dtype}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(t);
  }
  std::string text = header.dump();
  text.append((kHeaderAlignment - text.size() % kHeaderAlignment) % kHeaderAlignment, ' ');

  io::write_atomically(path, [&](const fs::path& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw InputError(tmp.string(), "cannot create file");
    std::array<char, kLengthBytes> len{};
    for (size_t i = 0; i < kLengthBytes; ++i)
      len[i] = static_cast<char>((static_cast<uint64_t>(text.size()) >> (8 * i)) & 0xFF);
    out.write(len.data(), len.size());
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& t : data)
      out.write(static_cast<const char*>(t.data_ptr()),
                static_cast<std::streamsize>(t.numel() * t.element_size()));
    out.close();
    if (!out) throw InputError(tmp.string(), "write failed (disk full?)");
  });
}

}  // namespace aslseg::checkpoint
