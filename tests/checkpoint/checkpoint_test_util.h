// Helpers for the checkpoint-format tests: file bytes, hand-built torch.save archives, and an
// assertion that a call throws InputError naming the file and the problem.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "aslseg/checkpoint/pickler.h"
#include "aslseg/checkpoint/zip_writer.h"
#include "aslseg/io/error.h"

namespace aslseg::testing {

// Not read_bytes: io_test_util.h has one returning vector<char>, and the return type is not
// part of a function's linker name (two definitions would silently become one).
inline std::string read_file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_file_bytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Runs f and checks it throws InputError whose message names `file` and contains `fragment`.
template <class F>
void expect_input_error(F&& f, const std::filesystem::path& file, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "no InputError; expected one mentioning '" << fragment << "'";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(file.string()), std::string::npos) << what;
    EXPECT_NE(what.find(fragment), std::string::npos) << "'" << fragment << "' not in: " << what;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-InputError: " << e.what();
  }
}

// Emits `_rebuild_tensor_v2((storage <key> of <numel> <type>), offset, sizes, strides, ...)`.
inline void pickle_tensor(checkpoint::Pickler& p, const std::string& storage_type,
                          const std::string& key, int64_t numel, int64_t offset,
                          const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides) {
  p.global("torch._utils", "_rebuild_tensor_v2");
  p.mark();
  p.mark();
  p.string("storage");
  p.global("torch", storage_type);
  p.string(key);
  p.string("cpu");
  p.integer(numel);
  p.tuple();
  p.binpersid();
  p.integer(offset);
  p.mark();
  for (int64_t s : sizes) p.integer(s);
  p.tuple();
  p.mark();
  for (int64_t s : strides) p.integer(s);
  p.tuple();
  p.boolean(false);
  p.global("collections", "OrderedDict");
  p.empty_tuple();
  p.reduce();
  p.tuple();
  p.reduce();
}

// A torch.save-like archive "<root>/data.pkl" + the given "<root>/<name>" records.
inline void write_archive(const std::filesystem::path& path, const std::string& pickle,
                          const std::vector<std::pair<std::string, std::string>>& records,
                          const std::string& root = "archive") {
  checkpoint::ZipWriter zip(path);
  zip.add(root + "/data.pkl", pickle);
  for (const auto& [name, bytes] : records) zip.add(root + "/" + name, bytes);
  zip.add(root + "/version", "3\n");
  zip.finish();
}

inline std::string float_bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

}  // namespace aslseg::testing
