#include "aslseg/sam/sam_predictor.h"

#include <stdexcept>
#include <string>

#include "aslseg/sam/resize_longest_side.h"

namespace aslseg::sam {

SamPredictor::SamPredictor(models::Sam sam, torch::Device device)
    : sam_(std::move(sam)), device_(device) {
  if (!sam_) throw std::invalid_argument("SamPredictor: null model");
  sam_->to(device_);
  sam_->eval();
}

void SamPredictor::set_slice(const float* hu, int64_t width, int64_t height,
                             const preprocess::WindowParams& window) {
  const torch::Tensor image = sam_image_from_hu(hu, width, height, window, sam_->config());
  original_size_ = {height, width};
  encode(image);
}

void SamPredictor::set_slice(const Image& volume, int64_t z,
                             const preprocess::WindowParams& window) {
  const auto& size = volume.geometry.size;
  if (z < 0 || z >= size[2])
    throw std::out_of_range("slice " + std::to_string(z) + " is outside 0.." +
                            std::to_string(size[2] - 1));
  set_slice(volume.slice(z), size[0], size[1], window);
}

void SamPredictor::set_windowed(const torch::Tensor& windowed) {
  const torch::Tensor image = sam_image_from_windowed(windowed, sam_->config());
  original_size_ = {windowed.size(0), windowed.size(1)};
  encode(image);
}

void SamPredictor::encode(const torch::Tensor& image) {
  torch::NoGradGuard no_grad;
  input_size_ = {image.size(1), image.size(2)};
  embedding_ = sam_->encode(sam_->preprocess(image.to(device_)));
}

void SamPredictor::set_embedding(const torch::Tensor& embedding, int64_t height, int64_t width) {
  const models::SamConfig& c = sam_->config();
  const int64_t emb = c.embedding_size();
  const torch::Tensor e = embedding.dim() == 3 ? embedding.unsqueeze(0) : embedding;
  if (e.dim() != 4 || e.size(0) != 1 || e.size(1) != c.out_chans || e.size(2) != emb ||
      e.size(3) != emb)
    throw std::invalid_argument("SamPredictor::set_embedding: expected [1, " +
                                std::to_string(c.out_chans) + ", " + std::to_string(emb) + ", " +
                                std::to_string(emb) + "], got " + c10::str(embedding.sizes()));
  original_size_ = {height, width};
  input_size_ = preprocess_shape(height, width, c.image_size);
  embedding_ = e.to(device_, torch::kFloat);
}

models::SamPrompt SamPredictor::to_model_frame(const SamPrompts& prompts) const {
  const int64_t s = sam_->config().image_size;
  models::SamPrompt p;
  if (prompts.boxes.defined())
    p.boxes = apply_boxes(prompts.boxes.to(torch::kCPU), original_size_, s).to(device_);
  if (prompts.point_coords.defined()) {
    p.point_coords =
        apply_coords(prompts.point_coords.to(torch::kCPU), original_size_, s).to(device_);
    p.point_labels = prompts.point_labels.to(device_, torch::kLong);
  }
  if (prompts.mask_inputs.defined()) p.mask_inputs = prompts.mask_inputs.to(device_, torch::kFloat);
  return p;
}

SamPrediction SamPredictor::predict(const SamPrompts& prompts, bool multimask) {
  if (!has_slice()) throw std::logic_error("SamPredictor::predict: no slice set");
  const std::string problem = check_prompts(prompts, original_size_[0], original_size_[1]);
  if (!problem.empty()) throw std::invalid_argument(problem);
  torch::NoGradGuard no_grad;
  auto [low_res, iou] = sam_->decode(embedding_, to_model_frame(prompts), multimask);
  const torch::Tensor logits = sam_->postprocess_masks(low_res, input_size_, original_size_);
  SamPrediction out;
  out.masks = (logits > sam_->config().mask_threshold).to(torch::kCPU);
  out.iou = iou.to(torch::kCPU);
  out.low_res_logits = low_res.to(torch::kCPU);
  return out;
}

}  // namespace aslseg::sam
