#include "aslseg/synth/synth_set.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "aslseg/io/atomic_file.h"
#include "aslseg/io/error.h"
#include "aslseg/io/volume_io.h"
#include "aslseg/synth/rng.h"

namespace aslseg::synth {

namespace {

// Bytes per voxel while one case is alive: float HU, labels, tissue map, and the writer's
// int16 copy plus ITK's own buffer.
constexpr double kBytesPerVoxel = 14.0;
constexpr double kMemoryShare = 0.5;  // of physical memory, for all workers together

double physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return 0.0;
  return static_cast<double>(pages) * static_cast<double>(page);
}

nlohmann::json geometry_json(const Geometry& g) {
  return {
      {"size", g.size}, {"spacing", g.spacing}, {"origin", g.origin}, {"direction", g.direction}};
}

}  // namespace

std::string volume_name(int index) { return "volume-" + std::to_string(index) + ".nii.gz"; }
std::string segmentation_name(int index) {
  return "segmentation-" + std::to_string(index) + ".nii.gz";
}

int default_threads(const PhantomParams& params, int cases) {
  const unsigned hw = std::thread::hardware_concurrency();
  int threads = std::max(1, static_cast<int>(hw));
  threads = std::min(threads, std::max(1, cases));
  const double per_case = kBytesPerVoxel * static_cast<double>(params.size[0]) *
                          static_cast<double>(params.size[1]) * static_cast<double>(params.size[2]);
  const double memory = physical_memory_bytes();
  if (memory > 0.0 && per_case > 0.0) {
    const double fit = kMemoryShare * memory / per_case;
    threads = std::min(threads, std::max(1, static_cast<int>(fit)));
  }
  return threads;
}

std::vector<CaseResult> write_set(const SetOptions& options,
                                  const std::function<void(const CaseResult&)>& on_case) {
  validate(options.params);
  if (options.cases < 1)
    throw InputError("", "--cases must be at least 1, got " + std::to_string(options.cases));
  if (options.threads < 0)
    throw InputError(
        "", "--threads must be >= 0 (0: automatic), got " + std::to_string(options.threads));
  std::filesystem::create_directories(options.out_dir);
  const int threads = std::min(
      options.threads > 0 ? options.threads : default_threads(options.params, options.cases),
      options.cases);

  std::vector<CaseResult> results(static_cast<size_t>(options.cases));
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<int> finished;
  int running = threads;
  std::exception_ptr error;

  auto worker = [&] {
    for (;;) {
      const int i = next.fetch_add(1);
      if (i >= options.cases || failed.load()) break;
      try {
        const auto start = std::chrono::steady_clock::now();
        CaseResult r;
        r.index = i;
        r.case_seed = case_seed(options.seed, static_cast<uint64_t>(i));
        r.image = volume_name(i);
        r.label = segmentation_name(i);
        Phantom phantom = make_phantom(options.params, r.case_seed);
        io::write_image(phantom.ct, options.out_dir / r.image, io::PixelType::kInt16);
        io::write_labels(phantom.labels, options.out_dir / r.label);
        r.info = std::move(phantom.info);
        r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::lock_guard<std::mutex> lock(mutex);
        results[static_cast<size_t>(i)] = std::move(r);
        finished.push_back(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
        failed = true;
      }
      changed.notify_one();
    }
    std::lock_guard<std::mutex> lock(mutex);
    --running;
    changed.notify_one();
  };

  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  {
    std::unique_lock<std::mutex> lock(mutex);
    for (;;) {
      changed.wait(lock, [&] { return !finished.empty() || running == 0; });
      while (!finished.empty()) {
        const int i = finished.front();
        finished.pop_front();
        // The callback may log or draw; do it without holding the workers up.
        lock.unlock();
        if (!failed.load()) {
          try {
            on_case(results[static_cast<size_t>(i)]);
          } catch (...) {
            std::lock_guard<std::mutex> relock(mutex);
            if (!error) error = std::current_exception();
            failed = true;
          }
        }
        lock.lock();
      }
      if (running == 0) break;
    }
  }
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);

  io::write_text_atomically(options.out_dir / "synth.json",
                            manifest(options, results).dump(2) + "\n");
  return results;
}

nlohmann::json to_json(const PhantomParams& p) {
  nlohmann::json j = {
      {"size", p.size},
      {"spacing", p.spacing},
      {"rotate_z_deg", p.rotate_z_deg},
      {"flip", p.flip},
      {"body_width_mm", p.body_width_mm},
      {"fov_fraction", p.fov_fraction},
      {"out_of_fov_hu", p.out_of_fov_hu},
      {"tumours_min", p.tumours_min},
      {"tumours_max", p.tumours_max},
      {"no_tumour_probability", p.no_tumour_probability},
      {"tumour_radius_min_mm", p.tumour_radius_min_mm},
      {"tumour_radius_max_mm", p.tumour_radius_max_mm},
      {"isodense_probability", p.isodense_probability},
      {"hyperdense_probability", p.hyperdense_probability},
      {"edge_tumour_probability", p.edge_tumour_probability},
      {"tumour_irregularity", p.tumour_irregularity},
      {"noise_sigma_min", p.noise_sigma_min},
      {"noise_sigma_max", p.noise_sigma_max},
      {"bias_hu", p.bias_hu},
  };
  j["origin"] = p.origin ? nlohmann::json(*p.origin) : nlohmann::json(nullptr);
  return j;
}

nlohmann::json to_json(const TumourInfo& t) {
  return {{"kind", to_string(t.kind)},
          {"centre_mm", t.centre_mm},
          {"centre_index", t.centre_index},
          {"radius_mm", t.radius_mm},
          {"max_radius_mm", t.max_radius_mm},
          {"hu", t.hu},
          {"contrast_hu", t.contrast_hu},
          {"at_edge", t.at_edge},
          {"rim", t.rim},
          {"necrotic_core", t.necrotic_core},
          {"voxels", t.voxels}};
}

nlohmann::json to_json(const PhantomInfo& info) {
  nlohmann::json tumours = nlohmann::json::array();
  for (const TumourInfo& t : info.tumours) tumours.push_back(to_json(t));
  return {{"seed", info.seed},
          {"body_width_mm", info.body_width_mm},
          {"anatomy_scale", info.anatomy_scale},
          {"liver_hu", info.liver_hu},
          {"vessel_hu", info.vessel_hu},
          {"noise_sigma", info.noise_sigma},
          {"liver_voxels", info.liver_voxels},
          {"tumour_voxels", info.tumour_voxels},
          {"liver_ml", info.liver_ml},
          {"tumour_ml", info.tumour_ml},
          {"liver_slices", {info.liver_first_slice, info.liver_last_slice}},
          {"tumour_count", info.tumours.size()},
          {"tumours", tumours}};
}

nlohmann::json manifest(const SetOptions& options, const std::vector<CaseResult>& cases) {
  nlohmann::json list = nlohmann::json::array();
  for (const CaseResult& c : cases) {
    nlohmann::json j = to_json(c.info);
    j["index"] = c.index;
    j["case_seed"] = c.case_seed;
    j["image"] = c.image;
    j["label"] = c.label;
    list.push_back(std::move(j));
  }
  return {{"generator", "aslseg synth"},
          {"version", ASLSEG_VERSION},
          {"seed", options.seed},
          {"case_count", options.cases},
          {"layout", "lits"},
          {"labels", {{"0", "background"}, {"1", "liver"}, {"2", "tumour"}}},
          {"params", to_json(options.params)},
          {"geometry", geometry_json(phantom_geometry(options.params))},
          {"cases", list}};
}

}  // namespace aslseg::synth
