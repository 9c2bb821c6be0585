#include "aslseg/dataset/case_id.h"

#include <cctype>

#include "aslseg/io/volume_io.h"

namespace aslseg::dataset {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.size() > prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// nnU-Net raw names images X_0000 (a 4-digit channel index after the case name).
bool has_channel_suffix(const std::string& s) {
  constexpr size_t kSuffix = 5;  // "_0000"
  if (s.size() <= kSuffix || s[s.size() - kSuffix] != '_') return false;
  for (size_t i = s.size() - 4; i < s.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

}  // namespace

std::string case_id(const std::filesystem::path& file) {
  std::string stem = io::volume_stem(file);
  for (const char* prefix : {"volume-", "segmentation-"}) {
    if (starts_with(stem, prefix)) return stem.substr(std::char_traits<char>::length(prefix));
  }
  if (has_channel_suffix(stem)) stem.resize(stem.size() - 5);
  return stem;
}

}  // namespace aslseg::dataset
