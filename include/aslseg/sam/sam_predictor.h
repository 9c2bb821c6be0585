// Segment Anything on CT slices: set a slice once (HU window, 3 channels, long side resized to
// the model's image_size, image encoder run ONCE), then decode any number of prompt calls,
// each with B prompt sets in one batched decoder pass. The C++ counterpart of the official
// SamPredictor (segment_anything/predictor.py: set_image, predict_torch), for HU slices.
//
// Orientation: a Volume is x fastest, so slice z is [height = y][width = x]; prompts are (x, y)
// voxel indices of that slice, and masks come back as [.., height, width] at the slice's size.
// Image resampling and coordinate mapping: resize_longest_side.h.
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>

#include "aslseg/io/volume.h"
#include "aslseg/models/sam.h"
#include "aslseg/preprocess/intensity.h"
#include "aslseg/sam/sam_prompts.h"

namespace aslseg::sam {

struct SamPrediction {
  torch::Tensor masks;           // bool [B, C, height, width] at the slice size (CPU)
  torch::Tensor iou;             // [B, C] predicted IoU (CPU)
  torch::Tensor low_res_logits;  // [B, C, 4*emb, 4*emb] (CPU): mask_inputs of a next pass
};

class SamPredictor {
 public:
  // Moves `sam` to `device` and puts it in eval mode (the module is shared, not copied).
  SamPredictor(models::Sam sam, torch::Device device);

  // HU slice of width x height floats, x fastest (Volume::slice(z)): windowed to [0, 1] by
  // `window`, made the encoder image (sam_image_from_hu) and encoded.
  void set_slice(const float* hu, int64_t width, int64_t height,
                 const preprocess::WindowParams& window);
  // Axial slice z of `volume`; std::out_of_range for a z outside it.
  void set_slice(const Image& volume, int64_t z, const preprocess::WindowParams& window);
  // An already windowed slice [height, width] with values in [0, 1].
  void set_windowed(const torch::Tensor& windowed);

  // Decodes B prompt sets (slice coordinates) against the current embedding in one decoder
  // call. multimask: C = num_multimask_outputs masks per set, else 1. Throws
  // std::invalid_argument (check_prompts' message) for prompts that do not fit the slice, and
  // std::logic_error when no slice is set.
  SamPrediction predict(const SamPrompts& prompts, bool multimask);

  // The current image embedding [1, out_chans, emb, emb] (on the device), for caching.
  const torch::Tensor& embedding() const { return embedding_; }
  // Uses an embedding computed elsewhere (embedding() of an earlier set_*, or sam->encode of
  // the same image) for a slice of (height, width); no encoder run.
  void set_embedding(const torch::Tensor& embedding, int64_t height, int64_t width);

  bool has_slice() const { return embedding_.defined(); }
  std::array<int64_t, 2> original_size() const { return original_size_; }  // (height, width)
  std::array<int64_t, 2> input_size() const { return input_size_; }        // resized (h, w)
  const models::Sam& model() const { return sam_; }
  torch::Device device() const { return device_; }

  // The prompts mapped into the resized frame (apply_boxes / apply_coords), on the device.
  models::SamPrompt to_model_frame(const SamPrompts& prompts) const;

 private:
  void encode(const torch::Tensor& image);

  models::Sam sam_;
  torch::Device device_;
  torch::Tensor embedding_;
  std::array<int64_t, 2> original_size_{0, 0};
  std::array<int64_t, 2> input_size_{0, 0};
};

}  // namespace aslseg::sam
