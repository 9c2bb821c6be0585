// One volume through the three stages of a round (DESIGN.md, "The loop"): PL1 = SS(x),
// PL2 = SAM(x, prompts(PL1)), PL3 = AN(x ⊕ PL2 (⊕ PL1)), and the label maps the loop keeps of
// them. The liver always comes from SS; the later stages replace the tumour.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "aslseg/infer/predictor.h"
#include "aslseg/io/volume.h"
#include "aslseg/loop/adaptation.h"
#include "aslseg/loop/sam_stage.h"
#include "aslseg/postprocess/component_filter.h"
#include "aslseg/sam/sam_predictor.h"

namespace aslseg::loop {

struct StageLabels {
  LabelMap pl1;  // SS: liver + tumour, post-processed as `aslseg infer` does
  LabelMap pl2;  // SAM's tumour: 2 on tumour, 0 elsewhere
  LabelMap pl3;  // the candidate label: PL1's liver with AN's tumour (with_tumour)
  SamStageStats sam_stats;
  // With MC dropout: SS's mean entropy (nats) inside PL3's tumour; nullopt without MC dropout
  // or without tumour.
  std::optional<double> uncertainty;
  // With member_labels: each SS ensemble member's own label map (infer::Prediction), with the
  // components the filter removed from PL1 removed too.
  std::vector<LabelMap> members;
  int64_t filtered_components = 0;  // PL1 tumour components the component filter removed
};

// The label map of a later stage: PL1's organ (label >= 1) with `tumour`'s label-2 voxels
// inside it as tumour and the rest of it liver; tumour outside PL1's organ is dropped (liver
// tumours lie in the liver, and the liver is SS's), so every stage has the same liver-class
// mask and the per-stage metrics differ in the tumour only. Then the post-processing of
// `aslseg infer` (tumour only where it touches liver). Grids must match
// (std::invalid_argument).
LabelMap with_tumour(const LabelMap& pl1, const LabelMap& tumour);

class StagePipeline {
 public:
  // The models are borrowed and must outlive the pipeline. A null `sam` or `an` is a stage the
  // loop skipped (it could not be trained): PL2 is then PL1's tumour, PL3 the label of PL2.
  // A non-null enabled `filter` removes the doubtful tumour components of PL1 (and of the
  // members' maps) before the later stages see it.
  StagePipeline(infer::Predictor& ss, sam::SamPredictor* sam, const AdaptationPredictor* an,
                SamStageParams sam_stage, const postprocess::ComponentFilter* filter = nullptr);

  // mc_dropout_samples > 0 also measures the uncertainty (infer::PredictParams), with the
  // dropout masks seeded by mc_seed. member_labels also fills StageLabels::members.
  StageLabels run(const Image& hu, int64_t mc_dropout_samples = 0, uint64_t mc_seed = 0,
                  bool member_labels = false);

 private:
  infer::Predictor& ss_;
  sam::SamPredictor* sam_;
  const AdaptationPredictor* an_;
  SamStageParams sam_stage_;
  const postprocess::ComponentFilter* filter_;
};

}  // namespace aslseg::loop
