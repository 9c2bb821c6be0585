// Training throughput of the SSL stage, per paradigm (supervised, mean_teacher, ua_mt, cps),
// with the model and input of configs/ssl.json (U-Net base width 32, depth 5, 256x256 input,
// context 1, batch 8 labelled + 8 unlabelled). Each iteration is one ssl::train_segmenter
// call — the function `aslseg train` runs, nothing special-cased — on a small synthetic set
// made with the project's phantom code: 1 warm-up step, then kMeasuredSteps steps whose time
// is read from the trainer's own metrics log (elapsed_s, which excludes reading the volumes
// and writing the checkpoint). Counters:
//   slices_per_s    labelled + unlabelled slices consumed per second of training, counted as
//                   the trainer draws them: batch_labelled per step, plus batch_unlabelled
//                   when the paradigm uses unlabelled data (supervised draws no unlabelled
//                   batch: 8 slices per step; the SSL paradigms 16)
//   s_per_step      seconds per optimisation step
//   setup_s         the rest of the train_segmenter call: nets built, volumes read and
//                   resized, the warm-up step, the final checkpoint written
//   peak_rss_MiB    peak resident memory of this process so far (bench_util.h, kept across
//                   the resets below)
//   bench_peak_rss_MiB  peak resident memory of this benchmark alone (VmHWM after resetting
//                   it through /proc/self/clear_refs; left out where Linux refuses)
// ASLSEG_BENCH_CONFIG overrides the configuration file; ASLSEG_BENCH_TRAIN_STEPS the number
// of measured steps.
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aslseg/config/train_config.h"
#include "aslseg/dataset/split.h"
#include "aslseg/ssl/trainer.h"
#include "aslseg/synth/synth_set.h"
#include "bench_util.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int64_t kWarmupSteps = 1;
constexpr int64_t kDefaultMeasuredSteps = 3;
// The synthetic set: 2 labelled + 4 unlabelled phantoms, 256x256 in-plane (the model size, so
// no resize cost hides in the setup) and 32 slices.
constexpr int kLabelledCases = 2;
constexpr int kUnlabelledCases = 4;
constexpr uint64_t kSynthSeed = 7;

int64_t measured_steps() {
  if (const char* s = std::getenv("ASLSEG_BENCH_TRAIN_STEPS")) return std::max(1L, std::atol(s));
  return kDefaultMeasuredSteps;
}

using aslseg::bench::vm_status_mib;

// Peak RSS of one benchmark: Linux resets a process's VmHWM (and with it getrusage's
// ru_maxrss) when "5" is written to /proc/self/clear_refs. The peak seen before each reset is
// kept, so the whole-process peak is still reported.
double g_process_peak = 0.0;
bool reset_peak_rss() {
  g_process_peak =
      std::max({g_process_peak, vm_status_mib("VmHWM"), aslseg::bench::peak_rss_mib()});
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}
double process_peak_rss_mib() {
  return std::max({g_process_peak, vm_status_mib("VmHWM"), aslseg::bench::peak_rss_mib()});
}

// A temporary folder with the phantoms, made once per process and removed at exit.
struct SynthSet {
  fs::path dir;
  aslseg::dataset::TrainingSet training;

  SynthSet() {
    dir = fs::temp_directory_path() / ("aslseg-train-bench-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    aslseg::synth::SetOptions o;
    o.params.size = {256, 256, 32};
    o.params.spacing = {1.4, 1.4, 2.5};
    o.seed = kSynthSeed;
    o.cases = kLabelledCases + kUnlabelledCases;
    o.out_dir = dir / "data";
    const auto cases = aslseg::synth::write_set(o, [](const aslseg::synth::CaseResult&) {});
    for (const auto& c : cases) {
      const std::string id = std::to_string(c.index);
      if (c.index < kLabelledCases)
        training.labelled.push_back({id, o.out_dir / c.image, o.out_dir / c.label});
      else
        training.unlabelled.push_back({id, o.out_dir / c.image});  // label never given
    }
  }
  ~SynthSet() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

const SynthSet& synth_set() {
  static const SynthSet set;
  return set;
}

// metrics.jsonl: step -> elapsed_s (seconds since the training loop started).
std::map<int64_t, double> elapsed_by_step(const fs::path& metrics) {
  std::map<int64_t, double> out;
  std::ifstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    const json j = json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.contains("elapsed_s"))
      out[j.at("step").get<int64_t>()] = j.at("elapsed_s").get<double>();
  }
  return out;
}

void BM_Train(benchmark::State& state, const char* paradigm) {
  spdlog::set_level(spdlog::level::warn);
  const SynthSet& set = synth_set();
  const int64_t measured = measured_steps();
  const int64_t steps = kWarmupSteps + measured;
  const aslseg::config::TrainConfig cfg =
      aslseg::config::config_from_json(aslseg::config::resolve_config_json(
          aslseg::bench::ssl_config_path(),
          {std::string("ssl.paradigm=") + paradigm, "optim.steps=" + std::to_string(steps),
           "optim.log_every=1"}));
  const aslseg::ssl::TrainParams& p = cfg.train;
  const bool uses_unlabelled = std::string(paradigm) != "supervised";
  const int64_t slices_per_step =
      p.optim.batch_labelled + (uses_unlabelled ? p.optim.batch_unlabelled : 0);

  const bool own_peak = reset_peak_rss();
  double measured_s = 0.0, total_s = 0.0;
  int64_t run = 0;
  for (auto _ : state) {
    const fs::path out = set.dir / (std::string("run-") + paradigm + "-" + std::to_string(run++));
    const auto t0 = std::chrono::steady_clock::now();
    const auto result = aslseg::ssl::train_segmenter(p, set.training, {}, out);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!result.finished) {
      state.SkipWithError("training did not finish");
      break;
    }
    const auto elapsed = elapsed_by_step(out / "metrics.jsonl");
    if (!elapsed.count(kWarmupSteps) || !elapsed.count(steps)) {
      state.SkipWithError("metrics.jsonl lacks elapsed_s of the measured steps");
      break;
    }
    const double t = elapsed.at(steps) - elapsed.at(kWarmupSteps);
    state.SetIterationTime(t);
    measured_s += t;
    total_s += wall;
    fs::remove_all(out);
  }
  const double iterations = static_cast<double>(state.iterations());
  const double slices = static_cast<double>(measured * slices_per_step) * iterations;
  state.counters["slices_per_s"] = slices / measured_s;
  state.counters["s_per_step"] = measured_s / (static_cast<double>(measured) * iterations);
  state.counters["slices_per_step"] = static_cast<double>(slices_per_step);
  state.counters["measured_steps"] = static_cast<double>(measured);
  state.counters["setup_s"] = (total_s - measured_s) / iterations;
  state.counters["peak_rss_MiB"] = process_peak_rss_mib();
  if (own_peak) state.counters["bench_peak_rss_MiB"] = vm_status_mib("VmHWM");
  state.SetLabel(std::string(paradigm) + ", " + std::to_string(p.spec.image_size) + " px, base " +
                 std::to_string(p.spec.unet.base_width) + ", depth " +
                 std::to_string(p.spec.unet.depth) + ", batch " +
                 std::to_string(p.optim.batch_labelled) + "+" +
                 std::to_string(uses_unlabelled ? p.optim.batch_unlabelled : 0));
}

BENCHMARK_CAPTURE(BM_Train, supervised, "supervised")
    ->Unit(benchmark::kSecond)
    ->UseManualTime()
    ->Iterations(1);
BENCHMARK_CAPTURE(BM_Train, mean_teacher, "mean_teacher")
    ->Unit(benchmark::kSecond)
    ->UseManualTime()
    ->Iterations(1);
BENCHMARK_CAPTURE(BM_Train, ua_mt, "ua_mt")
    ->Unit(benchmark::kSecond)
    ->UseManualTime()
    ->Iterations(1);
BENCHMARK_CAPTURE(BM_Train, cps, "cps")->Unit(benchmark::kSecond)->UseManualTime()->Iterations(1);

}  // namespace
