#include "aslseg/sam/labelled_slice.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "aslseg/io/volume_io.h"
#include "aslseg/preprocess/slicing.h"

namespace aslseg::sam {

namespace {

// `keep` indices evenly spaced over [0, n), first and last included.
std::vector<size_t> evenly_spaced(size_t n, size_t keep) {
  std::vector<size_t> out;
  if (keep == 0 || keep >= n) {
    for (size_t i = 0; i < n; ++i) out.push_back(i);
    return out;
  }
  if (keep == 1) return {n / 2};
  for (size_t i = 0; i < keep; ++i)
    out.push_back((i * (n - 1) + (keep - 1) / 2) / (keep - 1));  // rounded i * (n-1)/(keep-1)
  return out;
}

}  // namespace

std::vector<LabelledSlice> labelled_slices(const Image& image, const LabelMap& labels,
                                           const std::string& id, const SliceSelection& s) {
  const std::string diff = labels.geometry.difference(image.geometry);
  if (!diff.empty())
    throw std::invalid_argument("labelled_slices(" + id + "): label grid differs: " + diff);
  if (s.min_pixels < 1) throw std::invalid_argument("labelled_slices: min_pixels must be >= 1");
  if (s.max_slices_per_case < 0)
    throw std::invalid_argument("labelled_slices: max_slices_per_case must be >= 0");
  preprocess::validate(s.window);
  const int64_t width = image.geometry.size[0];
  const int64_t height = image.geometry.size[1];
  const size_t n = static_cast<size_t>(width * height);
  const std::vector<int64_t> zs = preprocess::slices_containing(labels, s.label, s.min_pixels);
  std::vector<LabelledSlice> out;
  for (size_t k : evenly_spaced(zs.size(), static_cast<size_t>(s.max_slices_per_case))) {
    const int64_t z = zs[k];
    LabelledSlice ls;
    ls.source = id + " z=" + std::to_string(z);
    ls.windowed = windowed_slice(image, z, s.window);
    ls.mask = torch::empty({height, width}, torch::kUInt8);
    uint8_t* m = ls.mask.data_ptr<uint8_t>();
    const uint8_t* l = labels.slice(z);
    for (size_t i = 0; i < n; ++i) m[i] = l[i] == s.label ? 1 : 0;
    out.push_back(std::move(ls));
  }
  return out;
}

torch::Tensor windowed_slice(const Image& image, int64_t z, const preprocess::WindowParams& w) {
  const int64_t width = image.geometry.size[0];
  const int64_t height = image.geometry.size[1];
  torch::Tensor out = torch::empty({height, width}, torch::kFloat);
  preprocess::apply_window(image.slice(z), nullptr, out.data_ptr<float>(),
                           static_cast<size_t>(width * height), w);
  return out;
}

std::vector<LabelledSlice> load_labelled_slices(const std::vector<dataset::LabelledCase>& cases,
                                                const SliceSelection& s) {
  std::vector<LabelledSlice> out;
  for (const dataset::LabelledCase& c : cases) {
    const Image image = io::read_image(c.image);
    const LabelMap labels = io::read_labels_matching(c.label, image.geometry);
    std::vector<LabelledSlice> slices = labelled_slices(image, labels, c.id, s);
    spdlog::info("{}: {} slice(s) with >= {} pixels of label {}", c.id, slices.size(), s.min_pixels,
                 static_cast<int>(s.label));
    for (auto& ls : slices) out.push_back(std::move(ls));
  }
  return out;
}

}  // namespace aslseg::sam
