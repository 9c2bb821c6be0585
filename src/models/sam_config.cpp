#include "aslseg/models/sam_config.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

#include "aslseg/config/json_fields.h"
#include "aslseg/io/error.h"

namespace aslseg::models {

namespace {

constexpr int64_t kChannelsPerColour = 3;        // RGB: one mean / std per channel
constexpr int64_t kUpscalingDivisor = 8;         // output_upscaling ends at out_chans / 8
constexpr int64_t kMaskDownscalingDivisor = 4;   // mask_downscaling starts at mask_in_chans / 4
constexpr int64_t kAttentionDownsampleRate = 2;  // TwoWayTransformer cross-attention
const std::set<std::string> kNormalizations{"mean_std", "min_max"};

const std::vector<std::string> kKeys{"image_size",
                                     "patch_size",
                                     "embed_dim",
                                     "depth",
                                     "num_heads",
                                     "global_attn_indexes",
                                     "window_size",
                                     "mlp_ratio",
                                     "qkv_bias",
                                     "use_rel_pos",
                                     "out_chans",
                                     "mask_in_chans",
                                     "num_multimask_outputs",
                                     "decoder_depth",
                                     "decoder_mlp_dim",
                                     "decoder_num_heads",
                                     "iou_head_depth",
                                     "iou_head_hidden_dim",
                                     "pixel_mean",
                                     "pixel_std",
                                     "mask_threshold",
                                     "input_normalization"};

[[noreturn]] void fail(const std::string& what) {
  throw std::invalid_argument("sam config: " + what);
}

void require_positive(const char* key, int64_t v) {
  if (v < 1) fail(std::string("'") + key + "' must be >= 1, got " + std::to_string(v));
}

void require_divides(const char* key, int64_t v, const char* by_key, int64_t by) {
  if (by < 1 || v % by != 0)
    fail(std::string("'") + key + "' (" + std::to_string(v) + ") must be divisible by " + by_key +
         " (" + std::to_string(by) + ")");
}

std::string join(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

}  // namespace

bool SamConfig::is_global_block(int64_t index) const {
  return std::find(global_attn_indexes.begin(), global_attn_indexes.end(), index) !=
         global_attn_indexes.end();
}

void validate(const SamConfig& c) {
  require_positive("image_size", c.image_size);
  require_positive("patch_size", c.patch_size);
  require_divides("image_size", c.image_size, "patch_size", c.patch_size);
  require_positive("embed_dim", c.embed_dim);
  require_positive("depth", c.depth);
  require_positive("num_heads", c.num_heads);
  require_divides("embed_dim", c.embed_dim, "num_heads", c.num_heads);
  for (int64_t i : c.global_attn_indexes)
    if (i < 0 || i >= c.depth)
      fail("'global_attn_indexes' entry " + std::to_string(i) + " is not a block index (depth " +
           std::to_string(c.depth) + ")");
  if (c.window_size < 0) fail("'window_size' must be >= 0 (0: global attention everywhere)");
  if (!(c.mlp_ratio > 0.0)) fail("'mlp_ratio' must be > 0");
  if (static_cast<int64_t>(static_cast<double>(c.embed_dim) * c.mlp_ratio) < 1)
    fail("'mlp_ratio' gives an empty MLP");
  require_positive("out_chans", c.out_chans);
  require_divides("out_chans", c.out_chans, "8 (output upscaling)", kUpscalingDivisor);
  require_positive("decoder_num_heads", c.decoder_num_heads);
  require_divides("out_chans", c.out_chans / kAttentionDownsampleRate,
                  "decoder_num_heads (after the cross-attention downsample rate 2)",
                  c.decoder_num_heads);
  require_positive("mask_in_chans", c.mask_in_chans);
  require_divides("mask_in_chans", c.mask_in_chans, "4 (mask downscaling)",
                  kMaskDownscalingDivisor);
  require_positive("num_multimask_outputs", c.num_multimask_outputs);
  require_positive("decoder_depth", c.decoder_depth);
  require_positive("decoder_mlp_dim", c.decoder_mlp_dim);
  require_positive("iou_head_depth", c.iou_head_depth);
  require_positive("iou_head_hidden_dim", c.iou_head_hidden_dim);
  if (static_cast<int64_t>(c.pixel_mean.size()) != kChannelsPerColour)
    fail("'pixel_mean' must have 3 values, got " + std::to_string(c.pixel_mean.size()));
  if (static_cast<int64_t>(c.pixel_std.size()) != kChannelsPerColour)
    fail("'pixel_std' must have 3 values, got " + std::to_string(c.pixel_std.size()));
  for (double s : c.pixel_std)
    if (!(s > 0.0)) fail("'pixel_std' values must be > 0");
  if (!kNormalizations.count(c.input_normalization))
    fail("'input_normalization' must be mean_std or min_max, got '" + c.input_normalization + "'");
}

void to_json(nlohmann::json& j, const SamConfig& c) {
  j = nlohmann::json{{"image_size", c.image_size},
                     {"patch_size", c.patch_size},
                     {"embed_dim", c.embed_dim},
                     {"depth", c.depth},
                     {"num_heads", c.num_heads},
                     {"global_attn_indexes", c.global_attn_indexes},
                     {"window_size", c.window_size},
                     {"mlp_ratio", c.mlp_ratio},
                     {"qkv_bias", c.qkv_bias},
                     {"use_rel_pos", c.use_rel_pos},
                     {"out_chans", c.out_chans},
                     {"mask_in_chans", c.mask_in_chans},
                     {"num_multimask_outputs", c.num_multimask_outputs},
                     {"decoder_depth", c.decoder_depth},
                     {"decoder_mlp_dim", c.decoder_mlp_dim},
                     {"decoder_num_heads", c.decoder_num_heads},
                     {"iou_head_depth", c.iou_head_depth},
                     {"iou_head_hidden_dim", c.iou_head_hidden_dim},
                     {"pixel_mean", c.pixel_mean},
                     {"pixel_std", c.pixel_std},
                     {"mask_threshold", c.mask_threshold},
                     {"input_normalization", c.input_normalization}};
}

void from_json(const nlohmann::json& j, SamConfig& c) {
  const std::string where = "sam config";
  config::reject_unknown_keys(j, kKeys, where);
  auto read = [&](const char* key, auto& field) { config::read_if_present(j, key, field, where); };
  read("image_size", c.image_size);
  read("patch_size", c.patch_size);
  read("embed_dim", c.embed_dim);
  read("depth", c.depth);
  read("num_heads", c.num_heads);
  read("global_attn_indexes", c.global_attn_indexes);
  read("window_size", c.window_size);
  read("mlp_ratio", c.mlp_ratio);
  read("qkv_bias", c.qkv_bias);
  read("use_rel_pos", c.use_rel_pos);
  read("out_chans", c.out_chans);
  read("mask_in_chans", c.mask_in_chans);
  read("num_multimask_outputs", c.num_multimask_outputs);
  read("decoder_depth", c.decoder_depth);
  read("decoder_mlp_dim", c.decoder_mlp_dim);
  read("decoder_num_heads", c.decoder_num_heads);
  read("iou_head_depth", c.iou_head_depth);
  read("iou_head_hidden_dim", c.iou_head_hidden_dim);
  read("pixel_mean", c.pixel_mean);
  read("pixel_std", c.pixel_std);
  read("mask_threshold", c.mask_threshold);
  read("input_normalization", c.input_normalization);
  validate(c);
}

SamConfig load_sam_config(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path.string(), "cannot open the SAM config");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path.string(), std::string("not valid JSON: ") + e.what());
  }
  try {
    return j.get<SamConfig>();
  } catch (const std::invalid_argument& e) {
    throw InputError(path.string(), e.what());
  }
}

std::string describe(const SamConfig& c) {
  std::ostringstream s;
  s << "SAM image " << c.image_size << " patch " << c.patch_size << " | encoder embed "
    << c.embed_dim << " depth " << c.depth << " heads " << c.num_heads << " window "
    << c.window_size << " global [" << join(c.global_attn_indexes) << "] mlp x" << c.mlp_ratio
    << (c.use_rel_pos ? " rel-pos" : "") << " | prompt dim " << c.out_chans << " mask_in "
    << c.mask_in_chans << " | decoder depth " << c.decoder_depth << " heads " << c.decoder_num_heads
    << " mlp " << c.decoder_mlp_dim << " masks 1+" << c.num_multimask_outputs << " iou head "
    << c.iou_head_depth << "x" << c.iou_head_hidden_dim << " | input " << c.input_normalization;
  return s.str();
}

}  // namespace aslseg::models
