#include "aslseg/dataset/dataset.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "aslseg/dataset/case_id.h"
#include "aslseg/io/error.h"
#include "aslseg/io/volume_io.h"

namespace aslseg::dataset {

namespace fs = std::filesystem;

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// Volume files (and DICOM series folders are not used here: datasets hold files) in `dir`.
std::vector<fs::path> volume_files(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.') continue;  // hidden and our own temporaries
    if (e.is_regular_file() && io::is_volume_path(e.path())) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void add_image(std::map<std::string, Case>& cases, const std::string& id, const fs::path& image) {
  auto [it, inserted] = cases.try_emplace(id, Case{id, image, std::nullopt});
  if (!inserted)
    throw InputError(image.string(), "two images for case '" + id + "' (the other is " +
                                         it->second.image.string() + ")");
}

void add_label(std::map<std::string, Case>& cases, const std::string& id, const fs::path& label) {
  const auto it = cases.find(id);
  if (it == cases.end())
    throw InputError(label.string(), "label has no image for case '" + id + "'");
  if (it->second.label)
    throw InputError(label.string(), "second label for case '" + id + "' (the other is " +
                                         it->second.label->string() + ")");
  it->second.label = label;
}

// LiTS: volume-N and segmentation-N, in the root or one level below (the challenge ships
// "Training Batch 1" and "Training Batch 2" folders).
bool collect_lits(const fs::path& root, std::map<std::string, Case>& cases) {
  std::vector<fs::path> dirs{root};
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory()) dirs.push_back(e.path());
  std::vector<fs::path> images, labels;
  for (const auto& d : dirs) {
    for (const auto& f : volume_files(d)) {
      const std::string stem = io::volume_stem(f);
      if (starts_with(stem, "volume-")) images.push_back(f);
      if (starts_with(stem, "segmentation-")) labels.push_back(f);
    }
  }
  if (images.empty()) return false;
  for (const auto& f : images) add_image(cases, case_id(f), f);
  for (const auto& f : labels) add_label(cases, case_id(f), f);
  return true;
}

bool ends_with_channel_zero(const std::string& stem) {
  return stem.size() > 5 && stem.compare(stem.size() - 5, 5, "_0000") == 0;
}

bool collect_nnunet(const fs::path& root, std::map<std::string, Case>& cases) {
  if (!fs::is_directory(root / "imagesTr")) return false;
  for (const char* folder : {"imagesTr", "imagesTs"}) {
    for (const auto& f : volume_files(root / folder)) {
      const std::string stem = io::volume_stem(f);
      const std::string id = case_id(f);
      if (stem == id)
        throw InputError(f.string(),
                         "nnU-Net images are named CASE_0000; this name has no channel");
      if (!ends_with_channel_zero(stem))
        throw InputError(f.string(), "multi-channel cases are not supported (only _0000 is read)");
      add_image(cases, id, f);
    }
  }
  for (const auto& f : volume_files(root / "labelsTr")) add_label(cases, case_id(f), f);
  return !cases.empty();
}

bool collect_images_labels(const fs::path& root, std::map<std::string, Case>& cases) {
  if (!fs::is_directory(root / "images")) return false;
  for (const auto& f : volume_files(root / "images")) add_image(cases, io::volume_stem(f), f);
  for (const auto& f : volume_files(root / "labels")) add_label(cases, io::volume_stem(f), f);
  return !cases.empty();
}

}  // namespace

const char* layout_name(Layout layout) {
  switch (layout) {
    case Layout::kLits:
      return "lits";
    case Layout::kNnUnet:
      return "nnunet";
    case Layout::kImagesLabels:
      return "images+labels";
  }
  return "?";
}

size_t Dataset::num_labelled() const {
  return static_cast<size_t>(
      std::count_if(cases.begin(), cases.end(), [](const Case& c) { return c.label.has_value(); }));
}

Dataset discover(const fs::path& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw InputError(root.string(), "no such folder");
  Dataset ds;
  ds.root = root;
  std::map<std::string, Case> cases;
  if (collect_nnunet(root, cases)) {
    ds.layout = Layout::kNnUnet;
  } else if (collect_images_labels(root, cases)) {
    ds.layout = Layout::kImagesLabels;
  } else if (collect_lits(root, cases)) {
    ds.layout = Layout::kLits;
  } else {
    throw InputError(root.string(),
                     "no dataset found: expected LiTS files (volume-N.nii, segmentation-N.nii), "
                     "nnU-Net raw folders (imagesTr/, labelsTr/) or images/ + labels/");
  }
  for (auto& [id, c] : cases) ds.cases.push_back(std::move(c));
  std::sort(ds.cases.begin(), ds.cases.end(),
            [](const Case& a, const Case& b) { return case_id_less(a.id, b.id); });
  return ds;
}

}  // namespace aslseg::dataset
