// Finding the cases of a dataset folder, whatever its layout: LiTS (volume-N / segmentation-N),
// nnU-Net raw (imagesTr/X_0000 + labelsTr/X, imagesTs/X_0000) or images/ + labels/ with equal
// names. A case is an image and, when the folder has one, its expert label.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace aslseg::dataset {

enum class Layout { kLits, kNnUnet, kImagesLabels };

const char* layout_name(Layout layout);

struct Case {
  std::string id;
  std::filesystem::path image;
  std::optional<std::filesystem::path> label;
};

struct Dataset {
  std::filesystem::path root;
  Layout layout = Layout::kLits;
  std::vector<Case> cases;  // sorted by id (numerically where ids are numbers)

  size_t num_labelled() const;
};

// Recognises the layout of `root` and lists its cases. Throws InputError naming the folder
// when it is missing, matches no layout, holds two images with one case id, or (nnU-Net)
// holds multi-channel cases. A label without an image is an error too: it usually means a
// misnamed file.
Dataset discover(const std::filesystem::path& root);

}  // namespace aslseg::dataset
