// Inference on one CT-sized volume (512x512x300 at 0.75x0.75x1.5 mm, a synthetic phantom
// written once as .nii.gz) through the steps `aslseg infer` runs per case, in its order and
// with its defaults (src/cli/infer_command.cpp): read + window on a background thread
// (io::read_image, infer::prepare), Predictor::predict (batch 8), drop the windowed volume,
// infer::postprocess (largest liver component, tumour inside liver), io::write_labels. The
// model is a randomly initialised net shaped by configs/ssl.json (U-Net base 32, depth 5, 256 px,
// context 1), saved by checkpoint::save exactly as the trainer saves it (mean teacher: student,
// teacher, optimiser, metadata with the spec and inference_module "teacher") and loaded with
// Predictor::from_checkpoint, once, as the command does. Counters:
//   s_per_volume, read_s, predict_s, postprocess_s, write_s   seconds
//   voxels_per_s          voxels / s_per_volume (read to written mask)
//   compute_voxels_per_s  voxels / (predict + postprocess): the figure `aslseg infer` logs
//   peak_rss_MiB          peak resident memory of this process (bench_util.h, kept across the
//                         per-stage resets below); the phantom and the checkpoint are made in a
//                         child process, so this is the inference's own peak
//   read_peak_rss_MiB, predict_peak_rss_MiB, postprocess_peak_rss_MiB, write_peak_rss_MiB
//                         peak RSS during each stage (VmHWM reset through /proc/self/clear_refs
//                         at its start; left out where Linux refuses the reset)
//   rss_after_predict_MiB RSS once the prediction is made and the windowed volume dropped
// ASLSEG_BENCH_INFER_DIR=DIR keeps the volume and checkpoint in DIR (each reused when present),
// e.g. to time the real command on the same files:
//   /usr/bin/time -v build/aslseg infer --model DIR/checkpoint.pt --input DIR/ct.nii.gz --output
//   OUT
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <optional>
#include <string>

#include "aslseg/checkpoint/checkpoint.h"
#include "aslseg/config/train_config.h"
#include "aslseg/infer/predictor.h"
#include "aslseg/io/volume_io.h"
#include "aslseg/ssl/paradigm.h"
#include "aslseg/synth/synth_set.h"
#include "bench_util.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr uint64_t kSynthSeed = 3;
constexpr uint64_t kModelSeed = 0;

using aslseg::bench::vm_status_mib;

// Per-stage peaks: Linux resets a process's VmHWM (and with it getrusage's ru_maxrss) when
// "5" is written to /proc/self/clear_refs. Every reading taken before a reset is kept in
// `process_peak`, so the whole-process peak is still reported.
struct StagePeaks {
  double process_peak = 0.0;
  bool can_reset = false;
  StagePeaks() {
    process_peak = aslseg::bench::peak_rss_mib();
    can_reset = reset();
  }
  bool reset() {
    process_peak = std::max(process_peak, vm_status_mib("VmHWM"));
    std::ofstream f("/proc/self/clear_refs");
    f << "5";
    f.flush();
    return static_cast<bool>(f);
  }
  // Peak since the last reset; then resets.
  double take() {
    const double peak = vm_status_mib("VmHWM");
    reset();
    return peak;
  }
  double whole_process() {
    return std::max({process_peak, vm_status_mib("VmHWM"), aslseg::bench::peak_rss_mib()});
  }
};

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// The phantom (volume-0.nii.gz renamed ct.nii.gz) and a checkpoint saved as the trainer saves
// one at step 0 of a mean-teacher run of configs/ssl.json.
void make_volume(const fs::path& dir) {
  aslseg::synth::SetOptions o;
  o.params.size = {512, 512, 300};
  o.params.spacing = {0.75, 0.75, 1.5};
  o.seed = kSynthSeed;
  o.cases = 1;
  o.threads = 1;
  o.out_dir = dir / "synth";
  const auto cases = aslseg::synth::write_set(o, [](const aslseg::synth::CaseResult&) {});
  fs::rename(o.out_dir / cases.at(0).image, dir / "ct.nii.gz");
  fs::remove_all(o.out_dir);
}

void make_checkpoint(const fs::path& dir) {
  const aslseg::config::TrainConfig cfg =
      aslseg::config::config_from_json(aslseg::config::resolve_config_json(
          aslseg::bench::ssl_config_path(), {"ssl.paradigm=mean_teacher"}));
  const aslseg::ssl::TrainParams& p = cfg.train;
  auto paradigm = aslseg::ssl::make_paradigm(p.ssl, p.spec.unet, torch::kCPU, kModelSeed);
  torch::optim::AdamW optimizer(
      paradigm->trainable_parameters(),
      torch::optim::AdamWOptions(p.optim.lr).weight_decay(p.optim.weight_decay));
  std::string inference_module;
  const aslseg::models::UNet net = paradigm->inference_net();
  for (const auto& [name, module] : paradigm->modules())
    if (module.get() == net.ptr().get()) inference_module = name;
  aslseg::checkpoint::Contents contents{paradigm->modules(), &optimizer, json::object()};
  contents.meta = {{"step", 0},
                   {"config", json(p)},
                   {"spec", p.spec},
                   {"paradigm", paradigm->name()},
                   {"inference_module", inference_module}};
  aslseg::checkpoint::save(dir / "checkpoint.pt", contents);
}

struct Inputs {
  fs::path dir;
  bool keep = false;
  fs::path volume() const { return dir / "ct.nii.gz"; }
  fs::path checkpoint() const { return dir / "checkpoint.pt"; }
  fs::path output() const { return dir / "out" / "ct.nii.gz"; }

  Inputs() {
    if (const char* d = std::getenv("ASLSEG_BENCH_INFER_DIR")) {
      dir = d;
      keep = true;
    } else {
      dir = fs::temp_directory_path() / ("aslseg-infer-bench-" + std::to_string(::getpid()));
      fs::remove_all(dir);
    }
    fs::create_directories(dir / "out");
    if (fs::exists(volume()) && fs::exists(checkpoint())) return;
    // In a child process, so that the phantom generator's memory (about 14 bytes per voxel)
    // and the training-time nets never count in this process's peak RSS.
    std::cout.flush();
    const pid_t pid = ::fork();
    if (pid == 0) {
      int rc = 0;
      try {
        if (!fs::exists(dir / "ct.nii.gz")) make_volume(dir);
        if (!fs::exists(dir / "checkpoint.pt")) make_checkpoint(dir);
      } catch (const std::exception& e) {
        std::cerr << "infer_bench: making the inputs failed: " << e.what() << "\n";
        rc = 1;
      }
      std::_Exit(rc);
    }
    int status = 0;
    pid_t waited = -1;
    if (pid > 0) {
      do {
        waited = ::waitpid(pid, &status, 0);
      } while (waited < 0 && errno == EINTR);
    }
    if (waited != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      throw std::runtime_error("infer_bench: could not make the volume and checkpoint in " +
                               dir.string() + " (child status " + std::to_string(status) +
                               ", waitpid " + std::to_string(waited) + ")");
  }
  ~Inputs() {
    std::error_code ec;
    if (keep)
      fs::remove_all(dir / "out", ec);
    else
      fs::remove_all(dir, ec);
  }
};

const Inputs& inputs() {
  static const Inputs in;
  return in;
}

void BM_InferCase(benchmark::State& state) {
  spdlog::set_level(spdlog::level::warn);
  const Inputs& in = inputs();
  StagePeaks peaks;
  // Once per run, as in the command (Predictor::from_checkpoint, --device auto).
  aslseg::infer::Predictor predictor = aslseg::infer::Predictor::from_checkpoint(
      in.checkpoint(), aslseg::infer::parse_device("auto"));
  const aslseg::models::SegmenterSpec spec = predictor.spec();
  aslseg::infer::PredictParams params;  // the command's defaults: batch 8, both post-processings

  double read_s = 0, predict_s = 0, post_s = 0, write_s = 0, total_s = 0;
  double voxels = 0;
  // Peak RSS of each stage (VmHWM reset at its start), the last iteration's.
  double read_peak = -1, predict_peak = -1, post_peak = -1, write_peak = -1, after_drop = -1;
  for (auto _ : state) {
    peaks.reset();
    const auto t0 = Clock::now();
    // load_case: read and window on a background thread (std::async), waited for here.
    auto next = std::async(std::launch::async, [&] {
      return std::optional<aslseg::infer::WindowedVolume>(
          aslseg::infer::prepare(aslseg::io::read_image(in.volume()), spec));
    });
    std::optional<aslseg::infer::WindowedVolume> volume = next.get();
    const auto t1 = Clock::now();
    read_peak = peaks.take();
    voxels = static_cast<double>(volume->windowed.geometry.num_voxels());
    aslseg::infer::Prediction p = predictor.predict(*volume, params, false);
    volume.reset();  // the windowed volume is no longer needed
    const auto t2 = Clock::now();
    predict_peak = peaks.take();
    after_drop = vm_status_mib("VmRSS");
    aslseg::infer::postprocess(p.labels, params.post);
    const auto t3 = Clock::now();
    post_peak = peaks.take();
    aslseg::io::write_labels(p.labels, in.output());
    const auto t4 = Clock::now();
    write_peak = peaks.take();
    read_s += seconds(t0, t1);
    predict_s += seconds(t1, t2);
    post_s += seconds(t2, t3);
    write_s += seconds(t3, t4);
    total_s += seconds(t0, t4);
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["s_per_volume"] = total_s / n;
  state.counters["read_s"] = read_s / n;
  state.counters["predict_s"] = predict_s / n;
  state.counters["postprocess_s"] = post_s / n;
  state.counters["write_s"] = write_s / n;
  state.counters["voxels_per_s"] = voxels * n / total_s;
  state.counters["compute_voxels_per_s"] = voxels * n / (predict_s + post_s);
  state.counters["peak_rss_MiB"] = peaks.whole_process();
  if (peaks.can_reset) {
    state.counters["read_peak_rss_MiB"] = read_peak;
    state.counters["predict_peak_rss_MiB"] = predict_peak;
    state.counters["rss_after_predict_MiB"] = after_drop;
    state.counters["postprocess_peak_rss_MiB"] = post_peak;
    state.counters["write_peak_rss_MiB"] = write_peak;
  }
  state.SetLabel("512x512x300, " + std::to_string(spec.image_size) + " px, base " +
                 std::to_string(spec.unet.base_width) + ", depth " +
                 std::to_string(spec.unet.depth) + ", " +
                 std::to_string(predictor.net()->num_parameters()) + " parameters, " +
                 predictor.device().str());
}

BENCHMARK(BM_InferCase)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

}  // namespace
