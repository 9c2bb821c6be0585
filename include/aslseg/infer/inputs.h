// What `aslseg infer` works on: the checkpoint behind --model, the cases behind --input
// (a volume file, a folder of volumes, a dataset root, a DICOM series folder) and the
// --shard selection. No LibTorch here, so these rules are cheap to test (docs/infer.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace aslseg::infer {

// One case of a batch: what io::read_image reads (a file or a DICOM folder) and the stem of
// its outputs (OUTPUT/<stem>.nii.gz).
struct InputCase {
  std::filesystem::path path;
  std::string stem;
};

// Slices per forward pass when --batch-size is 0 (the default): as many as fit a budget of
// kAutoBatchPixels model-resolution pixels, between 1 and kMaxAutoBatch. Larger batches were
// no faster on 2 cores and cost memory: a 512x512x100 volume through a 256² model took
// 16.8-18.8 s at batch 8 and at batch 2, with peak RSS 1.1-1.2 GiB against 0.66 GiB
// (docs/infer.md).
inline constexpr int64_t kAutoBatchPixels = 2 * 256 * 256;
inline constexpr int64_t kMaxAutoBatch = 16;
int64_t auto_batch_size(int64_t model_image_size);

// Run-folder lookup of --model: a file is the checkpoint itself; a folder gives the
// segmentation net of the last finished round of a loop run (RUN/round_K/ss/checkpoint.pt),
// else RUN/ss/checkpoint.pt (a run of the segmentation net alone), else RUN/checkpoint.pt.
// InputError otherwise.
std::filesystem::path resolve_checkpoint(const std::filesystem::path& model);
// The same, with every member when that round's SS is an ensemble (loop.ss_members > 1:
// RUN/round_K/ss/checkpoint.pt, then RUN/round_K/ss_member_J/checkpoint.pt): infer averages
// them as the loop did.
std::vector<std::filesystem::path> resolve_checkpoints(const std::filesystem::path& model);
// The component filter that goes with a loop run's last finished round
// (RUN/round_K/component_filter.json), when `model` is such a run folder and the round has one.
std::optional<std::filesystem::path> resolve_component_filter(const std::filesystem::path& model);

// The cases behind --input, sorted by dataset::case_id_less of their stems:
//  - a volume file: that file;
//  - a folder holding imagesTr/, imagesTs/ (nnU-Net raw root) or images/ (images + labels):
//    the volume files inside those sub-folders;
//  - any other folder: its volume files (hidden files and LiTS segmentation-* masks skipped)
//    and each sub-folder holding .dcm files (one DICOM series each); a folder whose only
//    volume files are .dcm slices is itself one case (stem: the folder's name).
// InputError when nothing is found or two cases share a stem (they would share an output).
std::vector<InputCase> discover_inputs(const std::filesystem::path& input);

// --shard "i/n": this job takes the cases whose 0-based index % n == i.
struct Shard {
  int64_t index = 0;
  int64_t count = 1;
};
Shard parse_shard(const std::string& text);  // InputError unless 0 <= i < n, n >= 1
std::vector<InputCase> select_shard(const std::vector<InputCase>& cases, const Shard& shard);

}  // namespace aslseg::infer
