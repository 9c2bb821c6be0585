// Which cases are labelled (D_l), unlabelled (D_u) and held out for testing, written to and
// read from split.json. The labels of unlabelled cases exist on disk (a synthetic or public
// dataset is fully labelled) but training must never see them: TrainingSet has no field that
// could hold them, and only EvaluationSet, which training code is never given, carries them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "aslseg/dataset/dataset.h"

namespace aslseg::dataset {

struct LabelledCase {
  std::string id;
  std::filesystem::path image;
  std::filesystem::path label;
  // Set for a pseudo-label whose liver (label 1) may hide tumour it missed: training reads
  // those voxels as "liver or tumour" instead of tumour-free (docs/loop.md).
  bool liver_unsupervised = false;
};

// Deliberately no label: an unlabelled case is an image and nothing else.
struct UnlabelledCase {
  std::string id;
  std::filesystem::path image;
};

// Everything a training stage may read.
struct TrainingSet {
  std::vector<LabelledCase> labelled;
  std::vector<UnlabelledCase> unlabelled;
};

// Ground truth for measuring: the test split, and the hidden labels of unlabelled cases
// (to score pseudo-labels in experiments). Never passed to training code.
struct EvaluationSet {
  std::vector<LabelledCase> test;
  std::vector<LabelledCase> unlabelled_truth;
};

struct SplitParams {
  double labelled_fraction = 0.1;  // of the cases left after the test split
  double test_fraction = 0.2;      // of the cases that have labels
  uint64_t seed = 0;
};

struct Split {
  std::filesystem::path data_root;
  Layout layout = Layout::kLits;
  SplitParams params;
  std::vector<std::string> labelled, unlabelled, test;  // case ids

  // The views; paths are resolved against `dataset`, which must hold every case named here.
  TrainingSet training_set(const Dataset& dataset) const;
  EvaluationSet evaluation_set(const Dataset& dataset) const;
};

// Deterministic for a given dataset and params. Test cases are drawn first from the labelled
// cases (round(test_fraction x labelled)); of the labelled cases left, round(labelled_fraction x
// all cases left) (at least 1) stay labelled, the rest become unlabelled, and cases that have
// no label at all are always unlabelled. Throws InputError when fractions are outside [0, 1)
// or fewer than one labelled case would remain.
Split make_split(const Dataset& dataset, const SplitParams& params);

std::string split_to_json(const Split& split);
// Reads split.json; errors name the file and the problem (unknown case, a case in two sets).
Split load_split(const std::filesystem::path& path, const Dataset& dataset);

}  // namespace aslseg::dataset
