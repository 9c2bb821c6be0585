// SAM on the CPU, per the Predictor's work split (sam/sam_predictor.h): the image encoder once
// per slice (SamPredictor::set_slice: window, antialiased resize to the long side, normalise,
// pad, ViT), then the prompt encoder + mask decoder once per prompt call with B boxes in one
// batched pass, masks upsampled to a 512x512 slice (SamPredictor::predict). Models: the tiny
// test config (configs/sam/tiny.json, 256 px) and the official vit_b shape
// (configs/sam/vit_b.json, 1024 px), random weights (speed does not depend on their values).
// vit_b's encoder takes seconds per slice on 2 cores: few iterations. Counters:
//   slices_per_s         encoder throughput (set_slice)
//   prompt_sets_per_s    decoder throughput (B sets per predict call)
//   peak_rss_MiB         peak resident memory of this process so far (bench_util.h)
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "aslseg/models/sam.h"
#include "aslseg/sam/sam_predictor.h"
#include "bench_util.h"

namespace {

namespace fs = std::filesystem;

constexpr int64_t kSliceSide = 512;  // a LiTS / clinical CT slice
constexpr uint64_t kModelSeed = 0;
constexpr int kVitBEncoderIterations = 2;
constexpr int kVitBDecoderIterations = 5;

fs::path config_path(const std::string& name) {
  const fs::path next_to_source = fs::path(ASLSEG_SOURCE_DIR) / "configs/sam";
  return (fs::exists(next_to_source) ? next_to_source : fs::path("configs/sam")) / (name + ".json");
}

aslseg::models::Sam random_sam(const std::string& name) {
  spdlog::set_level(spdlog::level::err);  // load_sam's random-weights warning, once per run
  torch::manual_seed(kModelSeed);
  return aslseg::models::load_sam(aslseg::models::load_sam_config(config_path(name)), {});
}

// A CT-like slice: a noisy ellipse of soft tissue in air.
std::vector<float> ct_slice() {
  std::vector<float> hu(static_cast<size_t>(kSliceSide * kSliceSide));
  for (int64_t y = 0; y < kSliceSide; ++y)
    for (int64_t x = 0; x < kSliceSide; ++x) {
      const double u = (x - 256.0) / 220.0, v = (y - 256.0) / 160.0;
      hu[static_cast<size_t>(x + kSliceSide * y)] =
          u * u + v * v < 1.0 ? static_cast<float>(40.0 + 30.0 * std::sin(0.2 * x + 0.1 * y))
                              : -1000.0f;
    }
  return hu;
}

void encoder(benchmark::State& state, const std::string& name) {
  torch::NoGradGuard no_grad;
  aslseg::sam::SamPredictor predictor(random_sam(name), torch::kCPU);
  const std::vector<float> hu = ct_slice();
  for (auto _ : state) {
    predictor.set_slice(hu.data(), kSliceSide, kSliceSide, aslseg::preprocess::WindowParams{});
    benchmark::DoNotOptimize(predictor.embedding().data_ptr<float>());
  }
  state.counters["slices_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["peak_rss_MiB"] = aslseg::bench::peak_rss_mib();
}

void decoder(benchmark::State& state, const std::string& name) {
  torch::NoGradGuard no_grad;
  aslseg::models::Sam sam = random_sam(name);
  const auto& c = sam->config();
  aslseg::sam::SamPredictor predictor(sam, torch::kCPU);
  // The embedding's values do not change the decoder's cost: a random one saves an encoder run.
  predictor.set_embedding(torch::randn({1, c.out_chans, c.embedding_size(), c.embedding_size()}),
                          kSliceSide, kSliceSide);
  const int64_t sets = state.range(0);
  aslseg::sam::SamPrompts prompts;
  prompts.boxes = torch::empty({sets, 4});
  for (int64_t b = 0; b < sets; ++b) {
    const float o = 30.0f * static_cast<float>(b);
    prompts.boxes[b] = torch::tensor({100.0f + o, 120.0f + o, 160.0f + o, 170.0f + o});
  }
  for (auto _ : state) {
    const aslseg::sam::SamPrediction p = predictor.predict(prompts, false);
    benchmark::DoNotOptimize(p.masks.data_ptr());
  }
  state.counters["prompt_sets_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * sets), benchmark::Counter::kIsRate);
  state.counters["peak_rss_MiB"] = aslseg::bench::peak_rss_mib();
}

void BM_SamEncoderTiny(benchmark::State& s) { encoder(s, "tiny"); }
void BM_SamDecoderTiny(benchmark::State& s) { decoder(s, "tiny"); }
void BM_SamEncoderVitB(benchmark::State& s) { encoder(s, "vit_b"); }
void BM_SamDecoderVitB(benchmark::State& s) { decoder(s, "vit_b"); }

BENCHMARK(BM_SamEncoderTiny)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SamDecoderTiny)->Arg(1)->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SamEncoderVitB)
    ->Iterations(kVitBEncoderIterations)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_SamDecoderVitB)
    ->Arg(1)
    ->Arg(8)
    ->Iterations(kVitBDecoderIterations)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
