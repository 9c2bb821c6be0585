#include "aslseg/infer/inputs.h"

#include <algorithm>
#include <cctype>

#include "aslseg/dataset/case_id.h"
#include "aslseg/io/error.h"
#include "aslseg/io/volume_io.h"
#include "aslseg/loop/run_layout.h"

namespace aslseg::infer {

namespace {

namespace fs = std::filesystem;

constexpr const char* kCheckpointName = loop::kSsCheckpointName;
constexpr const char* kSegmenterRunFolder = loop::kSsFolder;
// Image sub-folders of a dataset root: nnU-Net raw (training, then test images), then the
// images/ + labels/ layout.
const std::vector<std::string> kImageSubfolders{"imagesTr", "imagesTs", "images"};
constexpr const char* kLitsLabelPrefix = "segmentation-";

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool is_hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return name.empty() || name[0] == '.';
}

bool holds_dicom(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_regular_file() && !is_hidden(entry.path()) && io::is_dicom_file(entry.path()))
      return true;
  return false;
}

// The cases of one folder (see discover_inputs).
void list_folder(const fs::path& dir, std::vector<InputCase>& out) {
  bool has_dicom_files = false;
  const size_t first = out.size();
  for (const auto& entry : fs::directory_iterator(dir)) {
    const fs::path& p = entry.path();
    if (is_hidden(p)) continue;
    if (entry.is_directory()) {
      if (holds_dicom(p)) out.push_back({p, p.filename().string()});
      continue;
    }
    if (!entry.is_regular_file()) continue;
    if (io::is_dicom_file(p)) {
      has_dicom_files = true;
      continue;
    }
    if (!io::is_volume_path(p) || starts_with(p.filename().string(), kLitsLabelPrefix)) continue;
    out.push_back({p, io::volume_stem(p)});
  }
  // Loose .dcm slices are one series only when nothing else is there; next to other volumes
  // they are more likely stray files than a case.
  if (has_dicom_files && out.size() == first) {
    const fs::path self = dir.filename().empty() ? dir.parent_path() : dir;
    out.push_back({dir, self.filename().string()});
  }
}

}  // namespace

std::vector<fs::path> resolve_checkpoints(const fs::path& model) {
  std::error_code ec;
  if (!fs::exists(model, ec)) throw InputError(model.string(), "no such file or folder");
  if (!fs::is_directory(model, ec)) return {model};
  // A loop run: the segmentation net (or ensemble) of its last finished round.
  const loop::RunLayout run(model);
  const std::vector<int> finished = run.finished_rounds();
  if (!finished.empty()) {
    std::vector<fs::path> members = run.ss_checkpoints(finished.back());
    if (!members.empty()) return members;
  }
  for (const fs::path& candidate :
       {model / kSegmenterRunFolder / kCheckpointName, model / kCheckpointName}) {
    if (fs::is_regular_file(candidate, ec)) return {candidate};
  }
  throw InputError(model.string(), std::string("run folder holds no finished round_K/") +
                                       kSegmenterRunFolder + "/, nor " + kSegmenterRunFolder + "/" +
                                       kCheckpointName + ", nor " + kCheckpointName);
}

fs::path resolve_checkpoint(const fs::path& model) { return resolve_checkpoints(model).front(); }

std::optional<fs::path> resolve_component_filter(const fs::path& model) {
  std::error_code ec;
  if (!fs::is_directory(model, ec)) return std::nullopt;
  const loop::RunLayout run(model);
  const std::vector<int> finished = run.finished_rounds();
  if (finished.empty()) return std::nullopt;
  const fs::path filter = run.round_dir(finished.back()) / loop::kComponentFilterFile;
  if (!fs::is_regular_file(filter, ec)) return std::nullopt;
  return filter;
}

std::vector<InputCase> discover_inputs(const fs::path& input) {
  std::error_code ec;
  if (!fs::exists(input, ec)) throw InputError(input.string(), "no such file or folder");
  std::vector<InputCase> cases;
  if (!fs::is_directory(input, ec)) {
    if (!io::is_volume_path(input))
      throw InputError(input.string(),
                       "not a volume file (.nii, .nii.gz, .mha, .mhd, .nrrd, .nhdr, .dcm)");
    return {{input, io::volume_stem(input)}};
  }
  bool dataset_root = false;
  for (const std::string& sub : kImageSubfolders) {
    if (!fs::is_directory(input / sub, ec)) continue;
    dataset_root = true;
    list_folder(input / sub, cases);
  }
  if (!dataset_root) list_folder(input, cases);
  if (cases.empty())
    throw InputError(input.string(),
                     "holds no volume files (.nii, .nii.gz, .mha, .mhd, .nrrd, "
                     ".nhdr) and no DICOM series");

  std::sort(cases.begin(), cases.end(), [](const InputCase& a, const InputCase& b) {
    if (a.stem != b.stem) return dataset::case_id_less(a.stem, b.stem);
    return a.path < b.path;
  });
  for (size_t i = 1; i < cases.size(); ++i) {
    if (cases[i].stem == cases[i - 1].stem)
      throw InputError(cases[i].path.string(),
                       "has the same name as " + cases[i - 1].path.string() +
                           ": both would be written to " + cases[i].stem + ".nii.gz");
  }
  return cases;
}

Shard parse_shard(const std::string& text) {
  const std::string usage = "--shard expects i/n with 0 <= i < n (e.g. 0/4), got '" + text + "'";
  const size_t slash = text.find('/');
  auto number = [&](const std::string& s) -> int64_t {
    if (s.empty() || s.size() > 9 ||
        !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); }))
      throw InputError("", usage);
    return std::stoll(s);
  };
  if (slash == std::string::npos) throw InputError("", usage);
  Shard shard{number(text.substr(0, slash)), number(text.substr(slash + 1))};
  if (shard.count < 1 || shard.index >= shard.count) throw InputError("", usage);
  return shard;
}

std::vector<InputCase> select_shard(const std::vector<InputCase>& cases, const Shard& shard) {
  std::vector<InputCase> out;
  for (size_t i = 0; i < cases.size(); ++i)
    if (static_cast<int64_t>(i) % shard.count == shard.index) out.push_back(cases[i]);
  return out;
}

int64_t auto_batch_size(int64_t model_image_size) {
  if (model_image_size < 1) return 1;
  const int64_t fit = kAutoBatchPixels / (model_image_size * model_image_size);
  return std::clamp<int64_t>(fit, 1, kMaxAutoBatch);
}

}  // namespace aslseg::infer
