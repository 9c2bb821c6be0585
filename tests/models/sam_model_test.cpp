// SAM beyond the tiny fixture: configs (JSON, the official vit_b/l/h/MedSAM files), reduced
// models with the official configs' encoder shapes (other widths, a grid the window does not
// divide, no or only global blocks), official parameter counts and key names, windowed
// attention with padding against an explicit per-window loop, the relative-position
// interpolation path, prompt encoding and pre/post-processing.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "aslseg/io/error.h"
#include "aslseg/models/sam.h"
#include "aslseg/models/sam_encoder_attention.h"
#include "aslseg/models/sam_encoder_block.h"
#include "aslseg/models/sam_window.h"
#include "common/test_util.h"

namespace aslseg::models {
namespace {

namespace F = torch::nn::functional;

const std::filesystem::path kRepoRoot =
    std::filesystem::path(ASLSEG_SOURCE_DIR);
const std::filesystem::path kConfigDir = kRepoRoot / "configs" / "sam";

// Official parameter counts (sum of numel over model.parameters() of build_sam_vit_*).
constexpr int64_t kVitBParameters = 93735472;
constexpr int64_t kVitLParameters = 312342832;
constexpr int64_t kVitHParameters = 641090608;

// ---------------------------------------------------------------------------------------------
// Config

TEST(SamConfig, DefaultsAreOfficialVitB) {
  const SamConfig c;
  EXPECT_EQ(c.image_size, 1024);
  EXPECT_EQ(c.embed_dim, 768);
  EXPECT_EQ(c.global_attn_indexes, (std::vector<int64_t>{2, 5, 8, 11}));
  EXPECT_EQ(c.input_normalization, "mean_std");
  EXPECT_NO_THROW(validate(c));
}

TEST(SamConfig, ShippedConfigsHoldOfficialValues) {
  struct Expected {
    const char* file;
    int64_t embed, depth, heads;
    std::vector<int64_t> global;
    const char* norm;
  };
  const std::vector<Expected> all{{"vit_b.json", 768, 12, 12, {2, 5, 8, 11}, "mean_std"},
                                  {"vit_l.json", 1024, 24, 16, {5, 11, 17, 23}, "mean_std"},
                                  {"vit_h.json", 1280, 32, 16, {7, 15, 23, 31}, "mean_std"},
                                  {"medsam_vit_b.json", 768, 12, 12, {2, 5, 8, 11}, "min_max"}};
  for (const auto& e : all) {
    SCOPED_TRACE(e.file);
    const SamConfig c = load_sam_config(kConfigDir / e.file);
    EXPECT_EQ(c.embed_dim, e.embed);
    EXPECT_EQ(c.depth, e.depth);
    EXPECT_EQ(c.num_heads, e.heads);
    EXPECT_EQ(c.global_attn_indexes, e.global);
    EXPECT_EQ(c.input_normalization, e.norm);
    EXPECT_EQ(c.image_size, 1024);
    EXPECT_EQ(c.patch_size, 16);
    EXPECT_EQ(c.window_size, 14);
    EXPECT_EQ(c.out_chans, 256);
    EXPECT_EQ(c.mask_in_chans, 16);
    EXPECT_EQ(c.decoder_depth, 2);
    EXPECT_EQ(c.decoder_mlp_dim, 2048);
    EXPECT_EQ(c.decoder_num_heads, 8);
    EXPECT_EQ(c.iou_head_depth, 3);
    EXPECT_EQ(c.iou_head_hidden_dim, 256);
  }
  const SamConfig tiny = load_sam_config(kConfigDir / "tiny.json");
  EXPECT_EQ(tiny.image_size, 256);
  EXPECT_EQ(tiny.embed_dim, 64);
  EXPECT_EQ(tiny.window_size, 5);
}

TEST(SamConfig, JsonRoundTripAndMissingKeysKeepDefaults) {
  SamConfig c;
  c.embed_dim = 96;
  c.num_heads = 6;
  c.input_normalization = "min_max";
  c.global_attn_indexes = {1, 3};
  nlohmann::json j = c;
  const SamConfig back = j.get<SamConfig>();
  EXPECT_EQ(nlohmann::json(back), j);
  const SamConfig partial = nlohmann::json{{"embed_dim", 1024}, {"num_heads", 16}}.get<SamConfig>();
  EXPECT_EQ(partial.embed_dim, 1024);
  EXPECT_EQ(partial.depth, 12);
  EXPECT_EQ(partial.pixel_std, SamConfig().pixel_std);
}

TEST(SamConfig, RejectsUnknownKeysWrongTypesAndBadValuesNamingTheKey) {
  auto message = [](const nlohmann::json& j) -> std::string {
    try {
      j.get<SamConfig>();
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message({{"embed_dims", 1}}).find("embed_dims"), std::string::npos);
  EXPECT_NE(message({{"depth", "12"}}).find("depth"), std::string::npos);
  EXPECT_NE(message({{"depth", 2.5}}).find("depth"), std::string::npos);
  EXPECT_NE(message({{"qkv_bias", 1}}).find("qkv_bias"), std::string::npos);
  EXPECT_NE(message({{"global_attn_indexes", {1, "x"}}}).find("global_attn_indexes"),
            std::string::npos);
  EXPECT_NE(message({{"pixel_mean", {1.0, 2.0}}}).find("pixel_mean"), std::string::npos);
  EXPECT_NE(message({{"input_normalization", "zscore"}}).find("input_normalization"),
            std::string::npos);
  EXPECT_NE(message({{"num_heads", 7}}).find("num_heads"), std::string::npos);
  EXPECT_NE(message({{"global_attn_indexes", {12}}}).find("global_attn_indexes"),
            std::string::npos);
  EXPECT_NE(message(nlohmann::json::array()).find("object"), std::string::npos);
}

TEST(SamConfig, BadFileIsInputErrorNamingIt) {
  testing::TempDir dir;
  const auto missing = dir / "nope.json";
  try {
    load_sam_config(missing);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.path(), missing.string());
  }
  const auto broken = dir / "broken.json";
  std::ofstream(broken) << "{\"embed_dim\": ";
  EXPECT_THROW(load_sam_config(broken), InputError);
  const auto unknown = dir / "unknown.json";
  std::ofstream(unknown) << "{\"embed\": 3}";
  try {
    load_sam_config(unknown);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.path(), unknown.string());
    EXPECT_NE(std::string(e.what()).find("embed"), std::string::npos);
  }
}

TEST(SamConfig, DescribeIsOneLineWithTheShape) {
  const std::string d = describe(SamConfig());
  EXPECT_EQ(d.find('\n'), std::string::npos);
  for (const char* part : {"1024", "768", "12", "[2,5,8,11]", "256", "mean_std"})
    EXPECT_NE(d.find(part), std::string::npos) << part << " in " << d;
}

// ---------------------------------------------------------------------------------------------
// Models with the official configs' shapes, reduced.

// The official config `file` with every width divided by 16 (heads kept, so heads are
// narrower), a 320 input (20x20 grid, not a multiple of the window 7), `depth` blocks whose
// last is global unless `no_global`.
SamConfig reduced(const std::string& file, int64_t depth, bool no_global) {
  constexpr int64_t kWidthDivisor = 16;
  SamConfig c = load_sam_config(kConfigDir / file);
  c.embed_dim /= kWidthDivisor;
  c.image_size = 320;
  c.window_size = 7;
  c.depth = depth;
  c.global_attn_indexes = no_global ? std::vector<int64_t>{} : std::vector<int64_t>{depth - 1};
  c.out_chans = 32;
  c.decoder_mlp_dim = 64;
  c.decoder_num_heads = 4;
  c.iou_head_hidden_dim = 24;
  return c;
}

void expect_forward_shapes(const SamConfig& c) {
  torch::manual_seed(3);
  Sam sam(c);
  sam->eval();
  torch::NoGradGuard no_grad;
  const int64_t emb = c.embedding_size();
  const int64_t h = c.image_size, w = c.image_size * 3 / 4;  // portrait, padded on the right
  const torch::Tensor image = torch::rand({3, h, w}) * 255;
  const torch::Tensor pre = sam->preprocess(image);
  EXPECT_EQ(pre.sizes(), (std::vector<int64_t>{1, 3, c.image_size, c.image_size}));
  const torch::Tensor embeddings = sam->encode(pre);
  EXPECT_EQ(embeddings.sizes(), (std::vector<int64_t>{1, c.out_chans, emb, emb}));

  SamPrompt p;
  p.point_coords = torch::tensor({{{10.0f, 20.0f}, {50.0f, 60.0f}}, {{5.0f, 5.0f}, {9.0f, 9.0f}}});
  p.point_labels = torch::tensor({{1.0f, 0.0f}, {1.0f, -1.0f}});
  p.boxes = torch::tensor({{4.0f, 4.0f, 100.0f, 120.0f}, {0.0f, 0.0f, 30.0f, 30.0f}});
  p.mask_inputs = torch::randn({2, 1, 4 * emb, 4 * emb});
  const auto [sparse, dense] = sam->embed_prompts(p);
  EXPECT_EQ(sparse.sizes(), (std::vector<int64_t>{2, 4, c.out_chans}));  // 2 points + 2 corners
  EXPECT_EQ(dense.sizes(), (std::vector<int64_t>{2, c.out_chans, emb, emb}));
  const std::array<int64_t, 2> original{h * 2, w * 2};
  // One full forward (multimask); the single-mask path through decode on the same embedding.
  const SamOutput out = sam->forward(image, original, p, /*multimask=*/true);
  const int64_t m = c.num_multimask_outputs;
  EXPECT_EQ(out.low_res_logits.sizes(), (std::vector<int64_t>{2, m, 4 * emb, 4 * emb}));
  EXPECT_EQ(out.iou_predictions.sizes(), (std::vector<int64_t>{2, m}));
  EXPECT_EQ(out.masks.sizes(), (std::vector<int64_t>{2, m, original[0], original[1]}));
  EXPECT_EQ(out.masks.scalar_type(), torch::kBool);
  EXPECT_TRUE(torch::allclose(sam->decode(embeddings, p, true).first, out.low_res_logits));
  const auto [single, single_iou] = sam->decode(embeddings, p, /*multimask=*/false);
  EXPECT_EQ(single.sizes(), (std::vector<int64_t>{2, 1, 4 * emb, 4 * emb}));
  EXPECT_EQ(single_iou.sizes(), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(sam->postprocess_masks(single, {h, w}, original).sizes(),
            (std::vector<int64_t>{2, 1, original[0], original[1]}));
}

TEST(SamModel, ReducedOfficialShapesForward) {
  for (const char* file : {"vit_b.json", "vit_l.json", "vit_h.json"}) {
    SCOPED_TRACE(file);
    expect_forward_shapes(reduced(file, 2, /*no_global=*/false));
  }
  SCOPED_TRACE("windowed blocks only");
  expect_forward_shapes(reduced("vit_b.json", 2, /*no_global=*/true));
  SamConfig all_global = reduced("vit_l.json", 2, false);
  all_global.window_size = 0;
  SCOPED_TRACE("global blocks only");
  expect_forward_shapes(all_global);
}

TEST(SamModel, OfficialParameterCountsAndKeys) {
  Sam vit_b(load_sam_config(kConfigDir / "vit_b.json"));
  EXPECT_EQ(vit_b->num_parameters(), kVitBParameters);
  const auto params = vit_b->named_parameters();
  const auto buffers = vit_b->named_buffers();
  ASSERT_NE(params.find("image_encoder.blocks.3.attn.rel_pos_h"), nullptr);
  EXPECT_EQ(params["image_encoder.blocks.3.attn.rel_pos_h"].sizes(),
            (std::vector<int64_t>{27, 64}));  // window 14: 2*14-1 rows, head dim 768/12
  EXPECT_EQ(params["image_encoder.blocks.2.attn.rel_pos_h"].sizes(),
            (std::vector<int64_t>{127, 64}));  // global: 2*64-1
  EXPECT_EQ(params["image_encoder.pos_embed"].sizes(), (std::vector<int64_t>{1, 64, 64, 768}));
  for (const char* key :
       {"image_encoder.neck.3.bias", "prompt_encoder.mask_downscaling.6.weight",
        "prompt_encoder.point_embeddings.3.weight", "mask_decoder.output_upscaling.3.weight",
        "mask_decoder.output_hypernetworks_mlps.0.layers.1.weight",
        "mask_decoder.iou_prediction_head.layers.2.bias",
        "mask_decoder.transformer.layers.1.cross_attn_image_to_token.out_proj.weight",
        "mask_decoder.transformer.norm_final_attn.weight"})
    EXPECT_NE(params.find(key), nullptr) << key;
  EXPECT_EQ(params.find("image_encoder.blocks.0.attn.qkv.weight")->sizes(),
            (std::vector<int64_t>{3 * 768, 768}));
  EXPECT_EQ(buffers.size(), 1u);
  EXPECT_NE(buffers.find("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"), nullptr);
  for (const auto& item : params.items())
    EXPECT_EQ(item.key().find("pixel_"), std::string::npos) << item.key();
  // Encoder: pos_embed, patch_embed (2), 12 blocks x 14, neck (6) = 177. Prompt encoder:
  // gaussian matrix, 4 point embeddings, not_a_point, mask_downscaling (10), no_mask = 17.
  // Decoder: 2 layers x 36 + final attention (8) + norm (2), iou/mask tokens (2), upscaling (6),
  // 4 hypernetworks x 6, iou head (6) = 120.
  EXPECT_EQ(params.size() + buffers.size(), 177u + 17u + 120u);
}

// vit_l and vit_h are too big to build in a unit test: their count is a one-block SAM (with
// the same widths) plus the missing windowed and global blocks, each built on its own.
TEST(SamModel, OfficialParameterCountsOfVitLAndVitH) {
  auto count = [](const torch::nn::Module& m) {
    int64_t n = 0;
    for (const auto& t : m.parameters()) n += t.numel();
    return n;
  };
  for (const auto& [file, expected] : std::vector<std::pair<std::string, int64_t>>{
           {"vit_l.json", kVitLParameters}, {"vit_h.json", kVitHParameters}}) {
    SCOPED_TRACE(file);
    const SamConfig full = load_sam_config(kConfigDir / file);
    SamConfig one_block = full;
    one_block.depth = 1;
    one_block.global_attn_indexes.clear();
    SamEncoderBlockOptions o;
    o.dim = full.embed_dim;
    o.num_heads = full.num_heads;
    o.use_rel_pos = true;
    o.input_size = {full.embedding_size(), full.embedding_size()};
    o.window_size = full.window_size;
    const int64_t windowed = count(*SamEncoderBlock(o));
    o.window_size = 0;
    const int64_t global = count(*SamEncoderBlock(o));
    const auto n_global = static_cast<int64_t>(full.global_attn_indexes.size());
    EXPECT_EQ(Sam(one_block)->num_parameters() + (full.depth - n_global - 1) * windowed +
                  n_global * global,
              expected);
  }
}

// ---------------------------------------------------------------------------------------------
// Windowed attention with padding against an explicit per-window loop.

double dot_row(const torch::TensorAccessor<double, 2>& a, int64_t i,
               const torch::TensorAccessor<double, 2>& b, int64_t j, int64_t n) {
  double s = 0.0;
  for (int64_t c = 0; c < n; ++c) s += a[i][c] * b[j][c];
  return s;
}

// One window [ws*ws, dim] of tokens through multi-head attention with decomposed relative
// positions, written out with scalar loops in double: logits_ij = q_i.k_j * scale
// + q_i.Rh[qh - kh + ws - 1] + q_i.Rw[qw - kw + ws - 1].
torch::Tensor reference_window_attention(const torch::Tensor& tokens, int64_t ws, int64_t heads,
                                         const torch::Tensor& qkv_w, const torch::Tensor& qkv_b,
                                         const torch::Tensor& proj_w, const torch::Tensor& proj_b,
                                         const torch::Tensor& rel_h, const torch::Tensor& rel_w) {
  const int64_t n = ws * ws, dim = tokens.size(1), hd = dim / heads;
  const torch::Tensor qkv = torch::matmul(tokens, qkv_w.t()) + qkv_b;  // [n, 3*dim]
  torch::Tensor out = torch::zeros({n, dim}, torch::kDouble);
  const auto rh = rel_h.accessor<double, 2>();
  const auto rw = rel_w.accessor<double, 2>();
  for (int64_t h = 0; h < heads; ++h) {
    const torch::Tensor q = qkv.slice(1, h * hd, (h + 1) * hd).contiguous();
    const torch::Tensor k = qkv.slice(1, dim + h * hd, dim + (h + 1) * hd).contiguous();
    const torch::Tensor v = qkv.slice(1, 2 * dim + h * hd, 2 * dim + (h + 1) * hd).contiguous();
    const auto qa = q.accessor<double, 2>();
    const auto ka = k.accessor<double, 2>();
    const auto va = v.accessor<double, 2>();
    auto oa = out.accessor<double, 2>();
    const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
    for (int64_t i = 0; i < n; ++i) {
      std::vector<double> logits(n);
      double top = -1e300;
      for (int64_t j = 0; j < n; ++j) {
        const int64_t dh = i / ws - j / ws + ws - 1, dw = i % ws - j % ws + ws - 1;
        logits[j] = dot_row(qa, i, ka, j, hd) * scale + dot_row(qa, i, rh, dh, hd) +
                    dot_row(qa, i, rw, dw, hd);
        top = std::max(top, logits[j]);
      }
      double total = 0.0;
      for (double& l : logits) total += (l = std::exp(l - top));
      for (int64_t c = 0; c < hd; ++c) {
        double s = 0.0;
        for (int64_t j = 0; j < n; ++j) s += logits[j] / total * va[j][c];
        oa[i][h * hd + c] = s;
      }
    }
  }
  return torch::matmul(out, proj_w.t()) + proj_b;
}

TEST(SamModel, WindowedAttentionWithPaddingMatchesPerWindowLoop) {
  constexpr int64_t kDim = 24, kHeads = 3, kWindow = 4, kH = 9, kW = 6, kBatch = 2;
  torch::manual_seed(11);
  SamEncoderBlockOptions o;
  o.dim = kDim;
  o.num_heads = kHeads;
  o.use_rel_pos = true;
  o.window_size = kWindow;
  o.input_size = {kH, kW};
  SamEncoderBlock block(o);
  {
    torch::NoGradGuard no_grad;  // rel-pos tables start at zero: make them matter
    for (auto& p : block->parameters()) p.normal_(0.0, 0.3);
  }
  auto params = block->named_parameters();
  auto d = [&](const char* key) { return params[key].detach().to(torch::kDouble); };
  const torch::Tensor x = torch::randn({kBatch, kH, kW, kDim});
  torch::Tensor ours;
  {
    torch::NoGradGuard no_grad;
    ours = block->forward(x);
  }

  // Reference: norm1, zero-pad to multiples of the window, attention window by window, crop,
  // residual, then the MLP half.
  const torch::Tensor xd = x.to(torch::kDouble);
  const torch::Tensor n1 = torch::layer_norm(xd, {kDim}, d("norm1.weight"), d("norm1.bias"), 1e-6);
  const int64_t hp = 12, wp = 8;  // 9 -> 12, 6 -> 8
  torch::Tensor padded = torch::zeros({kBatch, hp, wp, kDim}, torch::kDouble);
  padded.slice(1, 0, kH).slice(2, 0, kW).copy_(n1);
  torch::Tensor attn = torch::zeros_like(padded);
  for (int64_t b = 0; b < kBatch; ++b)
    for (int64_t wy = 0; wy < hp; wy += kWindow)
      for (int64_t wx = 0; wx < wp; wx += kWindow) {
        const torch::Tensor tile =
            padded[b].slice(0, wy, wy + kWindow).slice(1, wx, wx + kWindow).reshape({-1, kDim});
        const torch::Tensor r = reference_window_attention(
            tile, kWindow, kHeads, d("attn.qkv.weight"), d("attn.qkv.bias"), d("attn.proj.weight"),
            d("attn.proj.bias"), d("attn.rel_pos_h"), d("attn.rel_pos_w"));
        attn[b]
            .slice(0, wy, wy + kWindow)
            .slice(1, wx, wx + kWindow)
            .copy_(r.reshape({kWindow, kWindow, kDim}));
      }
  const torch::Tensor h1 = xd + attn.slice(1, 0, kH).slice(2, 0, kW);
  const torch::Tensor n2 = torch::layer_norm(h1, {kDim}, d("norm2.weight"), d("norm2.bias"), 1e-6);
  const torch::Tensor mlp =
      torch::matmul(torch::gelu(torch::matmul(n2, d("mlp.lin1.weight").t()) + d("mlp.lin1.bias")),
                    d("mlp.lin2.weight").t()) +
      d("mlp.lin2.bias");
  const torch::Tensor expected = h1 + mlp;
  EXPECT_LE((ours.to(torch::kDouble) - expected).abs().max().item<double>(), 1e-4);
}

TEST(SamModel, WindowPartitionRoundTripsWithPadding) {
  const torch::Tensor x = torch::randn({2, 9, 6, 5});
  const SamWindows parts = sam_window_partition(x, 4);
  EXPECT_EQ(parts.windows.sizes(), (std::vector<int64_t>{2 * 3 * 2, 4, 4, 5}));
  EXPECT_EQ(parts.padded_hw, (std::array<int64_t, 2>{12, 8}));
  // Window (b=1, row 2, col 1) holds x[1, 8:9, 4:6] and zero padding.
  const torch::Tensor w = parts.windows[1 * 6 + 2 * 2 + 1];
  EXPECT_TRUE(torch::equal(w.slice(0, 0, 1).slice(1, 0, 2), x[1].slice(0, 8, 9).slice(1, 4, 6)));
  EXPECT_EQ(w.slice(0, 1).abs().sum().item<float>(), 0.0f);
  EXPECT_TRUE(torch::equal(sam_window_unpartition(parts.windows, 4, parts.padded_hw, {9, 6}), x));
}

// ---------------------------------------------------------------------------------------------
// Relative positions.

TEST(SamModel, RelPosInterpolatesWhenTheTableSizeDiffers) {
  // A 5-row table for a 7x7 attention (13 rows needed): linear resize, align_corners=False,
  // written out: src = (i + 0.5) * 5 / 13 - 0.5, clamped at 0.
  const torch::Tensor table = torch::randn({5, 3}, torch::kDouble);
  const torch::Tensor got = sam_get_rel_pos(7, 7, table);
  ASSERT_EQ(got.sizes(), (std::vector<int64_t>{7, 7, 3}));
  std::vector<torch::Tensor> rows;
  for (int64_t i = 0; i < 13; ++i) {
    const double src = std::max(0.0, (i + 0.5) * 5.0 / 13.0 - 0.5);
    const auto lo = static_cast<int64_t>(src);
    const int64_t hi = std::min<int64_t>(lo + 1, 4);
    const double t = src - static_cast<double>(lo);
    rows.push_back(table[lo] * (1 - t) + table[hi] * t);
  }
  for (int64_t q = 0; q < 7; ++q)
    for (int64_t k = 0; k < 7; ++k)
      EXPECT_LE((got[q][k] - rows[q - k + 6]).abs().max().item<double>(), 1e-9);
}

TEST(SamModel, RelPosScalesTheShorterSide) {
  // q 4, k 8: q coordinates are stretched by 2, index = 2q - k + 7.
  const torch::Tensor table = torch::arange(15, torch::kDouble).unsqueeze(1);
  const torch::Tensor got = sam_get_rel_pos(4, 8, table);
  ASSERT_EQ(got.sizes(), (std::vector<int64_t>{4, 8, 1}));
  for (int64_t q = 0; q < 4; ++q)
    for (int64_t k = 0; k < 8; ++k) EXPECT_EQ(got[q][k][0].item<double>(), 2 * q - k + 7);
}

TEST(SamModel, DecomposedRelPosMatchesPairwiseSum) {
  torch::manual_seed(5);
  const int64_t h = 3, w = 4, c = 2, b = 2;
  const torch::Tensor q = torch::randn({b, h * w, c}, torch::kDouble);
  const torch::Tensor attn = torch::randn({b, h * w, h * w}, torch::kDouble);
  const torch::Tensor rh = torch::randn({2 * h - 1, c}, torch::kDouble);
  const torch::Tensor rw = torch::randn({2 * w - 1, c}, torch::kDouble);
  const torch::Tensor got = sam_add_decomposed_rel_pos(attn, q, rh, rw, {h, w}, {h, w});
  for (int64_t n = 0; n < b; ++n)
    for (int64_t i = 0; i < h * w; ++i)
      for (int64_t j = 0; j < h * w; ++j) {
        const double expected = attn[n][i][j].item<double>() +
                                q[n][i].dot(rh[i / w - j / w + h - 1]).item<double>() +
                                q[n][i].dot(rw[i % w - j % w + w - 1]).item<double>();
        EXPECT_NEAR(got[n][i][j].item<double>(), expected, 1e-12);
      }
}

// ---------------------------------------------------------------------------------------------
// Prompts, pre- and post-processing.

SamConfig small_config() {
  SamConfig c = load_sam_config(kConfigDir / "tiny.json");
  return c;
}

TEST(SamModel, PointsWithoutBoxGetAPaddingPoint) {
  torch::manual_seed(1);
  Sam sam(small_config());
  torch::NoGradGuard no_grad;
  SamPrompt p;
  p.point_coords = torch::tensor({{{10.0f, 20.0f}}});
  p.point_labels = torch::tensor({{1}});
  auto [sparse, dense] = sam->embed_prompts(p);
  ASSERT_EQ(sparse.sizes(), (std::vector<int64_t>{1, 2, 32}));
  // The padding point is exactly not_a_point_embed.
  const torch::Tensor not_a_point =
      sam->prompt_encoder->named_parameters()["not_a_point_embed.weight"];
  EXPECT_TRUE(torch::equal(sparse[0][1], not_a_point[0]));
  // With a box there is no padding point: 1 point + 2 corners.
  p.boxes = torch::tensor({{1.0f, 2.0f, 30.0f, 40.0f}});
  EXPECT_EQ(sam->embed_prompts(p).first.size(1), 3);
  // No prompt at all: no sparse token, the no-mask embedding everywhere.
  auto [none_sparse, none_dense] = sam->embed_prompts(SamPrompt{});
  EXPECT_EQ(none_sparse.sizes(), (std::vector<int64_t>{1, 0, 32}));
  EXPECT_EQ(none_dense.sizes(), (std::vector<int64_t>{1, 32, 16, 16}));
  // A mask input of the wrong size is refused.
  SamPrompt bad;
  bad.mask_inputs = torch::zeros({1, 1, 32, 32});
  EXPECT_THROW(sam->embed_prompts(bad), std::invalid_argument);
}

TEST(SamModel, PreprocessNormalisesThenPads) {
  SamConfig c = small_config();
  const torch::Tensor image = torch::full({3, 256, 192}, 123.675f);
  torch::Tensor pre = Sam(c)->preprocess(image);
  ASSERT_EQ(pre.sizes(), (std::vector<int64_t>{1, 3, 256, 256}));
  EXPECT_NEAR(pre[0][0][5][5].item<float>(), 0.0f, 1e-6);
  EXPECT_NEAR(pre[0][1][5][5].item<float>(), (123.675 - 116.28) / 57.12, 1e-5);
  EXPECT_EQ(pre.slice(3, 192).abs().sum().item<float>(), 0.0f);  // padding is zero
  c.input_normalization = "min_max";                             // MedSAM: [0, 1] image fed as is
  const torch::Tensor unit = torch::rand({3, 200, 256});
  pre = Sam(c)->preprocess(unit);
  EXPECT_TRUE(torch::equal(pre[0].slice(1, 0, 200), unit));
  EXPECT_EQ(pre.slice(2, 200).abs().sum().item<float>(), 0.0f);
  EXPECT_THROW(Sam(c)->preprocess(torch::rand({3, 300, 10})), std::invalid_argument);
}

TEST(SamModel, PostprocessCropsPaddingAndResizes) {
  Sam sam(small_config());
  // Logits that are positive only over the left half of the 256x256 input.
  torch::Tensor low = -torch::ones({1, 1, 64, 64});
  low.slice(3, 0, 32).fill_(1.0f);
  const torch::Tensor out = sam->postprocess_masks(low, {256, 128}, {512, 256});
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{1, 1, 512, 256}));
  // input_size (256, 128) is the left half: everything kept is positive.
  EXPECT_GT(out.min().item<float>(), 0.0f);
}

TEST(SamModel, LoadSamWithoutCheckpointRunsWithRandomWeights) {
  SamConfig c = small_config();
  Sam sam = load_sam(c, {});
  EXPECT_FALSE(sam->is_training());
  EXPECT_EQ(sam->config().embed_dim, c.embed_dim);
}

}  // namespace
}  // namespace aslseg::models
