// Case identifiers shared by every layout, so that a prediction "volume-7.nii.gz" finds its
// ground truth "segmentation-7.nii" (LiTS) and "liver_007_0000.nii.gz" finds
// "liver_007.nii.gz" (nnU-Net raw).
#pragma once

#include <filesystem>
#include <string>

namespace aslseg::dataset {

// The case id of an image or label file name:
//   volume-7.nii / segmentation-7.nii.gz  -> "7"       (LiTS)
//   liver_007_0000.nii.gz                 -> "liver_007" (nnU-Net channel suffix dropped)
//   anything else                         -> the name without its volume extension.
std::string case_id(const std::filesystem::path& file);

}  // namespace aslseg::dataset
