// `aslseg synth`: writes CT-like abdominal phantoms with liver and tumour labels in the LiTS
// layout, for tests and demos (docs/synth.md).
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "aslseg/cli/app.h"
#include "aslseg/cli/progress.h"
#include "aslseg/io/error.h"
#include "aslseg/synth/synth_set.h"

namespace aslseg::cli {

namespace {

struct SynthOptions {
  std::string out;
  int cases = 4;
  uint64_t seed = 0;
  std::string size = "128,128,64";
  std::string spacing = "0.8,0.8,2.5";
  double rotate_deg = 0.0;
  std::string flip;
  double body_width = 0.0;
  std::string tumours = "0,6";
  std::string tumour_radius = "3,30";
  std::string noise = "10,20";
  double bias = 8.0;
  int threads = 0;
};

// Splits "a,b,c" into exactly `count` numbers; the error names the option and the format.
template <typename T>
std::vector<T> parse_list(const std::string& text, size_t count, const std::string& option,
                          const std::string& example) {
  std::vector<T> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::istringstream field(item);
    T v{};
    field >> v;
    if (field.fail() || !(field >> std::ws).eof())
      throw InputError("",
                       option + ": '" + item + "' is not a number (expected e.g. " + example + ")");
    values.push_back(v);
  }
  if (values.size() != count)
    throw InputError("", option + ": expected " + std::to_string(count) +
                             " comma-separated values like " + example + ", got '" + text + "'");
  return values;
}

synth::SetOptions to_set_options(const SynthOptions& o) {
  synth::SetOptions s;
  s.out_dir = o.out;
  s.cases = o.cases;
  s.seed = o.seed;
  s.threads = o.threads;
  synth::PhantomParams& p = s.params;
  const auto size = parse_list<int64_t>(o.size, 3, "--size", "128,128,64");
  const auto spacing = parse_list<double>(o.spacing, 3, "--spacing", "0.8,0.8,2.5");
  for (size_t a = 0; a < 3; ++a) {
    p.size[a] = size[a];
    p.spacing[a] = spacing[a];
  }
  p.rotate_z_deg = o.rotate_deg;
  for (char c : o.flip) {
    const std::string axes = "xyz";
    const auto a = axes.find(c);
    if (a == std::string::npos)
      throw InputError("", "--flip: '" + o.flip + "' may only contain the axes x, y and z");
    p.flip[a] = true;
  }
  p.body_width_mm = o.body_width;
  const auto tumours = parse_list<int>(o.tumours, 2, "--tumours", "0,6");
  p.tumours_min = tumours[0];
  p.tumours_max = tumours[1];
  const auto radius = parse_list<double>(o.tumour_radius, 2, "--tumour-radius", "3,30");
  p.tumour_radius_min_mm = radius[0];
  p.tumour_radius_max_mm = radius[1];
  const auto noise = parse_list<double>(o.noise, 2, "--noise", "10,20");
  p.noise_sigma_min = noise[0];
  p.noise_sigma_max = noise[1];
  p.bias_hu = o.bias;
  if (o.cases < 1)
    throw InputError("", "--cases must be at least 1, got " + std::to_string(o.cases));
  if (o.threads < 0)
    throw InputError("", "--threads must be >= 0 (0: automatic), got " + std::to_string(o.threads));
  synth::validate(p);
  return s;
}

void run_synth(const SynthOptions& o) {
  const synth::SetOptions options = to_set_options(o);
  const Geometry geometry = synth::phantom_geometry(options.params);
  spdlog::info("synth: {} case(s), seed {}, grid {}, into {}", options.cases, options.seed,
               geometry.describe(), options.out_dir.string());
  Progress progress("synth", options.cases);
  synth::write_set(options, [&](const synth::CaseResult& r) {
    spdlog::info(
        "case {}: {} + {}  liver {:.1f} mL, {} tumour(s) {:.2f} mL, noise {:.0f} HU "
        "({:.1f} s)",
        r.index, r.image, r.label, r.info.liver_ml, r.info.tumours.size(), r.info.tumour_ml,
        r.info.noise_sigma, r.seconds);
    progress.tick();
  });
  progress.finish();
  spdlog::info("synth: wrote {} case(s) and synth.json to {}", options.cases,
               options.out_dir.string());
}

}  // namespace

void register_synth(CLI::App& app, CommandContext& /*ctx*/) {
  auto opts = std::make_shared<SynthOptions>();
  CLI::App* cmd = app.add_subcommand(
      "synth",
      "Write CT-like abdominal phantoms with liver and tumour labels (LiTS layout), for tests "
      "and demos.");
  cmd->description(
      "Write CT-like abdominal phantoms with liver and tumour labels, for tests and demos.\n"
      "\n"
      "Each phantom is an axial CT volume in HU: air outside an elliptical body, subcutaneous\n"
      "fat (~-100), muscle wall (~45) with ribs, bowel and mesenteric fat, kidneys, spleen,\n"
      "stomach, gallbladder, aorta and IVC, a vertebral column (bone 220-650), lungs and heart\n"
      "above the diaphragm, and a liver (55-70 HU) of smooth irregular lobes in the right\n"
      "upper abdomen with contrast-filled vessels (150-180 HU). Tumours (0 to several per\n"
      "case) are hypodense, nearly isodense or hyperdense, of varied size, some on the liver\n"
      "surface; outlines are irregular. Gaussian noise and a smooth bias field are added;\n"
      "voxels outside the circular scan field hold -3024. Anatomy is drawn in millimetres and\n"
      "scaled to the body width (default: fit to the in-plane field of view).\n"
      "\n"
      "Output (LiTS layout) in --out:\n"
      "  volume-<i>.nii.gz        int16 HU\n"
      "  segmentation-<i>.nii.gz  uint8 labels: 0 background, 1 liver, 2 tumour\n"
      "  synth.json               parameters, seed, and per case the tumours and voxel counts\n"
      "\n"
      "Deterministic: the same options and seed give bit-identical files on any machine, and\n"
      "case i does not depend on --cases or --threads.");
  cmd->add_option("--out", opts->out, "Output folder (created if missing)")->required();
  cmd->add_option("--cases", opts->cases, "Number of cases, >= 1")->capture_default_str();
  cmd->add_option("--seed", opts->seed, "Seed of the set; case i uses a seed derived from it")
      ->capture_default_str();
  cmd->add_option("--size", opts->size, "Voxels X,Y,Z, each >= 8")->capture_default_str();
  cmd->add_option("--spacing", opts->spacing, "Voxel spacing sx,sy,sz in mm, each > 0")
      ->capture_default_str();
  cmd->add_option("--rotate-deg", opts->rotate_deg,
                  "Rotate the grid about z by this many degrees (non-identity direction; the "
                  "patient keeps its world orientation)")
      ->capture_default_str();
  cmd->add_option("--flip", opts->flip,
                  "Flip these grid axes in the direction matrix, e.g. x or xz");
  cmd->add_option("--body-width", opts->body_width,
                  "Body width in mm; 0 fits the field of view. Fix it to keep anatomy the same "
                  "physical size across grids")
      ->capture_default_str();
  cmd->add_option("--tumours", opts->tumours,
                  "MIN,MAX tumours per case (with MIN 0, 20% of cases have none)")
      ->capture_default_str();
  cmd->add_option("--tumour-radius", opts->tumour_radius,
                  "MIN,MAX tumour radius in mm for a 320 mm wide adult (scaled with the body)")
      ->capture_default_str();
  cmd->add_option("--noise", opts->noise, "MIN,MAX Gaussian noise sigma in HU, drawn per case")
      ->capture_default_str();
  cmd->add_option("--bias", opts->bias, "Amplitude of the smooth bias field in HU")
      ->capture_default_str();
  cmd->add_option("--threads", opts->threads,
                  "Cases generated in parallel; 0: hardware threads (limited by memory)")
      ->capture_default_str();
  cmd->callback([opts] { run_synth(*opts); });
}

}  // namespace aslseg::cli
