#include "aslseg/loop/component_filter_fit.h"

#include <spdlog/spdlog.h>

#include "aslseg/cli/progress.h"
#include "aslseg/config/json_fields.h"
#include "aslseg/io/error.h"
#include "aslseg/io/volume_io.h"

namespace aslseg::loop {

ComponentFilterFit fit_component_filter(infer::Predictor& ss,
                                        const std::vector<dataset::LabelledCase>& labelled,
                                        const ComponentFilterLoopParams& params) {
  std::vector<postprocess::ComponentExample> examples;
  int64_t cases = 0;
  cli::Progress progress("component filter: SS on the labelled volumes",
                         static_cast<int64_t>(labelled.size()));
  for (const auto& c : labelled) {
    try {
      const Image hu = io::read_image(c.image);
      const LabelMap truth = io::read_labels_matching(c.label, hu.geometry);
      infer::PredictParams p;
      p.member_labels = ss.ensemble_size() > 1;
      const infer::Prediction pred = ss.predict(hu, p, /*want_tumour_probability=*/true);
      // Only the features and the truth are kept: the component label map is volume-sized.
      const postprocess::TumourComponents t = postprocess::tumour_components(
          pred.labels, *pred.tumour_probability, hu, pred.member_labels);
      const std::vector<bool> is_tumour = postprocess::touches_tumour(t.components, truth);
      for (size_t i = 0; i < is_tumour.size(); ++i)
        examples.push_back({t.features[i], is_tumour[i]});
      ++cases;
    } catch (const InputError& e) {
      spdlog::error("component filter: {}", e.what());
    }
    progress.tick();
  }
  progress.finish();

  postprocess::ComponentFilterParams fp;
  fp.threshold = params.threshold;
  fp.min_examples = params.min_examples;
  ComponentFilterFit out{postprocess::ComponentFilter::fit(examples, fp), {}};
  // Components and voxels by truth, and what the filter keeps of each.
  int64_t n[2] = {0, 0}, voxels[2] = {0, 0}, kept_n[2] = {0, 0}, kept_voxels[2] = {0, 0};
  for (const postprocess::ComponentExample& e : examples) {
    const int t = e.is_tumour ? 1 : 0;
    ++n[t];
    voxels[t] += e.features.voxels;
    if (out.filter.probability(e.features) >= out.filter.threshold()) {
      ++kept_n[t];
      kept_voxels[t] += e.features.voxels;
    }
  }
  out.info = {{"cases", cases},
              {"true_components", n[1]},
              {"false_components", n[0]},
              {"true_voxels", voxels[1]},
              {"false_voxels", voxels[0]},
              {"kept_true_components", kept_n[1]},
              {"kept_false_components", kept_n[0]},
              {"kept_true_voxels", kept_voxels[1]},
              {"kept_false_voxels", kept_voxels[0]}};
  return out;
}

nlohmann::json ComponentFilterFit::to_json() const {
  nlohmann::json j = filter.to_json();
  j["fit"] = info;
  return j;
}

std::string ComponentFilterFit::summary() const {
  if (!filter.enabled()) return "off: " + filter.reason();
  const auto n = [&](const char* key) { return info.at(key).get<int64_t>(); };
  return fmt::format(
      "fitted on {} true and {} false tumour components of the labelled volumes; it keeps {} of "
      "{} true and {} of {} false voxels there",
      n("true_components"), n("false_components"), n("kept_true_voxels"), n("true_voxels"),
      n("kept_false_voxels"), n("false_voxels"));
}

postprocess::ComponentFilter read_component_filter(const std::filesystem::path& path) {
  try {
    return postprocess::ComponentFilter::from_json(config::read_json_file(path));
  } catch (const std::invalid_argument& e) {
    throw InputError(path.string(), e.what());
  }
}

}  // namespace aslseg::loop
