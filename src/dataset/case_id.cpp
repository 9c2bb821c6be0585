#include "aslseg/dataset/case_id.h"

#include <algorithm>
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

bool case_id_less(const std::string& a, const std::string& b) {
  auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      size_t ie = i, je = j;
      while (ie < a.size() && digit(a[ie])) ++ie;
      while (je < b.size() && digit(b[je])) ++je;
      std::string na = a.substr(i, ie - i), nb = b.substr(j, je - j);
      na.erase(0, std::min(na.find_first_not_of('0'), na.size()));
      nb.erase(0, std::min(nb.find_first_not_of('0'), nb.size()));
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j || (a.size() - i == b.size() - j && a < b);
}

}  // namespace aslseg::dataset
