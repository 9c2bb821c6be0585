#include "aslseg/export/exporter.h"

#include <spdlog/spdlog.h>
#include <zlib.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <regex>
#include <set>

#include "aslseg/export/overlay.h"
#include "aslseg/export/png_io.h"
#include "aslseg/io/atomic_file.h"
#include "aslseg/io/error.h"
#include "aslseg/io/volume_io.h"
#include "aslseg/loop/run_layout.h"

namespace aslseg::exporting {

namespace {

namespace fs = std::filesystem;
// Keys in the order written, so manifest.json reads case first.
using ojson = nlohmann::ordered_json;

constexpr const char* kManifestFile = "manifest.json";
constexpr const char* kDatasetJsonFile = "dataset.json";
constexpr const char* kOverlayFolder = "overlays";
constexpr int kJsonIndent = 2;
constexpr size_t kCopyChunk = 1 << 20;
constexpr const char* kGzipWriteMode = "wb6";  // zlib's default level: size vs speed
// nnU-Net v2 finds datasets by folder name: $nnUNet_raw/Dataset<3 digits>_<name>.
const char* const kNnUnetFolderPattern = R"(Dataset\d{3}_.+)";

bool ends_with(std::string s, const std::string& suffix) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A case id becomes a file name: it must not climb out of the folder or hide.
bool is_safe_id(const std::string& id) {
  return !id.empty() && id[0] != '.' && id.find('/') == std::string::npos &&
         id.find('\\') == std::string::npos;
}

// int16 when every voxel is an integer HU in range (what CT is stored as), else float32, so
// the written values are exactly the ones read.
io::PixelType lossless_pixel_type(const Image& img) {
  for (float v : img.voxels)
    if (v != std::nearbyint(v) || v < std::numeric_limits<int16_t>::min() ||
        v > std::numeric_limits<int16_t>::max())
      return io::PixelType::kFloat32;
  return io::PixelType::kInt16;
}

void gzip_file(const fs::path& src, const fs::path& dst) {
  io::write_atomically(dst, [&](const fs::path& tmp) {
    std::ifstream in(src, std::ios::binary);
    if (!in) throw InputError(src.string(), "cannot open");
    gzFile gz = gzopen(tmp.c_str(), kGzipWriteMode);
    if (!gz) throw InputError(tmp.string(), "cannot open for writing");
    std::vector<char> buf(kCopyChunk);
    bool ok = true;
    while (ok && in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      const auto n = static_cast<unsigned>(in.gcount());
      if (n > 0) ok = gzwrite(gz, buf.data(), n) == static_cast<int>(n);
    }
    ok = (gzclose(gz) == Z_OK) && ok;
    if (!ok) throw InputError(dst.string(), "write failed (disk full?)");
  });
}

// Byte copy where the source already is .nii.gz (geometry and pixel type untouched, nothing
// re-encoded); a plain .nii is gzipped byte for byte; any other format (MetaImage, NRRD,
// DICOM) is written through ITK from the volume as read.
void export_image(const fs::path& src, const Image& img, const fs::path& dst) {
  const bool file = fs::is_regular_file(src);
  if (file && ends_with(src.filename().string(), ".nii.gz")) {
    io::write_atomically(dst, [&](const fs::path& tmp) {
      std::error_code ec;
      fs::copy_file(src, tmp, fs::copy_options::overwrite_existing, ec);
      if (ec) throw InputError(dst.string(), "cannot copy " + src.string() + ": " + ec.message());
    });
  } else if (file && ends_with(src.filename().string(), ".nii")) {
    gzip_file(src, dst);
  } else {
    io::write_image(img, dst, lossless_pixel_type(img));
  }
}

LabelMap read_stage(const fs::path& path, const Geometry& grid) {
  if (!fs::exists(path)) throw InputError(path.string(), "missing");
  return io::read_labels_matching(path, grid);
}

void check_values(const LabelMap& m, const fs::path& path) {
  for (uint8_t v : m.voxels)
    if (v > kTumour)
      throw InputError(path.string(), "label value " + std::to_string(v) +
                                          " is not a LiTS label (0 background, 1 liver, 2 tumour)");
}

struct Job {
  loop::SelectedCase sel;
  std::string output_id;
};

// Reads and checks everything first, then writes; on any failure the files written so far
// for this case are removed, so an exported folder never holds half a case.
ExportedCase export_case(const Job& job, const loop::RunLayout& layout, const ExportOptions& opt) {
  const loop::SelectedCase& sel = job.sel;
  ExportedCase out;
  out.selection = sel;
  out.output_id = job.output_id;
  out.source_image = fs::absolute(sel.image.is_relative() ? layout.run() / sel.image : sel.image)
                         .lexically_normal();
  out.source_label = fs::absolute(layout.pseudo_label(sel.round, sel.id)).lexically_normal();
  if (!fs::exists(out.source_image)) throw InputError(out.source_image.string(), "missing");
  const Image image = io::read_image(out.source_image);
  LabelMap label = read_stage(out.source_label, image.geometry);
  check_values(label, out.source_label);
  LabelMap pl[3];
  if (opt.overlays) {
    const loop::Stage stages[] = {loop::Stage::kPL1, loop::Stage::kPL2, loop::Stage::kPL3};
    for (int i = 0; i < 3; ++i)
      pl[i] = read_stage(layout.stage_label(sel.round, stages[i], sel.id), image.geometry);
  }

  const OutputNames names = output_names(opt.format, job.output_id);
  out.image = names.image;
  out.label = names.label;
  std::vector<fs::path> written;
  try {
    written.push_back(opt.out / out.image);
    export_image(out.source_image, image, opt.out / out.image);
    // The label takes the image's grid exactly (it matched within Geometry::kTolerance).
    label.geometry = image.geometry;
    written.push_back(opt.out / out.label);
    io::write_labels(label, opt.out / out.label);
    if (opt.overlays) {
      out.overlay_slice = overlay_slice(pl[2], pl[0], label);
      out.overlay = fs::path(kOverlayFolder) / (sel.id + ".png");
      written.push_back(opt.out / out.overlay);
      write_png(render_overlay(image, pl[0], pl[1], pl[2], out.overlay_slice),
                opt.out / out.overlay);
    }
  } catch (...) {
    std::error_code ec;
    for (const fs::path& p : written) fs::remove(p, ec);
    throw;
  }
  return out;
}

std::vector<int> rounds_to_export(const loop::RunLayout& layout, const ExportOptions& opt) {
  if (!fs::is_directory(layout.run())) throw InputError(layout.run().string(), "not a run folder");
  if (opt.round) {
    if (!fs::is_directory(layout.round_dir(*opt.round)))
      throw InputError(layout.round_dir(*opt.round).string(), "no such round in this run");
    if (!layout.is_finished(*opt.round))
      throw InputError(layout.selected_json(*opt.round).string(),
                       "missing: round " + std::to_string(*opt.round) + " has not finished");
    return {*opt.round};
  }
  for (int k : layout.rounds())
    if (!layout.is_finished(k))
      spdlog::info("round {} has not finished (no {}); its cases are not exported", k,
                   layout.selected_json(k).string());
  std::vector<int> rounds = layout.finished_rounds();
  if (rounds.empty())
    throw InputError(layout.run().string(),
                     "no finished round (no round_K/selected.json): the loop has not selected "
                     "anything yet");
  return rounds;
}

void prepare_out(const fs::path& out) {
  std::error_code ec;
  if (fs::exists(out, ec)) {
    if (!fs::is_directory(out, ec)) throw InputError(out.string(), "exists and is not a folder");
    if (!fs::is_empty(out, ec))
      throw InputError(out.string(),
                       "exists and is not empty; export into a new or empty folder (nothing "
                       "was written)");
  }
  fs::create_directories(out, ec);
  if (ec) throw InputError(out.string(), "cannot create folder: " + ec.message());
}

ojson nullable(const std::optional<double>& v) {
  return v && std::isfinite(*v) ? ojson(*v) : ojson(nullptr);
}

}  // namespace

ExportReport export_run(const ExportOptions& opt, const std::function<void()>& on_case) {
  const loop::RunLayout layout(opt.run);
  ExportReport report;
  report.rounds = rounds_to_export(layout, opt);

  // Earliest round first: a case keeps the label of the round that selected it.
  std::vector<Job> jobs;
  std::map<std::string, int> first_round;
  for (int k : report.rounds) {
    const fs::path file = layout.selected_json(k);
    for (loop::SelectedCase& c : loop::load_selected(file, k)) {
      if (!is_safe_id(c.id))
        throw InputError(file.string(), "case id '" + c.id + "' cannot be a file name");
      const auto [it, fresh] = first_round.emplace(c.id, k);
      if (!fresh) {
        spdlog::warn("{}: case '{}' was already selected in round {}; keeping that label",
                     file.string(), c.id, it->second);
        continue;
      }
      jobs.push_back({std::move(c), ""});
    }
  }
  std::vector<std::string> ids;
  for (const Job& j : jobs) ids.push_back(j.sel.id);
  const std::map<std::string, std::string> numbers = lits_numbers(ids);
  for (Job& j : jobs)
    j.output_id = opt.format == ExportFormat::kLits ? numbers.at(j.sel.id) : j.sel.id;

  prepare_out(opt.out);
  if (opt.format == ExportFormat::kNnUnet &&
      !std::regex_match(fs::absolute(opt.out).lexically_normal().filename().string(),
                        std::regex(kNnUnetFolderPattern)))
    spdlog::info(
        "nnU-Net v2 finds datasets named $nnUNet_raw/DatasetXXX_Name; rename or move "
        "{} accordingly",
        opt.out.string());
  if (jobs.empty()) spdlog::warn("no case was selected in round(s) exported; writing an empty set");

  for (const Job& job : jobs) {
    try {
      report.cases.push_back(export_case(job, layout, opt));
    } catch (const InputError& e) {
      const std::string file = e.path().empty() ? job.sel.image.string() : e.path();
      spdlog::error("{}: {} (case '{}' skipped)", file, e.problem(), job.sel.id);
      report.failures.push_back({job.sel.id, file, e.problem(), false});
    } catch (const std::bad_alloc&) {
      throw;
    } catch (const std::exception& e) {
      spdlog::error("case '{}': internal error: {} (case skipped)", job.sel.id, e.what());
      report.failures.push_back(
          {job.sel.id, job.sel.image.string(), std::string("internal error: ") + e.what(), true});
    }
    if (on_case) on_case();
  }

  if (opt.format == ExportFormat::kNnUnet)
    io::write_text_atomically(opt.out / kDatasetJsonFile, nnunet_dataset_json(report.cases.size()));
  io::write_text_atomically(opt.out / kManifestFile, manifest_json(opt, report));
  return report;
}

std::string manifest_json(const ExportOptions& opt, const ExportReport& report) {
  ojson cases = ojson::array();
  ojson id_map = ojson::object();
  for (const ExportedCase& c : report.cases) {
    const loop::SelectedCase& s = c.selection;
    cases.push_back(
        {{"case", s.id},
         {"output_id", c.output_id},
         {"round", s.round},
         {"reliability", s.reliability},
         {"liver_dice", s.liver_dice},
         {"uncertainty", nullable(s.uncertainty)},
         {"source_stage", {{"tumour", s.source.tumour}, {"liver", s.source.liver}}},
         {"source_image", c.source_image.string()},
         {"source_label", c.source_label.string()},
         {"image", c.image.generic_string()},
         {"label", c.label.generic_string()},
         {"overlay", c.overlay.empty() ? ojson(nullptr) : ojson(c.overlay.generic_string())},
         {"overlay_slice", c.overlay.empty() ? ojson(nullptr) : ojson(c.overlay_slice)}});
    id_map[s.id] = c.output_id;
  }
  ojson failures = ojson::array();
  for (const ExportFailure& f : report.failures)
    failures.push_back({{"case", f.case_id}, {"file", f.file}, {"error", f.problem}});
  ojson j = {{"aslseg_version", ASLSEG_VERSION},
             {"run", fs::absolute(opt.run).lexically_normal().string()},
             {"format", export_format_name(opt.format)},
             {"rounds", report.rounds},
             {"num_cases", report.cases.size()},
             {"cases", cases},
             {"failures", failures}};
  if (opt.format == ExportFormat::kLits) j["lits_ids"] = id_map;
  if (opt.overlays) {
    j["overlay"] = {{"window", {{"center", kOverlayWindowCenter}, {"width", kOverlayWindowWidth}}},
                    {"colours",
                     {{"PL1", {kPl1Colour.r, kPl1Colour.g, kPl1Colour.b}},
                      {"PL2", {kPl2Colour.r, kPl2Colour.g, kPl2Colour.b}},
                      {"PL3", {kPl3Colour.r, kPl3Colour.g, kPl3Colour.b}}}}};
  }
  return j.dump(kJsonIndent) + "\n";
}

}  // namespace aslseg::exporting
