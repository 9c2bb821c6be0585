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

// Natural order of case ids: runs of digits compare as numbers ("2" < "10" < "liver_2" <
// "liver_10"), everything else character by character.
bool case_id_less(const std::string& a, const std::string& b);

}  // namespace aslseg::dataset
