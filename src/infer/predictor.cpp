#include "aslseg/infer/predictor.h"

#include <c10/core/InferenceMode.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>
#include <string>

#include "aslseg/checkpoint/checkpoint.h"
#include "aslseg/core/runtime.h"
#include "aslseg/io/error.h"
#include "aslseg/preprocess/connected_components.h"
#include "aslseg/preprocess/intensity.h"
#include "aslseg/preprocess/invalid_mask.h"
#include "aslseg/preprocess/slicing.h"

namespace aslseg::infer {

namespace {

namespace fs = std::filesystem;
namespace F = torch::nn::functional;

// p log p is taken as 0 at p = 0: probabilities are clamped to this before the log.
constexpr double kEntropyFloor = 1e-12;

// interpolate(mode='bilinear', align_corners=False): the resampling training used
// (preprocess/resize.h documents the same sampling).
torch::Tensor resize_bilinear(const torch::Tensor& x, int64_t height, int64_t width) {
  if (x.size(2) == height && x.size(3) == width) return x;
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{height, width})
                               .mode(torch::kBilinear)
                               .align_corners(false));
}

// Sliding window (nnU-Net's predict_sliding_window): tiles overlap by half a tile, and each
// tile's softmax is weighted by a Gaussian of sigma = tile / 8 centred on it, so tile borders,
// where the net sees least context, count least.
constexpr double kTileStepFraction = 0.5;
constexpr double kGaussianSigmaFraction = 1.0 / 8.0;

// Start offsets of tiles of `tile` < extent pixels covering [0, extent), evenly spread, the
// last one ending at extent.
std::vector<int64_t> tile_starts(int64_t extent, int64_t tile) {
  const double target = kTileStepFraction * static_cast<double>(tile);
  const int64_t steps =
      static_cast<int64_t>(std::ceil(static_cast<double>(extent - tile) / target)) + 1;
  const double step = static_cast<double>(extent - tile) / static_cast<double>(steps - 1);
  std::vector<int64_t> out;
  for (int64_t i = 0; i < steps; ++i)
    out.push_back(static_cast<int64_t>(std::llround(step * static_cast<double>(i))));
  return out;
}

// [tile, tile] Gaussian importance map with its maximum at 1.
torch::Tensor gaussian_importance(int64_t tile) {
  const double sigma = kGaussianSigmaFraction * static_cast<double>(tile);
  const torch::Tensor d = torch::arange(tile, torch::kFloat) - 0.5 * static_cast<double>(tile - 1);
  const torch::Tensor g = torch::exp(-(d * d) / (2.0 * sigma * sigma));
  return torch::outer(g, g);
}

// The module of a checkpoint that inference uses (checkpoint.h, kMetaInferenceModule).
std::string pick_module(const checkpoint::Summary& summary, const fs::path& path) {
  const auto& meta = summary.meta;
  const auto& names = summary.modules;
  auto held = [&](const std::string& n) {
    return std::find(names.begin(), names.end(), n) != names.end();
  };
  if (meta.contains(checkpoint::kMetaInferenceModule)) {
    const auto& v = meta.at(checkpoint::kMetaInferenceModule);
    if (!v.is_string() || !held(v.get<std::string>()))
      throw InputError(path.string(), std::string("metadata '") + checkpoint::kMetaInferenceModule +
                                          "' = " + v.dump() +
                                          " names no module of this checkpoint");
    return v.get<std::string>();
  }
  for (const char* n : checkpoint::kInferenceModuleFallbacks)
    if (held(n)) return n;
  if (names.size() == 1) return names.front();
  throw InputError(path.string(), "cannot tell which of its " + std::to_string(names.size()) +
                                      " modules to use for inference (no '" +
                                      checkpoint::kMetaInferenceModule + "' in its metadata)");
}

}  // namespace

WindowedVolume prepare(Image hu, const models::SegmenterSpec& spec) {
  WindowedVolume out;
  out.valid = preprocess::valid_mask(hu);
  preprocess::validate(spec.window);
  preprocess::apply_window(hu.voxels.data(), out.valid.voxels.data(), hu.voxels.data(),
                           hu.voxels.size(), spec.window);
  out.windowed = std::move(hu);
  return out;
}

Predictor::Predictor(models::UNet net, const models::SegmenterSpec& spec,
                     const torch::Device& device)
    : net_(std::move(net)), spec_(spec), device_(device) {
  models::validate(spec_);
  if (nlohmann::json(net_->options()) != nlohmann::json(spec_.unet))
    throw std::invalid_argument("predictor: the net's options " +
                                nlohmann::json(net_->options()).dump() +
                                " differ from the spec's " + nlohmann::json(spec_.unet).dump());
  net_->to(device_);
  net_->eval();
  const int64_t tile = spec_.patch_size, side = spec_.image_size;
  if (tile > 0 && tile < side) {
    tile_starts_ = tile_starts(side, tile);
    tile_weight_ = gaussian_importance(tile).to(device_);
    tile_weight_sum_ = torch::zeros({side, side}, tile_weight_.options());
    for (const int64_t y0 : tile_starts_)
      for (const int64_t x0 : tile_starts_)
        tile_weight_sum_.narrow(0, y0, tile).narrow(1, x0, tile).add_(tile_weight_);
  }
}

namespace {

struct LoadedNet {
  models::UNet net{nullptr};
  models::SegmenterSpec spec;
};

// The segmentation net of an aslseg checkpoint and the spec in its metadata.
LoadedNet load_net(const fs::path& path) {
  const checkpoint::Summary summary = checkpoint::inspect(path);
  if (!summary.meta.contains(checkpoint::kMetaSpec))
    throw InputError(path.string(), std::string("metadata holds no '") + checkpoint::kMetaSpec +
                                        "' (not a segmentation-net checkpoint?)");
  LoadedNet out;
  try {
    summary.meta.at(checkpoint::kMetaSpec).get_to(out.spec);
  } catch (const std::invalid_argument& e) {
    throw InputError(path.string(), std::string("metadata 'spec': ") + e.what());
  }
  const std::string name = pick_module(summary, path);
  out.net = models::UNet(out.spec.unet);
  checkpoint::load(path, {{{name, out.net.ptr()}}, nullptr, {}});
  spdlog::debug("{}: using module '{}'", path.string(), name);
  return out;
}

}  // namespace

Predictor Predictor::from_checkpoint(const fs::path& path, const torch::Device& device) {
  LoadedNet loaded = load_net(path);
  return Predictor(loaded.net, loaded.spec, device);
}

void Predictor::add_member(models::UNet net, const models::SegmenterSpec& spec) {
  models::validate(spec);
  auto differs = [&](const char* what, const auto& mine, const auto& theirs) {
    if (nlohmann::json(mine) != nlohmann::json(theirs))
      throw std::invalid_argument(std::string("ensemble: ") + what + " " +
                                  nlohmann::json(theirs).dump() + " differs from the first net's " +
                                  nlohmann::json(mine).dump());
  };
  differs("image_size", spec_.image_size, spec.image_size);
  differs("context", spec_.context, spec.context);
  differs("window level", spec_.window.level, spec.window.level);
  differs("window width", spec_.window.width, spec.window.width);
  differs("num_classes", spec_.unet.num_classes, spec.unet.num_classes);
  differs("in_channels", spec_.unet.in_channels, spec.unet.in_channels);
  differs("patch_size", spec_.patch_size, spec.patch_size);
  if (nlohmann::json(net->options()) != nlohmann::json(spec.unet))
    throw std::invalid_argument("ensemble: a member's options differ from its spec");
  net->to(device_, net_dtype_);
  net->eval();
  members_.push_back(std::move(net));
}

Predictor Predictor::from_checkpoints(const std::vector<fs::path>& checkpoints,
                                      const torch::Device& device) {
  if (checkpoints.empty()) throw std::invalid_argument("predictor: no checkpoint given");
  Predictor first = from_checkpoint(checkpoints.front(), device);
  for (size_t i = 1; i < checkpoints.size(); ++i) {
    LoadedNet member = load_net(checkpoints[i]);
    try {
      first.add_member(member.net, member.spec);
    } catch (const std::invalid_argument& e) {
      throw InputError(checkpoints[i].string(), e.what());
    }
  }
  return first;
}

Prediction Predictor::predict(const Image& hu, const PredictParams& params,
                              bool want_tumour_probability) {
  return predict(prepare(hu, spec_), params, want_tumour_probability);
}

Prediction Predictor::predict(const WindowedVolume& input, const PredictParams& params,
                              bool want_tumour_probability) {
  const Geometry& g = input.windowed.geometry;
  const size_t voxels = static_cast<size_t>(g.num_voxels());
  if (params.batch_size < 1)
    throw std::invalid_argument("predict: batch size must be >= 1, got " +
                                std::to_string(params.batch_size));
  if (input.windowed.voxels.size() != voxels || input.valid.voxels.size() != voxels || voxels == 0)
    throw std::invalid_argument("predict: image and mask do not match the geometry " +
                                g.describe());
  if (want_tumour_probability && spec_.unet.num_classes <= kTumour)
    throw std::invalid_argument("predict: a tumour probability needs a tumour class");
  const bool mc = params.mc_dropout_samples > 0;
  if (mc && !members_.empty())
    throw std::invalid_argument("predict: Monte-Carlo dropout is not defined for an ensemble");
  if (mc && !(spec_.unet.dropout > 0.0))
    throw std::invalid_argument(
        "predict: Monte-Carlo dropout needs a net trained with dropout > 0 (model.dropout)");

  // bf16 where it is native: CUDA, or a CPU with AVX512-BF16 / AMX (core/runtime.h).
  const bool bf16 = params.bf16 && (device_.is_cuda() || core::cpu_has_native_bf16());
  if (params.bf16 && !bf16)
    spdlog::debug("bf16 asked for on {}: ignored (this CPU has no native bf16)", device_.str());
  const torch::Dtype dtype = bf16 ? torch::kBFloat16 : torch::kFloat;
  if (dtype != net_dtype_) {
    net_->to(dtype);
    for (models::UNet& m : members_) m->to(dtype);
    net_dtype_ = dtype;
  }
  net_->eval();

  const int64_t width = g.size[0];
  const int64_t height = g.size[1];
  const int64_t depth = g.size[2];
  const int64_t plane = g.slice_voxels();
  const int64_t channels = spec_.unet.in_channels;
  const int64_t side = spec_.image_size;
  const preprocess::SliceParams slicing{static_cast<int>(spec_.context)};

  Prediction out;
  out.labels = LabelMap(g, kBackground);
  if (want_tumour_probability) out.tumour_probability = Image(g, 0.0f);
  if (mc) {
    out.entropy = Image(g, 0.0f);
    torch::manual_seed(params.mc_seed);
  }

  c10::InferenceMode inference;
  // One CPU staging buffer of [B, 2k+1, H, W]: everything the batch loop allocates is bounded
  // by the batch, never by the number of slices.
  torch::Tensor staging =
      torch::empty({std::min(params.batch_size, depth), channels, height, width}, torch::kFloat);
  for (int64_t z0 = 0; z0 < depth; z0 += params.batch_size) {
    const int64_t n = std::min(params.batch_size, depth - z0);
    float* dst = staging.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i)
      preprocess::slice_with_context(input.windowed, z0 + i, slicing, dst + i * channels * plane);
    torch::Tensor x = staging.narrow(0, 0, n).to(device_);
    x = resize_bilinear(x, side, side).to(dtype);
    auto net_probs = [&](models::UNet& net, const torch::Tensor& in) {
      torch::Tensor p = torch::softmax(net->forward(in).to(torch::kFloat), /*dim=*/1);
      if (params.mirror) {
        // The flips besides the identity, over [B, C, H, W]'s W, H and both.
        const std::vector<std::vector<int64_t>> flips{{3}, {2}, {2, 3}};
        for (const std::vector<int64_t>& dims : flips)
          p += torch::softmax(net->forward(in.flip(dims)).to(torch::kFloat), 1).flip(dims);
        p /= static_cast<double>(flips.size() + 1);
      }
      return p;
    };
    const uint8_t* valid = input.valid.slice(z0);
    const int64_t count = n * plane;
    auto write_labels = [&](const torch::Tensor& full_size_probs, LabelMap& into) {
      const torch::Tensor labels =
          full_size_probs.argmax(1).to(torch::kUInt8).to(torch::kCPU).contiguous();
      const uint8_t* lab = labels.data_ptr<uint8_t>();
      uint8_t* target = into.slice(z0);
      for (int64_t i = 0; i < count; ++i)
        target[i] = valid[i] == preprocess::kInvalid ? uint8_t{kBackground} : lab[i];
    };
    torch::Tensor probs;
    if (params.member_labels) {
      // Each member on its own (the sum over tiles is linear, so their mean is the ensemble's).
      if (out.member_labels.empty())
        out.member_labels.assign(static_cast<size_t>(ensemble_size()), LabelMap(g, kBackground));
      for (int64_t m = 0; m < ensemble_size(); ++m) {
        models::UNet& net = m == 0 ? net_ : members_[static_cast<size_t>(m - 1)];
        const torch::Tensor own = slice_probabilities(
            x, params, [&](const torch::Tensor& in) { return net_probs(net, in); });
        write_labels(resize_bilinear(own, height, width),
                     out.member_labels[static_cast<size_t>(m)]);
        probs = m == 0 ? own : probs + own;
      }
      if (!members_.empty()) probs /= static_cast<double>(ensemble_size());
    } else {
      probs = slice_probabilities(x, params, [&](const torch::Tensor& in) {
        torch::Tensor p = net_probs(net_, in);
        for (models::UNet& m : members_) p += net_probs(m, in);
        if (!members_.empty()) p /= static_cast<double>(ensemble_size());
        return p;
      });
    }
    // Probabilities, not labels, go back to the slice size: smoother borders than resizing
    // an argmax.
    probs = resize_bilinear(probs, height, width);
    write_labels(probs, out.labels);
    if (want_tumour_probability) {
      const torch::Tensor tumour = probs.select(1, kTumour).to(torch::kCPU).contiguous();
      const float* p = tumour.data_ptr<float>();
      float* prob = out.tumour_probability->slice(z0);
      for (int64_t i = 0; i < count; ++i) prob[i] = valid[i] == preprocess::kInvalid ? 0.0f : p[i];
    }
    if (mc) {
      torch::Tensor mean = torch::zeros_like(probs);
      for (int64_t t = 0; t < params.mc_dropout_samples; ++t)
        mean += resize_bilinear(
            slice_probabilities(x, params,
                                [&](const torch::Tensor& in) {
                                  return torch::softmax(
                                      net_->forward(in, /*mc_dropout=*/true).to(torch::kFloat), 1);
                                }),
            height, width);
      mean /= static_cast<double>(params.mc_dropout_samples);
      const torch::Tensor h =
          (-(mean * torch::log(mean.clamp_min(kEntropyFloor))).sum(1)).to(torch::kCPU).contiguous();
      const float* e = h.data_ptr<float>();
      float* dst_e = out.entropy->slice(z0);
      for (int64_t i = 0; i < count; ++i) dst_e[i] = valid[i] == preprocess::kInvalid ? 0.0f : e[i];
    }
  }
  // Inside predict, not left to callers: training's validation, the test-split scores of
  // `aslseg train` and `aslseg infer` must give the same masks (a 22-voxel island that only
  // infer removed once made their Dice disagree).
  postprocess(out.labels, params.post);
  for (LabelMap& own : out.member_labels) postprocess(own, params.post);
  return out;
}

torch::Tensor Predictor::slice_probabilities(
    const torch::Tensor& x, const PredictParams& params,
    const std::function<torch::Tensor(const torch::Tensor&)>& probs) {
  if (!params.sliding_window || tile_starts_.empty()) return probs(x);
  const int64_t tile = spec_.patch_size, side = spec_.image_size;
  torch::Tensor sum =
      torch::zeros({x.size(0), spec_.unet.num_classes, side, side}, tile_weight_sum_.options());
  for (const int64_t y0 : tile_starts_)
    for (const int64_t x0 : tile_starts_)
      sum.narrow(2, y0, tile)
          .narrow(3, x0, tile)
          .add_(probs(x.narrow(2, y0, tile).narrow(3, x0, tile)) * tile_weight_);
  return sum / tile_weight_sum_;
}

std::optional<double> mean_inside(const Volume<float>& values, const LabelMap& labels,
                                  uint8_t label) {
  if (values.voxels.size() != labels.voxels.size())
    throw std::invalid_argument("mean_inside: volumes of different sizes");
  double sum = 0.0;
  int64_t n = 0;
  for (size_t i = 0; i < labels.voxels.size(); ++i)
    if (labels.voxels[i] == label) {
      sum += values.voxels[i];
      ++n;
    }
  if (n == 0) return std::nullopt;
  return sum / static_cast<double>(n);
}

void postprocess(LabelMap& labels, const PostprocessParams& params) {
  if (!params.largest_liver_component && !params.tumour_inside_liver) return;
  LabelMap organ(labels.geometry, 0);
  for (size_t i = 0; i < labels.voxels.size(); ++i) organ.voxels[i] = labels.voxels[i] >= kLiver;
  const preprocess::Components comps =
      preprocess::label_components(organ, preprocess::Connectivity3D::k26);
  std::vector<uint8_t> has_liver(comps.sizes.size(), 0);
  for (size_t i = 0; i < labels.voxels.size(); ++i)
    if (labels.voxels[i] == kLiver) has_liver[static_cast<size_t>(comps.labels[i])] = 1;
  const int32_t keep = comps.largest();
  for (size_t i = 0; i < labels.voxels.size(); ++i) {
    const int32_t c = comps.labels[i];
    if (c == 0) continue;
    if (params.largest_liver_component && c != keep)
      labels.voxels[i] = kBackground;
    else if (params.tumour_inside_liver && labels.voxels[i] == kTumour &&
             !has_liver[static_cast<size_t>(c)])
      labels.voxels[i] = kBackground;
  }
}

torch::Device parse_device(const std::string& spec) {
  constexpr const char* kCudaPrefix = "cuda:";
  const std::string usage = "--device expects auto, cpu, cuda or cuda:N, got '" + spec + "'";
  if (spec == "auto")
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (spec == "cpu") return torch::kCPU;
  int64_t index = 0;
  if (spec.rfind(kCudaPrefix, 0) == 0) {
    const std::string digits = spec.substr(std::string(kCudaPrefix).size());
    constexpr size_t kMaxDigits = 3;
    if (digits.empty() || digits.size() > kMaxDigits ||
        !std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c); }))
      throw InputError("", usage);
    index = std::stoll(digits);
  } else if (spec != "cuda") {
    throw InputError("", usage);
  }
  if (!torch::cuda::is_available())
    throw InputError("", "--device " + spec + ": CUDA is not available in this build/machine");
  const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
  if (index >= count)
    throw InputError(
        "", "--device " + spec + ": only " + std::to_string(count) + " CUDA device(s) present");
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace aslseg::infer
