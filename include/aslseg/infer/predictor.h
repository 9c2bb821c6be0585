// Whole-volume inference with a trained segmentation net: slices are windowed, stacked with
// their 2k+1 context, resized to the model size, pushed through the net in batches (optionally
// on overlapping patches when it was trained on patches), and the
// class probabilities resized back to the slice's own size before the argmax, so peak memory
// is bounded by one batch of slices (never a float logit volume). Post-processing keeps the
// largest liver component and tumour only inside the liver (both switchable).
#pragma once

#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <vector>

#include "aslseg/io/volume.h"
#include "aslseg/models/segmenter_spec.h"
#include "aslseg/models/unet.h"

namespace aslseg::infer {

struct PostprocessParams {
  bool largest_liver_component = true;  // drop liver islands not connected to the main liver
  bool tumour_inside_liver = true;      // tumour voxels outside the (kept) liver become background
};

struct PredictParams {
  int64_t batch_size = 8;
  PostprocessParams post;
  // bf16 forward pass on CUDA (net and input cast to bfloat16; softmax and everything after in
  // float32); ignored on the CPU.
  bool bf16 = false;
  // Test-time mirroring (nnU-Net's habit): the softmax averaged over the slice as is and
  // flipped left-right, up-down and both, each flipped back. Four forward passes per slice.
  bool mirror = false;
  // true: a net trained on patches (spec.patch_size > 0) runs on overlapping patches of that
  // size, half a patch apart, their softmax blended with a Gaussian weight (nnU-Net's sliding
  // window, sigma = patch / 8). Off by default: on the development set it raised the liver
  // Dice but lowered the tumour Dice (docs/infer.md, "Sliding window").
  bool sliding_window = false;
  // > 0: also Prediction::entropy, from this many Monte-Carlo dropout passes (Gal and
  // Ghahramani 2016; the uncertainty of UA-MT and of the loop's selection gate). Needs a net
  // with dropout > 0. The dropout masks are drawn from torch's generator seeded with mc_seed
  // per volume, so the numbers repeat.
  int64_t mc_dropout_samples = 0;
  uint64_t mc_seed = 0;
  // true: also Prediction::member_labels, each ensemble member's own label map from the same
  // forward passes (the loop's member-agreement score; no second inference).
  bool member_labels = false;
};

// A CT volume made ready for the net: HU windowed to [0, 1] with padding at 0, and the
// field-of-view mask (1 = measured voxel). What a background reader hands to the predictor,
// so the next case can be read and windowed while the current one is computed.
struct WindowedVolume {
  Image windowed;
  LabelMap valid;
};

// Windows `hu` in place (no second float copy of the volume).
WindowedVolume prepare(Image hu, const models::SegmenterSpec& spec);

struct Prediction {
  LabelMap labels;  // same geometry as the input, post-processed with PredictParams::post
  std::optional<Volume<float>> tumour_probability;  // when asked for; before post-processing
  // With mc_dropout_samples > 0: entropy (nats) of the mean softmax of the MC-dropout passes,
  // per voxel at the input's size (0 on padding).
  std::optional<Volume<float>> entropy;
  // With PredictParams::member_labels: one label map per ensemble member (this predictor's net
  // first, then the added ones in order), post-processed like `labels`.
  std::vector<LabelMap> member_labels;
};

// Mean of `values` over the voxels where `labels` equals `label`; nullopt when there is none.
std::optional<double> mean_inside(const Volume<float>& values, const LabelMap& labels,
                                  uint8_t label);

class Predictor {
 public:
  Predictor(models::UNet net, const models::SegmenterSpec& spec, const torch::Device& device);
  // Loads an aslseg checkpoint (its SegmenterSpec is in the metadata).
  static Predictor from_checkpoint(const std::filesystem::path& checkpoint,
                                   const torch::Device& device);

  Prediction predict(const Image& hu, const PredictParams& params,
                     bool want_tumour_probability = false);
  // Same, on a volume already windowed by prepare() with this predictor's spec.
  Prediction predict(const WindowedVolume& input, const PredictParams& params,
                     bool want_tumour_probability = false);

  // An ensemble (nnU-Net's habit with its folds): predict averages the softmax of this net and
  // of every added one, each with the same mirroring and tiling. The member's spec must agree
  // with this predictor's on everything that shapes the input and the output (image size,
  // context, window, classes, patch size); std::invalid_argument naming the difference.
  // Monte-Carlo dropout is not defined for an ensemble (predict refuses it).
  void add_member(models::UNet net, const models::SegmenterSpec& spec);
  // Loads several checkpoints as one ensemble (the first one's spec is the predictor's).
  static Predictor from_checkpoints(const std::vector<std::filesystem::path>& checkpoints,
                                    const torch::Device& device);
  int64_t ensemble_size() const { return 1 + static_cast<int64_t>(members_.size()); }

  const models::SegmenterSpec& spec() const { return spec_; }
  const models::UNet& net() const { return net_; }
  const torch::Device& device() const { return device_; }

 private:
  models::UNet net_;
  std::vector<models::UNet> members_;  // the ensemble besides net_
  models::SegmenterSpec spec_;
  torch::Device device_;
  torch::Dtype net_dtype_ = torch::kFloat;  // bf16 after a bf16 predict on CUDA
  // The sliding window's plan, fixed by the spec (empty when spec.patch_size is 0 or the
  // whole model input): tile offsets along each side, each tile's [tile, tile] Gaussian weight
  // and the [side, side] sum of the weights over all tiles, on device_.
  std::vector<int64_t> tile_starts_;
  torch::Tensor tile_weight_;
  torch::Tensor tile_weight_sum_;

  // Class probabilities [B, C, side, side] of the model-size slices x, whole or by sliding
  // window (PredictParams::sliding_window); `probs` maps a batch of net inputs to softmax.
  torch::Tensor slice_probabilities(
      const torch::Tensor& x, const PredictParams& params,
      const std::function<torch::Tensor(const torch::Tensor&)>& probs);
};

// Applies the post-processing in place. Connectivity is 26-neighbour over liver + tumour
// (labels >= 1): the largest such component is the liver; tumour counts as inside the liver
// when its component also holds liver voxels (label 1), so a tumour blob touching no liver
// becomes background.
void postprocess(LabelMap& labels, const PostprocessParams& params);

// "auto" -> CUDA when available else CPU; "cpu"; "cuda"; "cuda:N". InputError otherwise, or
// when CUDA is asked for and not available.
torch::Device parse_device(const std::string& spec);

}  // namespace aslseg::infer
