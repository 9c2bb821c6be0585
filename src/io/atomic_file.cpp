#include "aslseg/io/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <system_error>

#include "aslseg/io/error.h"

namespace aslseg::io {

namespace fs = std::filesystem;

namespace {

// Splits "case.nii.gz" into ("case", ".nii.gz") so the temporary keeps the full extension.
std::pair<std::string, std::string> split_extension(const std::string& name) {
  static const char* const kDoubleExtensions[] = {".nii.gz", ".tar.gz"};
  for (const char* ext : kDoubleExtensions) {
    const std::string e(ext);
    if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0)
      return {name.substr(0, name.size() - e.size()), e};
  }
  const auto dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0) return {name, ""};
  return {name.substr(0, dot), name.substr(dot)};
}

}  // namespace

fs::path temporary_sibling(const fs::path& final_path) {
  static std::atomic<unsigned> counter{0};
  const auto [stem, ext] = split_extension(final_path.filename().string());
  const std::string name = "." + stem + ".tmp-" + std::to_string(::getpid()) + "-" +
                           std::to_string(counter.fetch_add(1)) + ext;
  return final_path.parent_path() / name;
}

void write_atomically(const fs::path& final_path,
                      const std::function<void(const fs::path&)>& write) {
  if (final_path.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(final_path.parent_path(), ec);
    if (ec)
      throw InputError(final_path.parent_path().string(), "cannot create folder: " + ec.message());
  }
  const fs::path tmp = temporary_sibling(final_path);
  try {
    write(tmp);
    std::error_code ec;
    fs::rename(tmp, final_path, ec);
    if (ec) throw InputError(final_path.string(), "cannot rename temporary file: " + ec.message());
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
}

void write_text_atomically(const fs::path& final_path, const std::string& text) {
  write_atomically(final_path, [&](const fs::path& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) throw InputError(tmp.string(), "cannot open for writing");
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out) throw InputError(tmp.string(), "write failed (disk full?)");
  });
}

}  // namespace aslseg::io
