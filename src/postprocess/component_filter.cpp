#include "aslseg/postprocess/component_filter.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "aslseg/config/json_fields.h"

namespace aslseg::postprocess {

namespace {

// The surrounding organ is sampled within this many face steps of a component (a 6-connected
// dilation repeated twice), wide enough to reach past the partial-volume rim of a lesion.
constexpr int kRingSteps = 2;

void check_grid(const Geometry& a, const Geometry& b, const char* what) {
  const std::string diff = a.difference(b);
  if (!diff.empty())
    throw std::invalid_argument(std::string("tumour_components: ") + what +
                                " is on another grid (" + diff + ")");
}

// Offsets (dx, dy, dz) with |dx| + |dy| + |dz| in 1..kRingSteps.
std::vector<std::array<int, 3>> ring_offsets() {
  std::vector<std::array<int, 3>> out;
  for (int dz = -kRingSteps; dz <= kRingSteps; ++dz)
    for (int dy = -kRingSteps; dy <= kRingSteps; ++dy)
      for (int dx = -kRingSteps; dx <= kRingSteps; ++dx) {
        const int d = std::abs(dx) + std::abs(dy) + std::abs(dz);
        if (d >= 1 && d <= kRingSteps) out.push_back({dx, dy, dz});
      }
  return out;
}

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

}  // namespace

std::array<double, kComponentFeatureCount> feature_vector(const ComponentFeatures& f) {
  return {std::log(static_cast<double>(std::max<int64_t>(f.voxels, 1))),
          f.mean_probability,
          f.max_probability,
          f.member_agreement,
          f.contrast_hu,
          static_cast<double>(f.slices)};
}

TumourComponents tumour_components(const LabelMap& labels, const Image& tumour_probability,
                                   const Image& hu, const std::vector<LabelMap>& members) {
  check_grid(labels.geometry, tumour_probability.geometry, "the tumour probability");
  check_grid(labels.geometry, hu.geometry, "the image");
  for (const LabelMap& m : members) check_grid(labels.geometry, m.geometry, "a member's labels");

  TumourComponents out;
  LabelMap tumour(labels.geometry, 0);
  for (size_t i = 0; i < labels.voxels.size(); ++i)
    tumour.voxels[i] = labels.voxels[i] == kTumour ? 1 : 0;
  out.components = preprocess::label_components(tumour);
  const int32_t n = out.components.count();
  out.features.resize(static_cast<size_t>(n));

  // Voxel lists per component, in buffer order.
  std::vector<std::vector<int64_t>> voxels(static_cast<size_t>(n));
  for (int64_t i = 0; i < static_cast<int64_t>(labels.voxels.size()); ++i) {
    const int32_t k = out.components.labels[static_cast<size_t>(i)];
    if (k > 0) voxels[static_cast<size_t>(k - 1)].push_back(i);
  }
  const auto& size = labels.geometry.size;
  const auto offsets = ring_offsets();
  std::vector<int32_t> stamp(labels.voxels.size(), 0);  // ring voxel already counted for k
  for (int32_t k = 1; k <= n; ++k) {
    const auto& list = voxels[static_cast<size_t>(k - 1)];
    ComponentFeatures& f = out.features[static_cast<size_t>(k - 1)];
    f.voxels = static_cast<int64_t>(list.size());
    double p_sum = 0.0, hu_sum = 0.0;
    std::vector<int64_t> member_hits(members.size(), 0);
    int64_t z_lo = std::numeric_limits<int64_t>::max(), z_hi = -1;
    double ring_sum = 0.0;
    int64_t ring_n = 0;
    for (const int64_t i : list) {
      const double p = tumour_probability.voxels[static_cast<size_t>(i)];
      p_sum += p;
      f.max_probability = std::max(f.max_probability, p);
      hu_sum += hu.voxels[static_cast<size_t>(i)];
      for (size_t m = 0; m < members.size(); ++m)
        if (members[m].voxels[static_cast<size_t>(i)] == kTumour) ++member_hits[m];
      const int64_t x = i % size[0], y = (i / size[0]) % size[1], z = i / (size[0] * size[1]);
      z_lo = std::min(z_lo, z);
      z_hi = std::max(z_hi, z);
      for (const auto& o : offsets) {
        const int64_t nx = x + o[0], ny = y + o[1], nz = z + o[2];
        if (nx < 0 || ny < 0 || nz < 0 || nx >= size[0] || ny >= size[1] || nz >= size[2]) continue;
        const size_t j = static_cast<size_t>(labels.index(nx, ny, nz));
        if (out.components.labels[j] == k || stamp[j] == k || labels.voxels[j] == kBackground)
          continue;
        stamp[j] = k;
        ring_sum += hu.voxels[j];
        ++ring_n;
      }
    }
    const double count = static_cast<double>(list.size());
    f.mean_probability = p_sum / count;
    f.member_agreement = 1.0;
    for (const int64_t hits : member_hits)
      f.member_agreement = std::min(f.member_agreement, static_cast<double>(hits) / count);
    f.contrast_hu =
        ring_n > 0 ? std::abs(hu_sum / count - ring_sum / static_cast<double>(ring_n)) : 0.0;
    f.slices = z_hi - z_lo + 1;
  }
  return out;
}

std::vector<bool> touches_tumour(const preprocess::Components& c, const LabelMap& truth) {
  if (c.labels.size() != truth.voxels.size())
    throw std::invalid_argument("touches_tumour: the truth is on another grid");
  std::vector<bool> out(static_cast<size_t>(c.count()), false);
  for (size_t i = 0; i < truth.voxels.size(); ++i)
    if (c.labels[i] > 0 && truth.voxels[i] == kTumour)
      out[static_cast<size_t>(c.labels[i] - 1)] = true;
  return out;
}

ComponentFilter ComponentFilter::fit(const std::vector<ComponentExample>& examples,
                                     const ComponentFilterParams& params) {
  ComponentFilter f;
  f.threshold_ = params.threshold;
  const auto positives = std::count_if(examples.begin(), examples.end(),
                                       [](const ComponentExample& e) { return e.is_tumour; });
  const auto negatives = static_cast<int64_t>(examples.size()) - positives;
  if (positives < params.min_examples || negatives < params.min_examples) {
    f.reason_ = "too few examples on the labelled volumes to learn from (" +
                std::to_string(positives) + " true and " + std::to_string(negatives) +
                " false tumour components; " + std::to_string(params.min_examples) +
                " of each needed)";
    return f;
  }
  constexpr int kF = kComponentFeatureCount;
  const size_t n = examples.size();
  std::vector<std::array<double, kF + 1>> x(n);
  std::vector<double> weight(n), target(n);
  double weight_sum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const auto v = feature_vector(examples[i].features);
    std::copy(v.begin(), v.end(), x[i].begin());
    x[i][kF] = 1.0;
    weight[i] = std::sqrt(static_cast<double>(std::max<int64_t>(examples[i].features.voxels, 1)));
    weight_sum += weight[i];
    target[i] = examples[i].is_tumour ? 1.0 : 0.0;
  }
  // Standardise (unweighted mean and sd, as a plain z-score); a constant feature (one member:
  // agreement always 1) gets scale 1 and so contributes nothing but its bias.
  for (int j = 0; j < kF; ++j) {
    double mean = 0.0, var = 0.0;
    for (const auto& r : x) mean += r[j];
    mean /= static_cast<double>(n);
    for (const auto& r : x) var += (r[j] - mean) * (r[j] - mean);
    const double sd = std::sqrt(var / static_cast<double>(n));
    f.mean_[j] = mean;
    f.scale_[j] = sd > 1e-9 ? sd : 1.0;
    for (auto& r : x) r[j] = (r[j] - mean) / f.scale_[j];
  }
  std::array<double, kF + 1> w{};
  for (int64_t it = 0; it < params.iterations; ++it) {
    std::array<double, kF + 1> grad{};
    for (size_t i = 0; i < n; ++i) {
      double z = 0.0;
      for (int j = 0; j <= kF; ++j) z += w[j] * x[i][j];
      const double r = (sigmoid(z) - target[i]) * weight[i];
      for (int j = 0; j <= kF; ++j) grad[j] += r * x[i][j];
    }
    for (int j = 0; j <= kF; ++j)
      w[j] -= params.learning_rate * (grad[j] / weight_sum + params.l2 * w[j]);
  }
  f.weights_ = w;
  f.enabled_ = true;
  f.reason_.clear();
  return f;
}

double ComponentFilter::probability(const ComponentFeatures& features) const {
  if (!enabled_) return 1.0;
  const auto v = feature_vector(features);
  double z = weights_[kComponentFeatureCount];
  for (int j = 0; j < kComponentFeatureCount; ++j) z += weights_[j] * (v[j] - mean_[j]) / scale_[j];
  return sigmoid(z);
}

int64_t ComponentFilter::apply(const TumourComponents& t, LabelMap& labels,
                               std::vector<LabelMap>* members) const {
  if (!enabled_) return 0;
  if (t.components.labels.size() != labels.voxels.size())
    throw std::invalid_argument("ComponentFilter::apply: components of another grid");
  std::vector<bool> removed(t.features.size(), false);
  int64_t count = 0;
  for (size_t k = 0; k < t.features.size(); ++k)
    if (probability(t.features[k]) < threshold_) {
      removed[k] = true;
      ++count;
    }
  if (count == 0) return 0;
  for (size_t i = 0; i < labels.voxels.size(); ++i) {
    const int32_t k = t.components.labels[i];
    if (k == 0 || !removed[static_cast<size_t>(k - 1)]) continue;
    labels.voxels[i] = kLiver;
    if (members != nullptr)
      for (LabelMap& m : *members)
        if (m.voxels[i] == kTumour) m.voxels[i] = kLiver;
  }
  return count;
}

nlohmann::json ComponentFilter::to_json() const {
  nlohmann::json j{{"enabled", enabled_}, {"threshold", threshold_}};
  if (!enabled_) {
    j["reason"] = reason_;
    return j;
  }
  j["features"] = {"log_voxels",       "mean_probability", "max_probability",
                   "member_agreement", "contrast_hu",      "slices"};
  j["mean"] = mean_;
  j["scale"] = scale_;
  j["weights"] = weights_;
  return j;
}

ComponentFilter ComponentFilter::from_json(const nlohmann::json& j) {
  const std::string where = "component filter";
  config::reject_unknown_keys(
      j, {"enabled", "threshold", "reason", "features", "mean", "scale", "weights", "fit"}, where);
  ComponentFilter f;
  try {
    f.enabled_ = j.at("enabled").get<bool>();
    f.threshold_ = j.at("threshold").get<double>();
    if (!f.enabled_) {
      f.reason_ = j.value("reason", std::string("disabled"));
      return f;
    }
    f.mean_ = j.at("mean").get<std::array<double, kComponentFeatureCount>>();
    f.scale_ = j.at("scale").get<std::array<double, kComponentFeatureCount>>();
    f.weights_ = j.at("weights").get<std::array<double, kComponentFeatureCount + 1>>();
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(where + ": " + e.what());
  }
  for (const double s : f.scale_)
    if (!(s > 0.0)) throw std::invalid_argument(where + ": scale must be > 0");
  f.reason_.clear();
  return f;
}

int64_t filter_tumour_components(const ComponentFilter& filter, const Image& hu,
                                 const Image& tumour_probability, LabelMap& labels,
                                 std::vector<LabelMap>* members) {
  if (!filter.enabled()) return 0;
  const TumourComponents t = tumour_components(
      labels, tumour_probability, hu, members != nullptr ? *members : std::vector<LabelMap>{});
  return filter.apply(t, labels, members);
}

}  // namespace aslseg::postprocess
