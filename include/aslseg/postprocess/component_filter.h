// A learned filter of predicted tumour components (post-processing tuned on the labelled set
// only, issue 11): each 3D tumour component of a segmentation net's prediction is described
// by a few numbers (size, the net's probability inside it, how many ensemble members find it,
// its contrast to the surrounding liver, its extent across slices), a logistic regression
// fitted on the components the same net predicts on the expert-labelled volumes (a component
// is true when it touches expert tumour) scores it, and components scored below the threshold
// become liver. Why: on the 80-phantom set 45 % of the voxels of round 1's pseudo-label tumour
// lay in components that touch no tumour, and teaching them made round 2 worse
// (docs/loop_results.md); the false components on the labelled volumes look like those on the
// unlabelled ones, so they can be learned there. Torch-free.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aslseg/io/volume.h"
#include "aslseg/preprocess/connected_components.h"

namespace aslseg::postprocess {

// What describes one predicted tumour component.
struct ComponentFeatures {
  int64_t voxels = 0;
  double mean_probability = 0.0;  // of tumour, inside the component
  double max_probability = 0.0;
  // Ensemble members: the smallest, over members, share of the component's voxels that the
  // member labels tumour (1 for a single net).
  double member_agreement = 1.0;
  // |mean HU inside - mean HU of the predicted liver (and tumour) within 2 voxels around it|;
  // 0 when nothing of the organ surrounds it.
  double contrast_hu = 0.0;
  int64_t slices = 0;  // axial slices the component spans
};

constexpr int kComponentFeatureCount = 6;
// log(voxels), mean_probability, max_probability, member_agreement, contrast_hu, slices.
std::array<double, kComponentFeatureCount> feature_vector(const ComponentFeatures& f);

struct TumourComponents {
  preprocess::Components components;        // 26-connected components of labels == 2
  std::vector<ComponentFeatures> features;  // features[k - 1] describes component k
};

// The tumour components of a prediction. `labels` is the (post-processed) prediction,
// `tumour_probability` the net's P(tumour) and `hu` the image, both on its grid; `members`
// each ensemble member's own label map (empty: a single net). std::invalid_argument when the
// grids differ.
TumourComponents tumour_components(const LabelMap& labels, const Image& tumour_probability,
                                   const Image& hu, const std::vector<LabelMap>& members);

// Per component of `c`: does it hold a voxel that `truth` labels tumour?
std::vector<bool> touches_tumour(const preprocess::Components& c, const LabelMap& truth);

struct ComponentFilterParams {
  double threshold = 0.3;  // P(true) below which a component is removed (loop_params.h: why)
  double l2 = 0.01;        // ridge penalty on the standardised weights
  int64_t iterations = 3000;
  double learning_rate = 0.5;
  int64_t min_examples = 5;  // of each class (true, false) needed to fit
};

// One component from the labelled volumes: its features and whether it touches expert tumour.
struct ComponentExample {
  ComponentFeatures features;
  bool is_tumour = false;
};

class ComponentFilter {
 public:
  // A filter that keeps everything (what `fit` gives when it cannot learn).
  ComponentFilter() = default;

  // Logistic regression on standardised features, each example weighted by sqrt(voxels) so
  // large components count more without drowning the many one-voxel specks; deterministic
  // gradient descent. Fewer than min_examples of either class: a disabled filter whose
  // reason() says why.
  static ComponentFilter fit(const std::vector<ComponentExample>& examples,
                             const ComponentFilterParams& params);

  bool enabled() const { return enabled_; }
  const std::string& reason() const { return reason_; }
  double threshold() const { return threshold_; }
  // P(the component is tumour); 1 for a disabled filter.
  double probability(const ComponentFeatures& f) const;

  // Components scored below the threshold become liver in `labels` and lose their tumour in
  // every member map (so members' agreement is measured on what is kept). Returns the number
  // of components removed.
  int64_t apply(const TumourComponents& t, LabelMap& labels,
                std::vector<LabelMap>* members = nullptr) const;

  nlohmann::json to_json() const;
  // std::invalid_argument naming the key on a malformed object.
  static ComponentFilter from_json(const nlohmann::json& j);

 private:
  bool enabled_ = false;
  std::string reason_ = "not fitted";
  double threshold_ = 0.5;
  std::array<double, kComponentFeatureCount> mean_{};
  std::array<double, kComponentFeatureCount> scale_{};
  std::array<double, kComponentFeatureCount + 1> weights_{};  // last: bias
};

// tumour_components, then ComponentFilter::apply: the filtered prediction in place. Returns the
// number of components removed (0 for a disabled filter, which computes nothing).
int64_t filter_tumour_components(const ComponentFilter& filter, const Image& hu,
                                 const Image& tumour_probability, LabelMap& labels,
                                 std::vector<LabelMap>* members = nullptr);

}  // namespace aslseg::postprocess
