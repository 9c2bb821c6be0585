// nnU-Net's verify_dataset_integrity habit: every image/label pair of a dataset folder checked
// before anything trains on it (issue 13). Header-first: the grids are compared from the
// headers alone; the full check also reads the voxels.
#pragma once

#include <string>
#include <vector>

#include "aslseg/dataset/dataset.h"

namespace aslseg::dataset {

// One problem of one case: the files it concerns and what is wrong, on one line.
struct PairProblem {
  std::string case_id;
  std::string files;  // "image" or "image + label"
  std::string problem;
};

enum class CheckDepth {
  kHeaders,  // each file's header checks; image and label on the same grid (size, spacing,
             // origin, direction within Geometry::kTolerance)
  kVoxels,   // and the voxels: the image readable (NaN/Inf warned about, io::read_image),
             // the label's values 0/1/2
};

// Every labelled case's pair (and with kVoxels every image), in case order.
std::vector<PairProblem> check_pairs(const Dataset& ds, CheckDepth depth);

// "case 7 (volume-7.nii.gz + segmentation-7.nii.gz): size 64x64x20 vs 64x64x21".
std::string describe(const PairProblem& p);

// Logs each problem as one error line; returns how many there were.
size_t log_problems(const std::vector<PairProblem>& problems);

}  // namespace aslseg::dataset
