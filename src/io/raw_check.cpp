#include "aslseg/io/raw_check.h"

#include <zlib.h>

#include <cctype>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "aslseg/io/error.h"

namespace aslseg::io {

namespace fs = std::filesystem;

namespace {

constexpr size_t kChunk = size_t{1} << 20;
constexpr size_t kMaxHeaderBytes = size_t{1} << 16;  // MetaImage and NRRD headers are text
constexpr int kGzipWindowBits = 16 + MAX_WBITS;      // zlib: expect a gzip wrapper
constexpr int kZlibWindowBits = MAX_WBITS;           // zlib: expect a zlib wrapper

enum class Encoding { kRaw, kZlib, kGzip, kOther };

// What a text header says about the voxel data that follows it.
struct DataLayout {
  int64_t voxels = 1;
  int64_t bytes_per_voxel = 0;
  Encoding encoding = Encoding::kRaw;
  fs::path data_file;  // where the data lives (the header file itself when attached)
  int64_t offset = 0;  // where it starts in that file
};

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int64_t product_of(const std::string& list) {
  std::istringstream in(list);
  int64_t n = 1, d = 0;
  while (in >> d) n *= d;
  return n;
}

int64_t metaio_type_bytes(const std::string& t) {
  static const std::map<std::string, int64_t> kBytes = {
      {"MET_CHAR", 1},      {"MET_UCHAR", 1},      {"MET_SHORT", 2}, {"MET_USHORT", 2},
      {"MET_INT", 4},       {"MET_UINT", 4},       {"MET_LONG", 4},  {"MET_ULONG", 4},
      {"MET_LONG_LONG", 8}, {"MET_ULONG_LONG", 8}, {"MET_FLOAT", 4}, {"MET_DOUBLE", 8}};
  const auto it = kBytes.find(t);
  return it == kBytes.end() ? 0 : it->second;
}

int64_t nrrd_type_bytes(const std::string& t) {
  static const std::map<std::string, int64_t> kBytes = {{"signed char", 1},
                                                        {"int8", 1},
                                                        {"int8_t", 1},
                                                        {"uchar", 1},
                                                        {"unsigned char", 1},
                                                        {"uint8", 1},
                                                        {"uint8_t", 1},
                                                        {"short", 2},
                                                        {"short int", 2},
                                                        {"signed short", 2},
                                                        {"signed short int", 2},
                                                        {"int16", 2},
                                                        {"int16_t", 2},
                                                        {"ushort", 2},
                                                        {"unsigned short", 2},
                                                        {"unsigned short int", 2},
                                                        {"uint16", 2},
                                                        {"uint16_t", 2},
                                                        {"int", 4},
                                                        {"signed int", 4},
                                                        {"int32", 4},
                                                        {"int32_t", 4},
                                                        {"uint", 4},
                                                        {"unsigned int", 4},
                                                        {"uint32", 4},
                                                        {"uint32_t", 4},
                                                        {"longlong", 8},
                                                        {"long long", 8},
                                                        {"int64", 8},
                                                        {"int64_t", 8},
                                                        {"ulonglong", 8},
                                                        {"unsigned long long", 8},
                                                        {"uint64", 8},
                                                        {"uint64_t", 8},
                                                        {"float", 4},
                                                        {"double", 8}};
  const auto it = kBytes.find(lower(t));
  return it == kBytes.end() ? 0 : it->second;
}

// MetaImage: "Key = Value" lines; ElementDataFile is the last one, data follows it.
DataLayout parse_metaimage(const fs::path& path, std::istream& in) {
  DataLayout d;
  int64_t channels = 1;
  std::string line;
  bool found_data = false;
  while (static_cast<size_t>(in.tellg()) < kMaxHeaderBytes && std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = trim(line.substr(0, eq));
    const std::string value = trim(line.substr(eq + 1));
    if (key == "DimSize") d.voxels = product_of(value);
    if (key == "ElementNumberOfChannels") channels = product_of(value);
    if (key == "ElementType") d.bytes_per_voxel = metaio_type_bytes(value);
    if (key == "CompressedData" && lower(value) == "true") d.encoding = Encoding::kZlib;
    if (key == "ElementDataFile") {
      found_data = true;
      if (value == "LOCAL") {
        d.data_file = path;
        d.offset = static_cast<int64_t>(in.tellg());
      } else if (value.rfind("LIST", 0) == 0 || value.find('%') != std::string::npos) {
        d.encoding = Encoding::kOther;  // slice lists: left to ITK
      } else {
        d.data_file = path.parent_path() / value;
      }
      break;
    }
  }
  if (!found_data || d.bytes_per_voxel == 0)
    throw InputError(path.string(), "not a MetaImage header (no ElementDataFile or ElementType)");
  d.voxels *= channels;
  return d;
}

// NRRD: a magic line, "field: value" lines, a blank line, then the data (or a data file).
DataLayout parse_nrrd(const fs::path& path, std::istream& in) {
  DataLayout d;
  std::string line;
  if (!std::getline(in, line) || line.rfind("NRRD000", 0) != 0)
    throw InputError(path.string(), "not a NRRD file (missing NRRD000x magic)");
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;
    if (line[0] == '#') continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = lower(trim(line.substr(0, colon)));
    std::string value = trim(line.substr(colon + 1));
    if (!value.empty() && value[0] == '=') continue;  // key:=value pairs are metadata
    if (key == "sizes") d.voxels = product_of(value);
    if (key == "type") d.bytes_per_voxel = nrrd_type_bytes(value);
    if (key == "encoding") {
      const std::string e = lower(value);
      d.encoding = (e == "raw")                 ? Encoding::kRaw
                   : (e == "gzip" || e == "gz") ? Encoding::kGzip
                                                : Encoding::kOther;
    }
    if (key == "data file" || key == "datafile") {
      if (value.rfind("LIST", 0) == 0 || value.find(' ') != std::string::npos)
        d.encoding = Encoding::kOther;
      else
        d.data_file = path.parent_path() / value;
    }
  }
  if (d.bytes_per_voxel == 0) throw InputError(path.string(), "NRRD header names no known type");
  if (d.data_file.empty()) {
    d.data_file = path;
    d.offset = static_cast<int64_t>(in.tellg());
  }
  return d;
}

// Inflates the stream from `offset` on and returns how many bytes it decodes to; throws when
// the stream is corrupt or ends before its end marker.
int64_t inflated_size(const fs::path& file, int64_t offset, int window_bits) {
  std::ifstream in(file, std::ios::binary);
  in.seekg(offset);
  z_stream z{};
  if (inflateInit2(&z, window_bits) != Z_OK) throw std::runtime_error("zlib init failed");
  std::vector<unsigned char> src(kChunk), dst(kChunk);
  int64_t total = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (z.avail_in == 0) {
      in.read(reinterpret_cast<char*>(src.data()), static_cast<std::streamsize>(src.size()));
      z.avail_in = static_cast<uInt>(in.gcount());
      z.next_in = src.data();
      if (z.avail_in == 0) break;  // input ended before the stream did
    }
    z.next_out = dst.data();
    z.avail_out = static_cast<uInt>(dst.size());
    rc = inflate(&z, Z_NO_FLUSH);
    total += static_cast<int64_t>(dst.size() - z.avail_out);
    if (rc == Z_NEED_DICT || rc == Z_DATA_ERROR || rc == Z_MEM_ERROR) {
      const std::string msg = z.msg ? z.msg : "invalid data";
      inflateEnd(&z);
      throw InputError(file.string(), "corrupt compressed data (" + msg + ")");
    }
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END)
    throw InputError(file.string(), "truncated: the compressed data ends early");
  return total;
}

}  // namespace

void check_raw_data_length(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string(), "cannot open");
  const std::string ext = lower(path.extension().string());
  const DataLayout d =
      (ext == ".mha" || ext == ".mhd") ? parse_metaimage(path, in) : parse_nrrd(path, in);
  if (d.encoding == Encoding::kOther) return;
  const int64_t required = d.voxels * d.bytes_per_voxel;
  std::error_code ec;
  if (!fs::exists(d.data_file, ec))
    throw InputError(path.string(), "its data file " + d.data_file.string() + " does not exist");
  int64_t available = 0;
  if (d.encoding == Encoding::kRaw) {
    available = static_cast<int64_t>(fs::file_size(d.data_file)) - d.offset;
  } else {
    available = inflated_size(d.data_file, d.offset,
                              d.encoding == Encoding::kGzip ? kGzipWindowBits : kZlibWindowBits);
  }
  if (available < required) {
    throw InputError(path.string(), "truncated: the header describes " + std::to_string(required) +
                                        " bytes of voxels, the file holds " +
                                        std::to_string(std::max<int64_t>(available, 0)));
  }
}

}  // namespace aslseg::io
