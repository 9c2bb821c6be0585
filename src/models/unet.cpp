#include "aslseg/models/unet.h"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "aslseg/config/json_fields.h"
#include "aslseg/models/memory_format.h"

namespace aslseg::models {

namespace {

constexpr int64_t kConvKernel = 3;
constexpr int64_t kConvPadding = 1;   // "same" size for a 3x3 kernel
constexpr int64_t kPoolKernel = 2;    // 2x2 max-pool, stride 2
constexpr int64_t kUpKernel = 2;      // 2x2 transposed conv, stride 2
constexpr double kLeakySlope = 0.01;  // nnU-Net's LeakyReLU slope
constexpr int64_t kMaxGroups = 8;     // group norm: at most 8 groups
// 2^(depth-1) times base_width must stay far from overflow; no CT slice needs more levels.
constexpr int64_t kMaxDepth = 8;

const std::vector<std::string> kNorms{"batch", "instance", "group", "none"};
const std::vector<std::string> kOptionKeys{"in_channels", "num_classes", "base_width",
                                           "depth",       "norm",        "dropout"};

// Largest divisor of `channels` not above kMaxGroups, so GroupNorm always accepts it.
int64_t group_count(int64_t channels) {
  for (int64_t g = std::min(kMaxGroups, channels); g > 1; --g)
    if (channels % g == 0) return g;
  return 1;
}

torch::nn::AnyModule make_norm(const std::string& norm, int64_t channels) {
  if (norm == "batch") return torch::nn::AnyModule(torch::nn::BatchNorm2d(channels));
  if (norm == "instance")
    return torch::nn::AnyModule(
        torch::nn::InstanceNorm2d(torch::nn::InstanceNorm2dOptions(channels).affine(true)));
  // norm == "group" (validated before any module is built)
  return torch::nn::AnyModule(
      torch::nn::GroupNorm(torch::nn::GroupNormOptions(group_count(channels), channels)));
}

// conv3x3 -> norm -> LeakyReLU, twice (nnU-Net's stacked conv block). Convolutions carry a
// bias only without normalisation: a norm's shift makes it redundant.
class ConvBlockImpl : public torch::nn::Module {
 public:
  ConvBlockImpl(int64_t in, int64_t out, const std::string& norm) {
    const bool normalised = norm != "none";
    auto conv = [&](int64_t c_in) {
      return torch::nn::Conv2d(
          torch::nn::Conv2dOptions(c_in, out, kConvKernel).padding(kConvPadding).bias(!normalised));
    };
    conv1_ = register_module("conv1", conv(in));
    conv2_ = register_module("conv2", conv(out));
    if (normalised) {
      norm1_ = make_norm(norm, out);
      norm2_ = make_norm(norm, out);
      register_module("norm1", norm1_.ptr());
      register_module("norm2", norm2_.ptr());
    }
  }

  // The layout (models/memory_format.h) the block's filters are stored in.
  c10::MemoryFormat filter_layout() const { return filter_format(conv1_->weight); }

  torch::Tensor forward(torch::Tensor x) {
    x = conv1_->forward(x);
    if (!norm1_.is_empty()) x = norm1_.forward(x);
    x = torch::leaky_relu(x, kLeakySlope);
    x = conv2_->forward(x);
    if (!norm2_.is_empty()) x = norm2_.forward(x);
    return torch::leaky_relu(x, kLeakySlope);
  }

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::AnyModule norm1_;
  torch::nn::AnyModule norm2_;
};
TORCH_MODULE(ConvBlock);

int64_t level_width(const UNetOptions& o, int64_t level) { return o.base_width << level; }

}  // namespace

void validate(const UNetOptions& o) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("unet: " + what); };
  if (o.in_channels < 1) fail("in_channels must be >= 1, got " + std::to_string(o.in_channels));
  if (o.num_classes < 2) fail("num_classes must be >= 2, got " + std::to_string(o.num_classes));
  if (o.base_width < 1) fail("base_width must be >= 1, got " + std::to_string(o.base_width));
  if (o.depth < 2 || o.depth > kMaxDepth)
    fail("depth must be in [2, " + std::to_string(kMaxDepth) + "], got " + std::to_string(o.depth));
  if (std::find(kNorms.begin(), kNorms.end(), o.norm) == kNorms.end())
    fail("unknown norm '" + o.norm + "' (batch | instance | group | none)");
  if (!(o.dropout >= 0.0 && o.dropout < 1.0))
    fail("dropout must be in [0, 1), got " + std::to_string(o.dropout));
}

void to_json(nlohmann::json& j, const UNetOptions& o) {
  j = nlohmann::json{{"in_channels", o.in_channels},
                     {"num_classes", o.num_classes},
                     {"base_width", o.base_width},
                     {"depth", o.depth},
                     {"norm", o.norm},
                     {"dropout", o.dropout}};
}

void from_json(const nlohmann::json& j, UNetOptions& o) {
  constexpr const char* kWhere = "unet";
  config::reject_unknown_keys(j, kOptionKeys, kWhere);
  config::read_if_present(j, "in_channels", o.in_channels, kWhere);
  config::read_if_present(j, "num_classes", o.num_classes, kWhere);
  config::read_if_present(j, "base_width", o.base_width, kWhere);
  config::read_if_present(j, "depth", o.depth, kWhere);
  config::read_if_present(j, "norm", o.norm, kWhere);
  config::read_if_present(j, "dropout", o.dropout, kWhere);
  validate(o);
}

UNetImpl::UNetImpl(const UNetOptions& options) : options_(options) {
  validate(options_);
  encoders_ = register_module("encoders", torch::nn::ModuleList());
  upsamplers_ = register_module("upsamplers", torch::nn::ModuleList());
  decoders_ = register_module("decoders", torch::nn::ModuleList());
  int64_t in = options_.in_channels;
  for (int64_t level = 0; level < options_.depth; ++level) {
    const int64_t width = level_width(options_, level);
    encoders_->push_back(ConvBlock(in, width, options_.norm));
    in = width;
  }
  // Decoder modules are numbered in the order they run: index 0 is the deepest level.
  for (int64_t level = options_.depth - 2; level >= 0; --level) {
    const int64_t width = level_width(options_, level);
    upsamplers_->push_back(torch::nn::ConvTranspose2d(
        torch::nn::ConvTranspose2dOptions(level_width(options_, level + 1), width, kUpKernel)
            .stride(kUpKernel)));
    decoders_->push_back(ConvBlock(2 * width, width, options_.norm));
  }
  head_ = register_module("head", torch::nn::Conv2d(torch::nn::Conv2dOptions(
                                      options_.base_width, options_.num_classes, 1)));
  // NHWC from the start (models/memory_format.h). Checkpoints are written contiguous, so files
  // do not depend on the layout.
  to_memory_format(*this, c10::MemoryFormat::ChannelsLast);
}

torch::Tensor UNetImpl::forward(const torch::Tensor& x, bool mc_dropout) {
  const int64_t multiple = options_.size_multiple();
  if (x.dim() != 4 || x.size(1) != options_.in_channels)
    throw std::invalid_argument("unet: expected input [B, " + std::to_string(options_.in_channels) +
                                ", H, W], got " + c10::str(x.sizes()));
  if (x.size(2) % multiple != 0 || x.size(3) % multiple != 0)
    throw std::invalid_argument("unet: input height and width must be multiples of " +
                                std::to_string(multiple) + " (2^(depth-1)), got " +
                                std::to_string(x.size(2)) + "x" + std::to_string(x.size(3)));
  const bool drop = options_.dropout > 0.0 && (is_training() || mc_dropout);
  auto dropout = [&](const torch::Tensor& t) {
    return drop ? torch::dropout(t, options_.dropout, /*train=*/true) : t;
  };

  std::vector<torch::Tensor> skips;
  // Activations take the filters' layout (NHWC unless a caller converted the net), and it
  // propagates through every layer from the input.
  torch::Tensor h = x.contiguous(encoders_[0]->as<ConvBlock>()->filter_layout());
  for (size_t level = 0; level < encoders_->size(); ++level) {
    if (level > 0) h = torch::max_pool2d(h, kPoolKernel);
    h = encoders_[level]->as<ConvBlock>()->forward(h);
    skips.push_back(h);
  }
  skips.pop_back();  // the bottleneck is not a skip connection
  for (size_t i = 0; i < decoders_->size(); ++i) {
    h = transposed_conv_2x2(dropout(h), *upsamplers_[i]->as<torch::nn::ConvTranspose2dImpl>());
    h = torch::cat({skips.back(), h}, 1);
    skips.pop_back();
    h = decoders_[i]->as<ConvBlock>()->forward(h);
  }
  return head_->forward(dropout(h));
}

int64_t UNetImpl::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

}  // namespace aslseg::models
