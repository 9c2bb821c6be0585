// The slice data pipeline of the SSL stage: volumes of a TrainingSet preprocessed once (HU
// window, field-of-view mask, in-plane resize to the model size) and held in memory; batches of
// 2k+1-slice stacks drawn from them with tumour slices over-represented in labelled batches,
// augmented (flips, small rotations and scales, intensity jitter), and prefetched by worker
// threads so the model never waits on I/O. Batch content depends only on (seed, step), not on
// thread timing, so a resumed run sees exactly the batches an uninterrupted run would.
// Unlabelled cases come in as dataset::UnlabelledCase, which has no label path: their labels
// are never read.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aslseg/dataset/split.h"
#include "aslseg/preprocess/intensity.h"
#include "aslseg/ssl/augment.h"
#include "aslseg/ssl/batch.h"
#include "aslseg/ssl/lesion_paste.h"
#include "aslseg/ssl/lesion_synth.h"

namespace aslseg::ssl {

struct AugmentParams {
  bool flip = true;               // random left-right and up-down flips
  double rotate_deg = 10.0;       // uniform in [-rotate_deg, rotate_deg]
  double scale = 0.1;             // uniform in [1 - scale, 1 + scale]
  double intensity_shift = 0.05;  // added to windowed [0, 1] values
  double intensity_scale = 0.1;   // multiplies windowed values by 1 +- this
  // nnU-Net's GaussianNoise / GaussianBlur: with this probability per sample, additive noise
  // of sigma uniform in [0, noise_max] windowed units / a blur of sigma in [0.5, blur_max_px].
  double noise_probability = 0.0;
  double noise_max = 0.1;
  double blur_probability = 0.0;
  double blur_max_px = 1.0;
  bool enabled = true;
};

struct SliceDataParams {
  int64_t context = 1;       // k
  int64_t image_size = 128;  // model in-plane size
  preprocess::WindowParams window;
  double tumour_slice_fraction = 0.5;  // of labelled samples drawn from tumour slices
  // > 0: train on patch_size x patch_size patches of the image_size slices (a multiple of the
  // net's size_multiple). A tumour draw centres its patch near a random tumour pixel of the
  // slice (within patch_size / 4); every other patch lies at a uniform place in the slice.
  // Inference always runs on whole slices (the net is fully convolutional). 0: whole slices.
  int64_t patch_size = 0;
  bool liver_slices_only = false;  // draw only slices that contain liver (labelled)
  AugmentParams augment;
  LesionPasteParams lesion_paste;  // labelled samples only
  LesionSynthParams lesion_synth;  // labelled samples only
  int64_t workers = 2;             // prefetch threads; 0 computes each batch in get()
  int64_t prefetch = 4;            // batches queued ahead; 0 computes each batch in get()
};

// A label pixel known to be organ but not which class (the liver of a pseudo-label with
// LabelledCase::liver_unsupervised): join_batches makes it "liver or tumour" for the loss.
inline constexpr uint8_t kUnsupervisedLabel = 255;

// One preprocessed volume at model resolution.
struct PreparedVolume {
  std::string id;
  torch::Tensor image;  // [Z, S, S] float32 windowed
  torch::Tensor valid;  // [Z, S, S] uint8
  torch::Tensor label;  // [Z, S, S] uint8 (0-2, kUnsupervisedLabel), undefined for unlabelled
  std::vector<int64_t> tumour_slices;  // labelled only
  std::vector<int64_t> liver_slices;   // labelled only
  StackSpacing spacing;                // mm per pixel after the resize, mm between slices
};

// Reads and preprocesses the cases (in parallel). Labelled volumes get their labels (checked
// against the image geometry); unlabelled volumes never have a label loaded. Output is in case
// order. A case that cannot be read throws InputError naming the file; with several bad cases
// it is the first in case order, whatever the threads did. Bad params: std::invalid_argument.
std::vector<PreparedVolume> prepare_labelled(const std::vector<dataset::LabelledCase>& cases,
                                             const SliceDataParams& params);
std::vector<PreparedVolume> prepare_unlabelled(const std::vector<dataset::UnlabelledCase>& cases,
                                               const SliceDataParams& params);

// Builds the [2k+1, S, S] stack for slice z (edge slices replicated), no augmentation.
torch::Tensor context_stack(const PreparedVolume& v, int64_t z, int64_t context);

class BatchSource {
 public:
  // `volumes` must outlive the source. batch_size 0 gives empty batches (supervised training
  // has no unlabelled stream).
  BatchSource(const std::vector<PreparedVolume>& volumes, bool labelled, int64_t batch_size,
              const SliceDataParams& params, uint64_t seed);
  ~BatchSource();
  BatchSource(const BatchSource&) = delete;
  BatchSource& operator=(const BatchSource&) = delete;

  // The batch of `step`: a pure function of (volumes, params, seed, step). Steps must be
  // asked for in increasing order for prefetching to help; any order is correct.
  Batch get(int64_t step);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The same batch, computed on the calling thread (what BatchSource workers run).
Batch make_batch(const std::vector<PreparedVolume>& volumes, bool labelled, int64_t batch_size,
                 const SliceDataParams& params, uint64_t seed, int64_t step);

// What sample `index` of batch `step` is: which slice of which volume, and its augmentation
// (identity when params.augment.enabled is false). make_batch renders exactly these choices;
// exposed so that tests and tools can tell where a batch's pixels came from.
struct SampleChoice {
  int64_t volume = 0;        // index into `volumes`
  int64_t slice = 0;         // centre slice z
  bool tumour_draw = false;  // drawn from the tumour slices (labelled only)
  AugmentDraw augment;
  PatchWindow window;  // size 0 without patches
  struct Paste {
    int64_t donor_volume = 0;  // index into `volumes`
    int64_t donor_slice = 0;
    PasteDraw draw;
  };
  std::optional<Paste> paste;      // a lesion pasted before the augmentation
  std::optional<SynthDraw> synth;  // a synthetic lesion added after the paste
};
SampleChoice choose_sample(const std::vector<PreparedVolume>& volumes, bool labelled,
                           const SliceDataParams& params, uint64_t seed, int64_t step,
                           int64_t index);

}  // namespace aslseg::ssl
