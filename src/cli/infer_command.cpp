// `aslseg infer`: batch inference of a trained segmentation net over a folder of CT volumes,
// one <stem>.nii.gz mask per case (docs/infer.md).
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aslseg/checkpoint/checkpoint.h"
#include "aslseg/cli/app.h"
#include "aslseg/cli/progress.h"
#include "aslseg/core/runtime.h"
#include "aslseg/infer/inputs.h"
#include "aslseg/infer/predictor.h"
#include "aslseg/io/error.h"
#include "aslseg/io/volume_io.h"
#include "aslseg/loop/component_filter_fit.h"
#include "aslseg/postprocess/component_filter.h"

namespace aslseg::cli {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kMaskExtension = ".nii.gz";
constexpr const char* kProbabilitySuffix = "_tumour_prob.nii.gz";
constexpr int64_t kDefaultBatchSize = 0;  // infer::auto_batch_size

struct Options {
  std::vector<std::string> models;  // one checkpoint or run folder, or several: an ensemble
  fs::path input;
  fs::path output;
  bool resume = false;
  std::string shard = "0/1";
  std::string device = "auto";
  int64_t batch_size = kDefaultBatchSize;
  bool no_largest_component = false;
  bool no_tumour_in_liver = false;
  bool no_component_filter = false;
  fs::path component_filter;  // empty: the run's own, if --model is a loop run
  bool save_probabilities = false;
  bool bf16 = false;
  bool mirror = false;
  bool sliding_window = false;
  int threads = 0;
  std::string dicom_series;  // empty: the series with most slices
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

fs::path mask_path(const Options& o, const infer::InputCase& c) {
  return o.output / (c.stem + kMaskExtension);
}
fs::path probability_path(const Options& o, const infer::InputCase& c) {
  return o.output / (c.stem + kProbabilitySuffix);
}

// A case read (or found finished, or found broken) by the background reader.
struct Loaded {
  enum class State { kReady, kSkipped, kFailed } state = State::kFailed;
  std::optional<infer::WindowedVolume> volume;
  std::optional<Image> hu;  // the HU volume, kept only for the component filter's contrast
  std::string error_path;
  std::string error;
  bool internal = false;
};

// --resume: finished when the mask reads back on the input's grid (and the probability map,
// when asked for, exists on it too). Anything less is redone.
bool finished(const Options& o, const infer::InputCase& c) {
  const fs::path mask = mask_path(o, c);
  std::error_code ec;
  if (!fs::exists(mask, ec)) return false;
  try {
    const Geometry input = io::read_geometry(c.path);
    const std::string diff = io::read_labels(mask).geometry.difference(input);
    if (!diff.empty()) {
      spdlog::warn("{}: exists but does not match its input ({}); predicting again", mask.string(),
                   diff);
      return false;
    }
    if (o.save_probabilities && !io::read_geometry(probability_path(o, c)).matches(input))
      return false;
    return true;
  } catch (const InputError& e) {
    spdlog::warn("{}; predicting again", e.what());
    return false;
  }
}

Loaded load_case(const Options& o, const infer::InputCase& c, const models::SegmenterSpec& spec,
                 bool keep_hu) {
  Loaded out;
  try {
    if (o.resume && finished(o, c)) {
      out.state = Loaded::State::kSkipped;
      return out;
    }
    Image hu = io::read_image(c.path, o.dicom_series);
    if (keep_hu) out.hu = hu;
    out.volume = infer::prepare(std::move(hu), spec);
    out.state = Loaded::State::kReady;
  } catch (const InputError& e) {
    out.error_path = e.path().empty() ? c.path.string() : e.path();
    out.error = e.problem();
  } catch (const std::bad_alloc&) {
    out.error_path = c.path.string();
    out.error = "out of memory while reading";
    out.internal = true;
  } catch (const std::exception& e) {
    out.error_path = c.path.string();
    out.error = std::string("internal error: ") + e.what();
    out.internal = true;
  }
  return out;
}

void log_model(const std::vector<fs::path>& checkpoints, const infer::Predictor& predictor) {
  const models::SegmenterSpec& s = predictor.spec();
  const models::UNetOptions& u = s.unet;
  for (const fs::path& c : checkpoints) spdlog::info("model: {}", c.string());
  if (checkpoints.size() > 1)
    spdlog::info("model: an ensemble of {} nets, their softmax averaged (sizes as the first's)",
                 checkpoints.size());
  spdlog::info(
      "model: U-Net depth {}, base width {}, norm {}, dropout {}, {} classes; input {} slice(s) "
      "(context {}) at {}x{}, window level {} width {} HU; {} parameters; device {}",
      u.depth, u.base_width, u.norm, u.dropout, u.num_classes, u.in_channels, s.context,
      s.image_size, s.image_size, s.window.level, s.window.width, predictor.net()->num_parameters(),
      predictor.device().str());
}

// --component-filter FILE, else the loop's component filter of the run given as --model (its
// last finished round's); a disabled filter with --no-component-filter or when there is none.
postprocess::ComponentFilter component_filter(const Options& o) {
  if (o.no_component_filter) return {};
  std::optional<fs::path> path;
  if (!o.component_filter.empty())
    path = o.component_filter;
  else if (o.models.size() == 1)
    path = infer::resolve_component_filter(o.models.front());
  if (!path) return {};
  const postprocess::ComponentFilter f = loop::read_component_filter(*path);
  if (f.enabled())
    spdlog::info(
        "model: the run's component filter ({}): tumour components it scores below {} "
        "become liver (--no-component-filter: keep them)",
        path->string(), f.threshold());
  return f;
}

void run_infer(const Options& o, CommandContext& ctx) {
  const auto start = Clock::now();
  if (o.batch_size < 0)
    throw InputError(
        "", "--batch-size must be >= 0 (0: automatic), got " + std::to_string(o.batch_size));
  if (o.threads < 0)
    throw InputError("", "--threads must be >= 0 (0: automatic), got " + std::to_string(o.threads));
  if (o.threads > 0) core::apply_threads(o.threads);
  const infer::Shard shard = infer::parse_shard(o.shard);
  const torch::Device device = infer::parse_device(o.device);
  std::vector<fs::path> checkpoints;
  for (const std::string& m : o.models)
    for (const fs::path& c : infer::resolve_checkpoints(m)) checkpoints.push_back(c);
  const std::vector<infer::InputCase> all = infer::discover_inputs(o.input);
  const std::vector<infer::InputCase> cases = infer::select_shard(all, shard);
  for (const infer::InputCase& c : cases) {
    std::error_code ec;
    if (fs::equivalent(c.path, mask_path(o, c), ec))
      throw InputError(c.path.string(), "--output would overwrite this input");
  }

  infer::Predictor predictor = infer::Predictor::from_checkpoints(checkpoints, device);
  log_model(checkpoints, predictor);
  const postprocess::ComponentFilter filter = component_filter(o);
  infer::PredictParams params;
  params.batch_size =
      o.batch_size > 0 ? o.batch_size : infer::auto_batch_size(predictor.spec().image_size);
  spdlog::info("infer: {} slice(s) per forward pass{}", params.batch_size,
               o.batch_size > 0 ? "" : " (automatic for the model size)");
  params.post.largest_liver_component = !o.no_largest_component;
  params.post.tumour_inside_liver = !o.no_tumour_in_liver;
  params.bf16 = o.bf16;
  params.mirror = o.mirror;
  params.sliding_window = o.sliding_window;
  spdlog::info("infer: {} case(s) in {}{}, writing to {}", cases.size(), o.input.string(),
               shard.count > 1 ? " (shard " + o.shard + " of " + std::to_string(all.size()) + ")"
                               : std::string(),
               o.output.string());
  fs::create_directories(o.output);

  int64_t done = 0;
  int64_t skipped = 0;
  std::vector<std::string> failures;
  bool internal_error = false;
  auto fail = [&](const std::string& path, const std::string& problem, bool internal) {
    spdlog::error("{}: {}", path, problem);
    failures.push_back(path + ": " + problem);
    internal_error = internal_error || internal;
  };

  const models::SegmenterSpec spec = predictor.spec();
  auto read_async = [&](size_t i) {
    return std::async(std::launch::async, load_case, std::cref(o), std::cref(cases[i]), spec,
                      filter.enabled());
  };
  Progress progress("infer", static_cast<int64_t>(cases.size()));
  std::future<Loaded> next;
  if (!cases.empty()) next = read_async(0);
  for (size_t i = 0; i < cases.size(); ++i) {
    const infer::InputCase& c = cases[i];
    Loaded current = next.get();
    // The next case is read and windowed while this one is computed.
    if (i + 1 < cases.size()) next = read_async(i + 1);
    if (current.state == Loaded::State::kSkipped) {
      ++skipped;
      spdlog::info("{}: skipped ({} exists)", c.stem, mask_path(o, c).string());
    } else if (current.state == Loaded::State::kFailed) {
      fail(current.error_path, current.error, current.internal);
    } else {
      try {
        const auto t0 = Clock::now();
        const Geometry g = current.volume->windowed.geometry;  // a copy: the volume is freed below
        params.member_labels = filter.enabled() && predictor.ensemble_size() > 1;
        infer::Prediction p =
            predictor.predict(*current.volume, params, o.save_probabilities || filter.enabled());
        current.volume.reset();  // the windowed volume is no longer needed
        if (filter.enabled()) {
          const int64_t removed = postprocess::filter_tumour_components(
              filter, *current.hu, *p.tumour_probability, p.labels, &p.member_labels);
          current.hu.reset();
          spdlog::debug("{}: component filter removed {} tumour component(s)", c.stem, removed);
          if (!o.save_probabilities) p.tumour_probability.reset();
        }
        const double compute = seconds_since(t0);
        io::write_labels(p.labels, mask_path(o, c));
        if (p.tumour_probability)
          io::write_image(*p.tumour_probability, probability_path(o, c), io::PixelType::kFloat32);
        ++done;
        spdlog::info("{}: {} slices of {}x{}, {:.2f} s ({:.2f} s compute, {:.3g} voxels/s) -> {}",
                     c.stem, g.size[2], g.size[0], g.size[1], seconds_since(t0), compute,
                     static_cast<double>(g.num_voxels()) / std::max(compute, 1e-9),
                     mask_path(o, c).string());
      } catch (const InputError& e) {
        fail(e.path().empty() ? c.path.string() : e.path(), e.problem(), false);
      } catch (const std::exception& e) {
        // c10::Error (device out of memory ...) or a failed write: this case only.
        fail(c.path.string(), std::string("internal error: ") + e.what(), true);
      }
    }
    progress.tick();
  }
  progress.finish();

  spdlog::info("infer: {} done, {} skipped, {} failed of {} case(s) in {:.1f} s", done, skipped,
               failures.size(), cases.size(), seconds_since(start));
  if (!failures.empty()) {
    for (const std::string& f : failures) spdlog::error("failed: {}", f);
    ctx.exit_code = internal_error ? kExitInternal : kExitBadInput;
  }
}

}  // namespace

void register_infer(CLI::App& app, CommandContext& ctx) {
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "infer", "Batch inference over a folder of CT volumes, one <stem>.nii.gz mask per case.");
  cmd->description(
      "Batch inference with a trained segmentation net: one uint8 mask (0 background, 1 liver, "
      "2 tumour)\nper case, written as OUTPUT/<input stem>.nii.gz with exactly the input's "
      "size, spacing, origin\nand direction.\n"
      "\n"
      "--model: a checkpoint file, or a run folder: a loop run's last finished round's SS (every\n"
      "  member when it is an ensemble, loop.ss_members), else RUN/ss/checkpoint.pt, else\n"
      "  RUN/checkpoint.pt. The checkpoint carries the net's hyper-parameters and preprocessing.\n"
      "  Several (--model A --model B, or A,B): an ensemble, their softmax averaged (nets\n"
      "  trained with different seeds; +0.05 tumour Dice for 3 nets on the development set of\n"
      "  docs/ss_recipe.md). They must share input size, context, window and classes.\n"
      "--input: a volume file (.nii, .nii.gz, .mha, .mhd, .nrrd, .nhdr), a folder of them\n"
      "  (hidden files and LiTS segmentation-* masks skipped; sub-folders of DICOM files, .dcm or\n"
      "  found by content whatever their names, are one DICOM case each), a dataset root\n"
      "  (imagesTr/ and imagesTs/, or images/, are read), or one DICOM series folder. Cases run\n"
      "  in natural order of their names.\n"
      "\n"
      "Per slice: HU padding (<= -2000) masked, HU window, 2k+1 context slices, bilinear resize "
      "to the\nmodel size, softmax (--sliding-window: on overlapping patches for a net trained on "
      "patches),\nbilinear back, argmax; padding voxels are background. "
      "Memory is bounded\nby one batch of slices plus two volumes (the next case is read while "
      "this one runs).\n"
      "A case that cannot be read is logged and skipped; the others still run, and the exit "
      "code is 2.");
  cmd->add_option("--model", opt->models,
                  "Checkpoint file or run folder; several (repeated or comma-separated): an "
                  "ensemble")
      ->required()
      ->delimiter(',');
  cmd->add_option("--input", opt->input, "Volume file, folder of volumes, or DICOM folder")
      ->required();
  cmd->add_option("--output", opt->output, "Folder for the masks (created)")->required();
  cmd->add_option("--dicom-series", opt->dicom_series,
                  "For a DICOM folder holding several series: the SeriesInstanceUID to read "
                  "(default: the series with most slices, with a warning that lists them all)");
  cmd->add_flag("--resume", opt->resume,
                "Skip cases whose mask already exists and reads back on the input's grid");
  cmd->add_option("--shard", opt->shard,
                  "i/n: take the cases whose 0-based index % n == i (job arrays)")
      ->capture_default_str();
  cmd->add_option("--device", opt->device, "auto | cpu | cuda | cuda:N")->capture_default_str();
  cmd->add_option("--batch-size", opt->batch_size,
                  "Slices per forward pass; 0: as many as fit 2 x 256² model pixels (2 for a 256² "
                  "model, 14 for 96², at most 16)")
      ->capture_default_str();
  cmd->add_flag("--no-largest-component", opt->no_largest_component,
                "Keep every liver island (default: only the largest 3D component)");
  cmd->add_flag("--no-tumour-in-liver", opt->no_tumour_in_liver,
                "Keep tumour voxels that touch no liver (default: they become background)");
  cmd->add_option("--component-filter", opt->component_filter,
                  "A component filter of 'aslseg component-filter' (JSON) to apply instead of "
                  "the run's own");
  cmd->add_flag("--no-component-filter", opt->no_component_filter,
                "With a loop run as --model: keep every tumour component (default: apply the "
                "round's learned component filter, RUN/round_K/component_filter.json, as the "
                "loop's test split did)");
  cmd->add_flag("--save-probabilities", opt->save_probabilities,
                "Also write OUTPUT/<stem>_tumour_prob.nii.gz (float32, before post-processing)");
  cmd->add_flag("--sliding-window", opt->sliding_window,
                "Run a net trained on patches on overlapping patches of that size, Gaussian-"
                "blended, instead of whole slices (2.25x the time for 48 in 96; fewer false "
                "lesions, lower tumour Dice on the development set: docs/infer.md)");
  cmd->add_flag("--mirror", opt->mirror,
                "Test-time mirroring: average the net over 4 flips of each slice (4x the time)");
  cmd->add_flag("--bf16,!--no-bf16", opt->bf16,
                "bf16 forward pass where it is native: CUDA, CPUs with AVX512-BF16 or AMX (float32 "
                "elsewhere); --no-bf16 forces float32 (default: --no-bf16)");
  cmd->add_option("--threads", opt->threads, "CPU threads for LibTorch (0: automatic)")
      ->capture_default_str();
  cmd->callback([opt, &ctx] { run_infer(*opt, ctx); });
}

}  // namespace aslseg::cli
