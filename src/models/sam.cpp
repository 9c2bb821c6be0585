#include "aslseg/models/sam.h"

#include <spdlog/spdlog.h>

#include <stdexcept>
#include <string>

#include "aslseg/checkpoint/state_dict.h"
#include "aslseg/checkpoint/torch_pth.h"

namespace aslseg::models {

namespace {

constexpr int64_t kChannels = 3;

torch::Tensor to_device(const torch::Tensor& t, const torch::Device& device) {
  return t.defined() ? t.to(device) : t;
}

}  // namespace

SamImpl::SamImpl(const SamConfig& config) : config_(config) {
  validate(config_);
  const int64_t emb = config_.embedding_size();
  image_encoder = register_module("image_encoder", SamImageEncoder(config_));
  const std::array<int64_t, 2> embedding_size{emb, emb};
  const std::array<int64_t, 2> input_size{config_.image_size, config_.image_size};
  prompt_encoder = register_module(
      "prompt_encoder",
      SamPromptEncoder(config_.out_chans, embedding_size, input_size, config_.mask_in_chans));
  mask_decoder = register_module("mask_decoder", SamMaskDecoder(config_));
}

torch::Device SamImpl::device() const {
  // The positional-encoding matrix is the prompt encoder's only buffer.
  return prompt_encoder->buffers().front().device();
}

torch::Tensor SamImpl::preprocess(const torch::Tensor& image) const {
  torch::Tensor x = image.dim() == 4 && image.size(0) == 1 ? image.squeeze(0) : image;
  const int64_t s = config_.image_size;
  if (x.dim() != 3 || x.size(0) != kChannels || x.size(1) > s || x.size(2) > s)
    throw std::invalid_argument(
        "sam preprocess: expected an image [3, h, w] with h, w <= " + std::to_string(s) +
        " (resized first), got " + c10::str(image.sizes()));
  x = x.to(torch::kFloat);
  if (config_.input_normalization == "mean_std") {
    // float32 like the reference's torch.Tensor(pixel_mean) buffers.
    const auto opts = torch::TensorOptions().dtype(torch::kDouble).device(x.device());
    const torch::Tensor mean =
        torch::tensor(config_.pixel_mean, opts).to(torch::kFloat).view({-1, 1, 1});
    const torch::Tensor std =
        torch::tensor(config_.pixel_std, opts).to(torch::kFloat).view({-1, 1, 1});
    x = (x - mean) / std;
  }
  const int64_t pad_h = s - x.size(1);
  const int64_t pad_w = s - x.size(2);
  return torch::constant_pad_nd(x, {0, pad_w, 0, pad_h}, 0.0).unsqueeze(0);
}

torch::Tensor SamImpl::encode(const torch::Tensor& preprocessed) {
  return image_encoder->forward(preprocessed);
}

std::pair<torch::Tensor, torch::Tensor> SamImpl::embed_prompts(const SamPrompt& prompt) {
  const torch::Device dev = device();
  return prompt_encoder->forward(to_device(prompt.point_coords, dev),
                                 to_device(prompt.point_labels, dev), to_device(prompt.boxes, dev),
                                 to_device(prompt.mask_inputs, dev));
}

std::pair<torch::Tensor, torch::Tensor> SamImpl::decode(const torch::Tensor& image_embeddings,
                                                        const SamPrompt& prompt, bool multimask) {
  const torch::Tensor emb =
      image_embeddings.dim() == 3 ? image_embeddings.unsqueeze(0) : image_embeddings;
  if (emb.dim() != 4 || emb.size(0) != 1)
    throw std::invalid_argument("sam decode: expected one image embedding [1, C, h, w], got " +
                                c10::str(image_embeddings.sizes()));
  auto [sparse, dense] = embed_prompts(prompt);
  return mask_decoder->forward(emb, prompt_encoder->get_dense_pe(), sparse, dense, multimask);
}

torch::Tensor SamImpl::postprocess_masks(const torch::Tensor& low_res,
                                         std::array<int64_t, 2> input_size,
                                         std::array<int64_t, 2> original_size) const {
  namespace F = torch::nn::functional;
  auto bilinear = [](const std::vector<int64_t>& size) {
    return F::InterpolateFuncOptions().size(size).mode(torch::kBilinear).align_corners(false);
  };
  const int64_t s = config_.image_size;
  torch::Tensor masks = F::interpolate(low_res, bilinear({s, s}));
  using torch::indexing::Ellipsis;
  using torch::indexing::Slice;
  masks = masks.index({Ellipsis, Slice(0, input_size[0]), Slice(0, input_size[1])});
  return F::interpolate(masks, bilinear({original_size[0], original_size[1]}));
}

SamOutput SamImpl::forward(const torch::Tensor& image, std::array<int64_t, 2> original_size,
                           const SamPrompt& prompt, bool multimask) {
  const torch::Tensor input = preprocess(image).to(device());
  const torch::Tensor embeddings = encode(input);
  auto [low_res, iou] = decode(embeddings, prompt, multimask);
  const std::array<int64_t, 2> input_size{image.size(-2), image.size(-1)};
  const torch::Tensor logits = postprocess_masks(low_res, input_size, original_size);
  return {logits > config_.mask_threshold, iou, low_res};
}

int64_t SamImpl::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

Sam load_sam(const SamConfig& config, const std::filesystem::path& checkpoint) {
  Sam model(config);
  spdlog::info("{}", describe(config));
  spdlog::info("SAM parameters: {}", model->num_parameters());
  if (checkpoint.empty()) {
    spdlog::warn(
        "!!! SAM has NO checkpoint: it runs with RANDOM weights and its masks are "
        "meaningless. Pass an official or MedSAM .pth for real use. !!!");
  } else {
    const checkpoint::StateDict sd = checkpoint::read_torch_state_dict(checkpoint);
    checkpoint::load_state_dict_strict(*model, sd, checkpoint);
    spdlog::info("SAM weights loaded from {} ({} tensors)", checkpoint.string(), sd.size());
  }
  model->eval();
  return model;
}

}  // namespace aslseg::models
