#include "aslseg/dataset/split.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "aslseg/io/error.h"
#include "aslseg/synth/rng.h"

namespace aslseg::dataset {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSplitFormat = "aslseg-split/1";

const Case& find_case(const Dataset& ds, const std::string& id) {
  for (const auto& c : ds.cases)
    if (c.id == id) return c;
  throw InputError(ds.root.string(), "case '" + id + "' of the split is not in this dataset");
}

LabelledCase labelled_case(const Dataset& ds, const std::string& id) {
  const Case& c = find_case(ds, id);
  if (!c.label) throw InputError(c.image.string(), "case '" + id + "' has no label file");
  return {c.id, c.image, *c.label};
}

// Fisher-Yates with our own PRNG: std::shuffle's output differs between standard libraries.
void shuffle(std::vector<std::string>& v, uint64_t seed) {
  synth::Rng rng(seed);
  for (size_t i = v.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(rng.uniform_int(0, static_cast<int>(i - 1)));
    std::swap(v[i - 1], v[j]);
  }
}

size_t rounded(double fraction, size_t n) {
  return static_cast<size_t>(std::lround(fraction * static_cast<double>(n)));
}

}  // namespace

Split make_split(const Dataset& dataset, const SplitParams& params) {
  for (double f : {params.labelled_fraction, params.test_fraction}) {
    if (!(f >= 0.0 && f < 1.0))
      throw InputError("", "fractions must lie in [0, 1); got " + std::to_string(f));
  }
  std::vector<std::string> with_label, without_label;
  for (const auto& c : dataset.cases) (c.label ? with_label : without_label).push_back(c.id);
  shuffle(with_label, params.seed);

  Split split;
  split.data_root = dataset.root;
  split.layout = dataset.layout;
  split.params = params;
  const size_t n_test = rounded(params.test_fraction, with_label.size());
  split.test.assign(with_label.begin(), with_label.begin() + static_cast<long>(n_test));
  const size_t remaining = dataset.cases.size() - n_test;
  const size_t available = with_label.size() - n_test;
  const size_t n_labelled =
      std::min(available, std::max<size_t>(1, rounded(params.labelled_fraction, remaining)));
  if (n_labelled == 0)
    throw InputError(dataset.root.string(), "no labelled case is left after the test split (" +
                                                std::to_string(with_label.size()) + " labelled, " +
                                                std::to_string(n_test) + " for test)");
  const auto lab_begin = with_label.begin() + static_cast<long>(n_test);
  split.labelled.assign(lab_begin, lab_begin + static_cast<long>(n_labelled));
  split.unlabelled.assign(lab_begin + static_cast<long>(n_labelled), with_label.end());
  split.unlabelled.insert(split.unlabelled.end(), without_label.begin(), without_label.end());
  for (auto* v : {&split.labelled, &split.unlabelled, &split.test}) std::sort(v->begin(), v->end());
  return split;
}

TrainingSet Split::training_set(const Dataset& dataset) const {
  TrainingSet t;
  for (const auto& id : labelled) t.labelled.push_back(labelled_case(dataset, id));
  for (const auto& id : unlabelled) {
    const Case& c = find_case(dataset, id);
    t.unlabelled.push_back({c.id, c.image});  // the label path is dropped here, on purpose
  }
  return t;
}

EvaluationSet Split::evaluation_set(const Dataset& dataset) const {
  EvaluationSet e;
  for (const auto& id : test) e.test.push_back(labelled_case(dataset, id));
  for (const auto& id : unlabelled) {
    const Case& c = find_case(dataset, id);
    if (c.label) e.unlabelled_truth.push_back({c.id, c.image, *c.label});
  }
  return e;
}

std::string split_to_json(const Split& s) {
  nlohmann::json j;
  j["format"] = kSplitFormat;
  j["data"] = s.data_root.string();
  j["layout"] = layout_name(s.layout);
  j["seed"] = s.params.seed;
  j["labelled_fraction"] = s.params.labelled_fraction;
  j["test_fraction"] = s.params.test_fraction;
  j["labelled"] = s.labelled;
  j["unlabelled"] = s.unlabelled;
  j["test"] = s.test;
  return j.dump(2) + "\n";
}

Split load_split(const fs::path& path, const Dataset& dataset) {
  std::ifstream in(path);
  if (!in) throw InputError(path.string(), "cannot open");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path.string(), std::string("not valid JSON: ") + e.what());
  }
  if (j.value("format", "") != kSplitFormat)
    throw InputError(path.string(),
                     std::string("not a split file (format is not ") + kSplitFormat + ")");
  Split s;
  s.data_root = dataset.root;
  s.layout = dataset.layout;
  try {
    s.params.seed = j.at("seed").get<uint64_t>();
    s.params.labelled_fraction = j.at("labelled_fraction").get<double>();
    s.params.test_fraction = j.at("test_fraction").get<double>();
    s.labelled = j.at("labelled").get<std::vector<std::string>>();
    s.unlabelled = j.at("unlabelled").get<std::vector<std::string>>();
    s.test = j.at("test").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path.string(), std::string("missing or malformed field: ") + e.what());
  }
  std::set<std::string> seen;
  for (const auto* v : {&s.labelled, &s.unlabelled, &s.test}) {
    for (const auto& id : *v) {
      if (!seen.insert(id).second)
        throw InputError(path.string(), "case '" + id + "' is in two sets");
      try {
        find_case(dataset, id);
      } catch (const InputError&) {
        throw InputError(path.string(), "case '" + id + "' is not in " + dataset.root.string());
      }
    }
  }
  for (const auto& id : s.labelled) {
    if (!find_case(dataset, id).label)
      throw InputError(path.string(), "labelled case '" + id + "' has no label file");
  }
  return s;
}

}  // namespace aslseg::dataset
