#include "aslseg/loop/stage_pipeline.h"

#include <stdexcept>
#include <utility>

namespace aslseg::loop {

LabelMap with_tumour(const LabelMap& pl1, const LabelMap& tumour) {
  const std::string diff = pl1.geometry.difference(tumour.geometry);
  if (!diff.empty()) throw std::invalid_argument("with_tumour: grids differ (" + diff + ")");
  LabelMap out(pl1.geometry, kBackground);
  // The organ (liver + tumour) is SS's; the stage only decides which of its voxels are tumour.
  for (size_t i = 0; i < out.voxels.size(); ++i) {
    if (pl1.voxels[i] == kBackground) continue;
    out.voxels[i] = tumour.voxels[i] == kTumour ? kTumour : kLiver;
  }
  infer::postprocess(out, infer::PostprocessParams{});
  return out;
}

StagePipeline::StagePipeline(infer::Predictor& ss, sam::SamPredictor* sam,
                             const AdaptationPredictor* an, SamStageParams sam_stage,
                             const postprocess::ComponentFilter* filter)
    : ss_(ss),
      sam_(sam),
      an_(an),
      sam_stage_(std::move(sam_stage)),
      filter_(filter != nullptr && filter->enabled() ? filter : nullptr) {}

StageLabels StagePipeline::run(const Image& hu, int64_t mc_dropout_samples, uint64_t mc_seed,
                               bool member_labels) {
  StageLabels out;
  infer::PredictParams params;
  params.mc_dropout_samples = mc_dropout_samples;
  params.mc_seed = mc_seed;
  // The filter's agreement feature needs every member's own map.
  params.member_labels = member_labels || (filter_ != nullptr && ss_.ensemble_size() > 1);
  infer::Prediction ss = ss_.predict(hu, params, /*want_tumour_probability=*/filter_ != nullptr);
  out.pl1 = std::move(ss.labels);
  out.members = std::move(ss.member_labels);
  if (filter_ != nullptr)
    out.filtered_components = postprocess::filter_tumour_components(
        *filter_, hu, *ss.tumour_probability, out.pl1, &out.members);
  if (sam_ != nullptr) {
    out.pl2 = sam_tumour(*sam_, hu, out.pl1, sam_stage_, &out.sam_stats);
  } else {
    out.pl2 = LabelMap(out.pl1.geometry, kBackground);
    for (size_t i = 0; i < out.pl2.voxels.size(); ++i)
      if (out.pl1.voxels[i] == kTumour) out.pl2.voxels[i] = kTumour;
  }
  out.pl3 = with_tumour(out.pl1, an_ != nullptr ? an_->predict(hu, out.pl2, out.pl1) : out.pl2);
  if (ss.entropy) out.uncertainty = infer::mean_inside(*ss.entropy, out.pl3, kTumour);
  return out;
}

}  // namespace aslseg::loop
