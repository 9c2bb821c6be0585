// Read and write throughput of a 512x512x200 int16 CT volume as .nii.gz (and, for comparison,
// .nii and .mha), through aslseg::io (our validation pass + ITK). Throughput counts the
// uncompressed voxel bytes (104.9 MB), the figure that matters when loading a dataset.
#include <benchmark/benchmark.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "aslseg/io/volume_io.h"
#include "bench_util.h"

namespace {

namespace fs = std::filesystem;

constexpr int64_t kX = 512, kY = 512, kZ = 200;
constexpr float kAirHu = -1000.0f;
constexpr float kSoftTissueHu = 40.0f;
constexpr float kNoiseSigmaHu = 15.0f;

// A CT-like volume (air around a noisy elliptical body), so gzip sees realistic entropy: a
// constant or random volume would compress far better or far worse than a real scan.
aslseg::Image ct_like_volume() {
  aslseg::Geometry g;
  g.size = {kX, kY, kZ};
  g.spacing = {0.7, 0.7, 1.5};
  aslseg::Image img(g, kAirHu);
  std::mt19937 rng(1);
  std::normal_distribution<float> noise(0.0f, kNoiseSigmaHu);
  for (int64_t z = 0; z < kZ; ++z)
    for (int64_t y = 0; y < kY; ++y)
      for (int64_t x = 0; x < kX; ++x) {
        const double ex = (x - kX / 2.0) / (kX * 0.42), ey = (y - kY / 2.0) / (kY * 0.32);
        if (ex * ex + ey * ey < 1.0) img.at(x, y, z) = std::round(kSoftTissueHu + noise(rng));
      }
  return img;
}

const aslseg::Image& volume() {
  static const aslseg::Image img = ct_like_volume();
  return img;
}

fs::path bench_dir() {
  const fs::path d = fs::temp_directory_path() / "aslseg-io-bench";
  fs::create_directories(d);
  return d;
}

void report(benchmark::State& state, const fs::path& file) {
  const double bytes = static_cast<double>(volume().voxels.size() * sizeof(int16_t));
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
  state.counters["MB_per_s"] = benchmark::Counter(bytes / 1e6 * static_cast<double>(state.iterations()),
                                                  benchmark::Counter::kIsRate);
  state.counters["file_MB"] = static_cast<double>(fs::file_size(file)) / 1e6;
  state.counters["peak_rss_MiB"] = aslseg::bench::peak_rss_mib();
}

void BM_Write(benchmark::State& state, const char* ext) {
  const fs::path file = bench_dir() / (std::string("ct") + ext);
  for (auto _ : state) aslseg::io::write_image(volume(), file, aslseg::io::PixelType::kInt16);
  report(state, file);
}

void BM_Read(benchmark::State& state, const char* ext) {
  const fs::path file = bench_dir() / (std::string("ct") + ext);
  aslseg::io::write_image(volume(), file, aslseg::io::PixelType::kInt16);
  for (auto _ : state) benchmark::DoNotOptimize(aslseg::io::read_image(file));
  report(state, file);
}

BENCHMARK_CAPTURE(BM_Write, nii_gz, ".nii.gz")->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK_CAPTURE(BM_Read, nii_gz, ".nii.gz")->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK_CAPTURE(BM_Write, nii, ".nii")->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK_CAPTURE(BM_Read, nii, ".nii")->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK_CAPTURE(BM_Write, mha, ".mha")->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK_CAPTURE(BM_Read, mha, ".mha")->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

}  // namespace

