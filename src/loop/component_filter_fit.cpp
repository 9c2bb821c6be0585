#include "aslseg/loop/component_filter_fit.h"

#include <spdlog/spdlog.h>

#include "aslseg/cli/progress.h"
#include "aslseg/io/error.h"
#include "aslseg/io/volume_io.h"

namespace aslseg::loop {

ComponentFilterFit fit_component_filter(infer::Predictor& ss,
                                        const std::vector<dataset::LabelledCase>& labelled,
                                        const ComponentFilterLoopParams& params) {
  struct Counted {
    postprocess::TumourComponents components;
    std::vector<bool> is_tumour;
  };
  std::vector<Counted> seen;
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
      Counted k{postprocess::tumour_components(pred.labels, *pred.tumour_probability, hu,
                                               pred.member_labels),
                {}};
      k.is_tumour = postprocess::touches_tumour(k.components.components, truth);
      for (size_t i = 0; i < k.is_tumour.size(); ++i)
        examples.push_back({k.components.features[i], k.is_tumour[i]});
      seen.push_back(std::move(k));
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
  for (const Counted& k : seen)
    for (size_t i = 0; i < k.is_tumour.size(); ++i) {
      const int t = k.is_tumour[i] ? 1 : 0;
      const auto& f = k.components.features[i];
      ++n[t];
      voxels[t] += f.voxels;
      if (out.filter.probability(f) >= out.filter.threshold()) {
        ++kept_n[t];
        kept_voxels[t] += f.voxels;
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

}  // namespace aslseg::loop
