#include "aslseg/export/export_format.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

#include "aslseg/dataset/case_id.h"
#include "aslseg/io/error.h"

namespace aslseg::exporting {

namespace {

constexpr const char* kExt = ".nii.gz";
constexpr const char* kNnUnetChannel = "_0000";  // the one CT channel
constexpr int kJsonIndent = 2;
// Numeric ids longer than this are kept as they are but not used to place the new numbers
// (they would overflow); LiTS ids are a few digits.
constexpr size_t kMaxNumericDigits = 18;

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
}

}  // namespace

ExportFormat parse_export_format(const std::string& text) {
  if (text == "lits") return ExportFormat::kLits;
  if (text == "nnunet") return ExportFormat::kNnUnet;
  if (text == "plain") return ExportFormat::kPlain;
  throw InputError("", "unknown export format '" + text + "' (lits, nnunet, plain)");
}

const char* export_format_name(ExportFormat format) {
  switch (format) {
    case ExportFormat::kLits:
      return "lits";
    case ExportFormat::kNnUnet:
      return "nnunet";
    case ExportFormat::kPlain:
      return "plain";
  }
  return "?";
}

OutputNames output_names(ExportFormat format, const std::string& id) {
  switch (format) {
    case ExportFormat::kLits:
      return {"volume-" + id + kExt, "segmentation-" + id + kExt};
    case ExportFormat::kNnUnet:
      return {std::filesystem::path("imagesTr") / (id + kNnUnetChannel + kExt),
              std::filesystem::path("labelsTr") / (id + kExt)};
    case ExportFormat::kPlain:
      return {std::filesystem::path("images") / (id + kExt),
              std::filesystem::path("labels") / (id + kExt)};
  }
  return {};
}

std::map<std::string, std::string> lits_numbers(const std::vector<std::string>& case_ids) {
  std::map<std::string, std::string> out;
  unsigned long long next = 0;
  std::vector<std::string> others;
  for (const std::string& id : case_ids) {
    if (all_digits(id)) {
      out[id] = id;
      if (id.size() <= kMaxNumericDigits) next = std::max(next, std::stoull(id) + 1);
    } else {
      others.push_back(id);
    }
  }
  std::sort(others.begin(), others.end(), dataset::case_id_less);
  others.erase(std::unique(others.begin(), others.end()), others.end());
  for (const std::string& id : others) out[id] = std::to_string(next++);
  return out;
}

std::string nnunet_dataset_json(size_t num_training) {
  // nnU-Net v2 (documentation/dataset_format.md): channel_names, labels (consecutive, with
  // background 0), numTraining and file_ending are required; name and description are free.
  const nlohmann::ordered_json j = {
      {"channel_names", {{"0", "CT"}}},
      {"labels", {{"background", 0}, {"liver", 1}, {"tumour", 2}}},
      {"numTraining", num_training},
      {"file_ending", kExt},
      {"name", "aslseg pseudo-labels"},
      {"description", "Volumes selected by ASLseg's loop, labelled with PL3 tumour on PL1 liver"}};
  return j.dump(kJsonIndent) + "\n";
}

}  // namespace aslseg::exporting
