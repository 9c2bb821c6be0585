// The three dataset layouts `aslseg export` writes, and how a case is named in each: the
// layouts `aslseg dataset` reads back (LiTS, nnU-Net v2 raw, images/ + labels/).
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace aslseg::exporting {

enum class ExportFormat { kLits, kNnUnet, kPlain };

// "lits" | "nnunet" | "plain"; InputError (no path) otherwise.
ExportFormat parse_export_format(const std::string& text);
const char* export_format_name(ExportFormat format);

// Paths of one case's files, relative to the export folder.
struct OutputNames {
  std::filesystem::path image;
  std::filesystem::path label;
};

//   lits:   volume-<N>.nii.gz, segmentation-<N>.nii.gz   (N = the case's LiTS number)
//   nnunet: imagesTr/<id>_0000.nii.gz, labelsTr/<id>.nii.gz
//   plain:  images/<id>.nii.gz, labels/<id>.nii.gz
// `output_id` is the case id, or for lits its number (lits_numbers).
OutputNames output_names(ExportFormat format, const std::string& output_id);

// LiTS numbers for case ids: an id made of digits keeps itself ("7" -> "7", "007" -> "007");
// the others get the integers after the largest numeric id, in natural id order, so that every
// file is volume-<digits> as LiTS readers expect. Returns id -> number for every id.
std::map<std::string, std::string> lits_numbers(const std::vector<std::string>& case_ids);

// nnU-Net v2's dataset.json for a CT dataset with LiTS labels.
std::string nnunet_dataset_json(size_t num_training);

}  // namespace aslseg::exporting
