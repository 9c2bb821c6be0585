// `aslseg export` end to end with the real binary: a fake run folder built from `aslseg synth`
// phantoms (two finished rounds, one unfinished), exported in all three formats and checked
// structurally; then the failure paths (a corrupt pseudo-label, a missing overlay input, bad
// label values, refusals).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <set>

#include "aslseg/dataset/dataset.h"
#include "aslseg/export/exporter.h"
#include "aslseg/export/overlay.h"
#include "aslseg/export/png_io.h"
#include "aslseg/io/atomic_file.h"
#include "aslseg/io/error.h"
#include "aslseg/io/volume_io.h"
#include "aslseg/loop/corrupt.h"
#include "aslseg/loop/run_layout.h"
#include "aslseg/loop/selected_case.h"
#include "common/test_util.h"

namespace aslseg {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::read_text;
using testing::run_cli;

// Grids compared after a NIfTI round trip (float32 header fields).
constexpr double kGeometryTolerance = 1e-6;
const std::vector<std::string> kCases = {"0", "2", "liverA"};

std::string bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The tumour of every slice passed through `f` (liver kept), as the loop's stage outputs.
template <typename F>
LabelMap transform_tumour(const LabelMap& gt, F f) {
  const int64_t w = gt.geometry.size[0], h = gt.geometry.size[1];
  LabelMap out(gt.geometry, kBackground);
  for (int64_t z = 0; z < gt.geometry.size[2]; ++z) {
    const loop::Mask2D t = f(loop::Mask2D::from_label(gt.slice(z), w, h, kTumour));
    for (int64_t i = 0; i < w * h; ++i) {
      out.slice(z)[i] = gt.slice(z)[i] >= kLiver ? kLiver : kBackground;
      if (t.pixels[static_cast<size_t>(i)]) out.slice(z)[i] = kTumour;
    }
  }
  return out;
}

loop::SelectedCase selection(const std::string& id, const fs::path& image, int round,
                             double reliability) {
  loop::SelectedCase c;
  c.id = id;
  c.image = image;
  c.round = round;
  c.reliability = reliability;
  c.liver_dice = 0.97;
  if (id != "2") c.uncertainty = 0.05;
  return c;
}

class ExportCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    ASSERT_EQ(run_cli("synth --out " + data().string() +
                      " --cases 3 --size 48,40,12 --spacing 7,7,8 --tumours 2,3 --seed 4"),
              0);
    // case "liverA" is phantom 1, its image referred to relative to the run folder.
    fs::create_directories(run() / "images");
    fs::copy_file(data() / "volume-1.nii.gz", run() / "images" / "volume-1.nii.gz");
    const loop::RunLayout layout(run());
    const std::map<std::string, int> source = {{"0", 0}, {"2", 2}, {"liverA", 1}};
    const std::map<std::string, int> round = {{"0", 1}, {"liverA", 1}, {"2", 2}};
    for (const auto& [id, index] : source) {
      const LabelMap gt =
          io::read_labels(data() / ("segmentation-" + std::to_string(index) + ".nii.gz"));
      ASSERT_GT(std::count(gt.voxels.begin(), gt.voxels.end(), kTumour), 0) << "premise: tumour";
      const int k = round.at(id);
      io::write_labels(gt, layout.pseudo_label(k, id));
      io::write_labels(
          transform_tumour(gt, [](const loop::Mask2D& m) { return loop::shift(m, 3, 0); }),
          layout.stage_label(k, loop::Stage::kPL1, id));
      io::write_labels(
          transform_tumour(gt, [](const loop::Mask2D& m) { return loop::dilate(m, 2); }),
          layout.stage_label(k, loop::Stage::kPL2, id));
      io::write_labels(gt, layout.stage_label(k, loop::Stage::kPL3, id));
    }
    io::write_text_atomically(
        layout.selected_json(1),
        loop::selected_to_json({selection("0", fs::absolute(data() / "volume-0.nii.gz"), 1, 0.91),
                                selection("liverA", "images/volume-1.nii.gz", 1, 0.88)}));
    io::write_text_atomically(layout.selected_json(2),
                              loop::selected_to_json({selection(
                                  "2", fs::absolute(data() / "volume-2.nii.gz"), 2, 0.85)}));
    // An unfinished round: outputs but no selected.json. Its case must not be exported.
    io::write_labels(io::read_labels(data() / "segmentation-1.nii.gz"),
                     layout.pseudo_label(3, "1"));
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static fs::path data() { return dir_->path() / "data"; }
  static fs::path run() { return dir_->path() / "run"; }
  static fs::path path(const std::string& name) { return dir_->path() / name; }
  static std::string source_image(const std::string& id) {
    const std::map<std::string, std::string> src = {
        {"0", "volume-0.nii.gz"}, {"2", "volume-2.nii.gz"}, {"liverA", "volume-1.nii.gz"}};
    return (data() / src.at(id)).string();
  }
  static fs::path pseudo_label(const std::string& id) {
    return loop::RunLayout(run()).pseudo_label(id == "2" ? 2 : 1, id);
  }
  // A copy of the good run to break.
  static fs::path copy_run(const std::string& name) {
    fs::copy(run(), path(name), fs::copy_options::recursive);
    return path(name);
  }

  static testing::TempDir* dir_;
};

testing::TempDir* ExportCli::dir_ = nullptr;

std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) names.push_back(fs::relative(e.path(), dir).generic_string());
  std::sort(names.begin(), names.end());
  return names;
}

void expect_label_on_image_grid(const fs::path& image, const fs::path& label) {
  ASSERT_TRUE(fs::exists(image)) << image;
  ASSERT_TRUE(fs::exists(label)) << label;
  EXPECT_EQ(io::read_geometry(label).difference(io::read_geometry(image), kGeometryTolerance), "")
      << label;
  const LabelMap l = io::read_labels(label);
  for (uint8_t v : l.voxels) ASSERT_LE(v, kTumour) << label;
}

bool has_colour(const exporting::RgbImage& img, exporting::Rgb c) {
  for (int64_t y = 0; y < img.height; ++y)
    for (int64_t x = 0; x < img.width; ++x)
      if (img.at(x, y) == c) return true;
  return false;
}

TEST_F(ExportCli, NnUnetDatasetWithManifestAndOverlays) {
  const fs::path out = path("Dataset501_PL");
  const fs::path log = path("nnunet.log");
  ASSERT_EQ(
      run_cli("export --run " + run().string() + " --out " + out.string() + " --format nnunet",
              log),
      0)
      << read_text(log);
  EXPECT_EQ(listing(out), (std::vector<std::string>{
                              "dataset.json", "imagesTr/0_0000.nii.gz", "imagesTr/2_0000.nii.gz",
                              "imagesTr/liverA_0000.nii.gz", "labelsTr/0.nii.gz",
                              "labelsTr/2.nii.gz", "labelsTr/liverA.nii.gz", "manifest.json",
                              "overlays/0.png", "overlays/2.png", "overlays/liverA.png"}))
      << "exactly these files, no temporaries, nothing from the unfinished round 3";

  const json ds = json::parse(read_text(out / "dataset.json"));
  EXPECT_EQ(ds["channel_names"], json({{"0", "CT"}}));
  EXPECT_EQ(ds["labels"], json({{"background", 0}, {"liver", 1}, {"tumour", 2}}));
  EXPECT_EQ(ds["numTraining"], 3);
  EXPECT_EQ(ds["file_ending"], ".nii.gz");

  // Our own reader sees a complete nnU-Net raw dataset.
  const dataset::Dataset found = dataset::discover(out);
  EXPECT_EQ(found.layout, dataset::Layout::kNnUnet);
  EXPECT_EQ(found.cases.size(), 3u);
  EXPECT_EQ(found.num_labelled(), 3u);

  const json manifest = json::parse(read_text(out / "manifest.json"));
  EXPECT_EQ(manifest["format"], "nnunet");
  EXPECT_EQ(manifest["rounds"], json({1, 2}));
  EXPECT_EQ(manifest["num_cases"], 3);
  EXPECT_TRUE(manifest["failures"].empty());
  ASSERT_EQ(manifest["cases"].size(), 3u);
  for (const json& c : manifest["cases"]) {
    const std::string id = c["case"];
    SCOPED_TRACE(id);
    EXPECT_EQ(c["round"], id == "2" ? 2 : 1);
    EXPECT_EQ(c["source_stage"], json({{"tumour", "PL3"}, {"liver", "PL1"}}));
    EXPECT_EQ(c["liver_dice"], 0.97);
    EXPECT_EQ(c["reliability"], id == "0" ? 0.91 : id == "2" ? 0.85 : 0.88);
    if (id == "2") {
      EXPECT_TRUE(c["uncertainty"].is_null());
    } else {
      EXPECT_EQ(c["uncertainty"], 0.05);
    }
    EXPECT_EQ(c["image"], "imagesTr/" + id + "_0000.nii.gz");
    EXPECT_EQ(c["label"], "labelsTr/" + id + ".nii.gz");
    EXPECT_EQ(fs::path(c["source_image"].get<std::string>()).filename(),
              fs::path(source_image(id)).filename());

    // Image copied byte for byte, label on its grid with the pseudo-label's content.
    EXPECT_EQ(bytes(out / c["image"].get<std::string>()), bytes(source_image(id)));
    expect_label_on_image_grid(out / c["image"].get<std::string>(),
                               out / c["label"].get<std::string>());
    EXPECT_EQ(io::read_labels(out / c["label"].get<std::string>()).voxels,
              io::read_labels(pseudo_label(id)).voxels);

    // Overlay: slice size, grey CT, the three outlines, on the slice with the most PL3 tumour.
    const LabelMap pl3 = io::read_labels(pseudo_label(id));
    const exporting::RgbImage png = exporting::read_png(out / c["overlay"].get<std::string>());
    EXPECT_EQ(png.width, 48);
    EXPECT_EQ(png.height, 40);
    EXPECT_EQ(c["overlay_slice"], exporting::overlay_slice(pl3, pl3, pl3));
    EXPECT_TRUE(has_colour(png, exporting::kPl1Colour));
    EXPECT_TRUE(has_colour(png, exporting::kPl2Colour));
    EXPECT_TRUE(has_colour(png, exporting::kPl3Colour));
    int grey = 0;
    for (int64_t y = 0; y < png.height; ++y)
      for (int64_t x = 0; x < png.width; ++x) {
        const auto p = png.at(x, y);
        grey += p.r == p.g && p.g == p.b && p.r > 0 && p.r < 255;
      }
    EXPECT_GT(grey, 48 * 40 / 8) << "the CT in the soft-tissue window under the outlines";
  }
}

TEST_F(ExportCli, LitsMapsNonNumericIdsAndReadsBack) {
  const fs::path out = path("lits");
  ASSERT_EQ(run_cli("export --run " + run().string() + " --out " + out.string() +
                    " --format lits --no-overlays"),
            0);
  EXPECT_EQ(listing(out),
            (std::vector<std::string>{"manifest.json", "segmentation-0.nii.gz",
                                      "segmentation-2.nii.gz", "segmentation-3.nii.gz",
                                      "volume-0.nii.gz", "volume-2.nii.gz", "volume-3.nii.gz"}));
  const json manifest = json::parse(read_text(out / "manifest.json"));
  EXPECT_EQ(manifest["lits_ids"], json({{"0", "0"}, {"2", "2"}, {"liverA", "3"}}));
  for (const json& c : manifest["cases"]) {
    EXPECT_TRUE(c["overlay"].is_null());
    expect_label_on_image_grid(out / c["image"].get<std::string>(),
                               out / c["label"].get<std::string>());
  }
  EXPECT_EQ(io::read_labels(out / "segmentation-3.nii.gz").voxels,
            io::read_labels(pseudo_label("liverA")).voxels);
  const dataset::Dataset found = dataset::discover(out);
  EXPECT_EQ(found.layout, dataset::Layout::kLits);
  EXPECT_EQ(found.num_labelled(), 3u);
}

TEST_F(ExportCli, PlainOneRound) {
  const fs::path out = path("plain");
  ASSERT_EQ(run_cli("export --run " + run().string() + " --round 2 --out " + out.string() +
                    " --format plain"),
            0);
  EXPECT_EQ(listing(out), (std::vector<std::string>{"images/2.nii.gz", "labels/2.nii.gz",
                                                    "manifest.json", "overlays/2.png"}));
  expect_label_on_image_grid(out / "images/2.nii.gz", out / "labels/2.nii.gz");
  const json manifest = json::parse(read_text(out / "manifest.json"));
  EXPECT_EQ(manifest["rounds"], json({2}));
  EXPECT_EQ(dataset::discover(out).layout, dataset::Layout::kImagesLabels);
}

TEST_F(ExportCli, CorruptPseudoLabelIsNamedAndSkipped) {
  const fs::path bad_run = copy_run("run_corrupt");
  const fs::path bad = loop::RunLayout(bad_run).pseudo_label(1, "0");
  const std::string full = bytes(bad);
  std::ofstream(bad, std::ios::binary | std::ios::trunc) << full.substr(0, full.size() / 2);
  const fs::path out = path("corrupt_out");
  const fs::path log = path("corrupt.log");
  EXPECT_EQ(
      run_cli("export --run " + bad_run.string() + " --out " + out.string() + " --format nnunet",
              log),
      2);
  EXPECT_NE(read_text(log).find(bad.string()), std::string::npos) << read_text(log);
  EXPECT_EQ(listing(out),
            (std::vector<std::string>{"dataset.json", "imagesTr/2_0000.nii.gz",
                                      "imagesTr/liverA_0000.nii.gz", "labelsTr/2.nii.gz",
                                      "labelsTr/liverA.nii.gz", "manifest.json", "overlays/2.png",
                                      "overlays/liverA.png"}))
      << "the other cases exported, nothing of case 0";
  EXPECT_EQ(json::parse(read_text(out / "dataset.json"))["numTraining"], 2);
  const json manifest = json::parse(read_text(out / "manifest.json"));
  ASSERT_EQ(manifest["failures"].size(), 1u);
  EXPECT_EQ(manifest["failures"][0]["case"], "0");
  EXPECT_EQ(manifest["failures"][0]["file"], bad.string());
}

TEST_F(ExportCli, MissingOverlayInputAndBadLabelValues) {
  const fs::path bad_run = copy_run("run_missing");
  const fs::path pl2 = loop::RunLayout(bad_run).stage_label(2, loop::Stage::kPL2, "2");
  fs::remove(pl2);
  const fs::path log = path("missing.log");
  EXPECT_EQ(run_cli("export --run " + bad_run.string() + " --out " + path("m1").string() +
                        " --format plain",
                    log),
            2);
  EXPECT_NE(read_text(log).find(pl2.string() + ": missing"), std::string::npos) << read_text(log);
  EXPECT_FALSE(fs::exists(path("m1") / "labels" / "2.nii.gz"));
  EXPECT_TRUE(fs::exists(path("m1") / "labels" / "0.nii.gz"));
  // Without overlays PL2 is not needed.
  EXPECT_EQ(run_cli("export --run " + bad_run.string() + " --out " + path("m2").string() +
                    " --format plain --no-overlays"),
            0);

  // A label value outside LiTS's three.
  const fs::path label = loop::RunLayout(bad_run).pseudo_label(1, "liverA");
  LabelMap l = io::read_labels(label);
  l.voxels[0] = 3;
  io::write_labels(l, label);
  EXPECT_EQ(run_cli("export --run " + bad_run.string() + " --out " + path("m3").string() +
                        " --format plain --no-overlays",
                    log),
            2);
  EXPECT_NE(read_text(log).find(label.string() + ": label value 3"), std::string::npos)
      << read_text(log);
}

TEST_F(ExportCli, EarlierRoundKeepsTheCase) {
  const fs::path dup = copy_run("run_dup");
  const loop::RunLayout layout(dup);
  // Round 2 lists case 0 again with another label: round 1's stays.
  LabelMap other = io::read_labels(pseudo_label("0"));
  std::fill(other.voxels.begin(), other.voxels.end(), kLiver);
  io::write_labels(other, layout.pseudo_label(2, "0"));
  auto round2 = loop::load_selected(layout.selected_json(2), 2);
  round2.push_back(selection("0", fs::absolute(data() / "volume-0.nii.gz"), 2, 0.99));
  io::write_text_atomically(layout.selected_json(2), loop::selected_to_json(round2));
  const fs::path out = path("dup_out");
  ASSERT_EQ(run_cli("export --run " + dup.string() + " --out " + out.string() +
                    " --format plain --no-overlays"),
            0);
  EXPECT_EQ(io::read_labels(out / "labels" / "0.nii.gz").voxels,
            io::read_labels(pseudo_label("0")).voxels);
  for (const json& c : json::parse(read_text(out / "manifest.json"))["cases"])
    if (c["case"] == "0") {
      EXPECT_EQ(c["round"], 1);
    }
}

TEST_F(ExportCli, RefusesWhatItCannotExport) {
  const fs::path log = path("refuse.log");
  // Not empty: nothing is written.
  fs::create_directories(path("full"));
  std::ofstream(path("full") / "keep.txt") << "x";
  EXPECT_EQ(run_cli("export --run " + run().string() + " --out " + path("full").string() +
                        " --format plain",
                    log),
            2);
  EXPECT_NE(read_text(log).find("not empty"), std::string::npos);
  EXPECT_EQ(listing(path("full")), std::vector<std::string>{"keep.txt"});

  // The rest in-process (each refusal is an InputError naming the file, i.e. exit 2).
  auto refusal = [&](const fs::path& run_dir, std::optional<int> round) -> std::string {
    exporting::ExportOptions opt;
    opt.run = run_dir;
    opt.round = round;
    opt.out = path("refused");
    opt.format = exporting::ExportFormat::kPlain;
    try {
      exporting::export_run(opt);
    } catch (const InputError& e) {
      EXPECT_FALSE(fs::exists(path("refused"))) << "nothing written";
      return e.what();
    }
    return "accepted";
  };
  EXPECT_NE(refusal(run(), 3).find("round_3/selected.json: missing"), std::string::npos)
      << "round 3 has not finished";
  EXPECT_NE(refusal(run(), 9).find("round_9: no such round"), std::string::npos);
  fs::create_directories(path("empty_run"));
  EXPECT_NE(refusal(path("empty_run"), {}).find("no finished round"), std::string::npos);
  EXPECT_NE(refusal(path("no_such_run"), {}).find("not a run folder"), std::string::npos);
  EXPECT_FALSE(fs::exists(path("no_such_run"))) << "a missing run is not created";
  // A case id that would climb out of the export folder.
  const fs::path evil = copy_run("run_evil");
  auto sel = loop::load_selected(loop::RunLayout(evil).selected_json(2), 2);
  sel[0].id = "../2";
  io::write_text_atomically(loop::RunLayout(evil).selected_json(2), loop::selected_to_json(sel));
  EXPECT_NE(refusal(evil, 2).find("cannot be a file name"), std::string::npos);
}

}  // namespace
}  // namespace aslseg
