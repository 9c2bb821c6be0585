// `aslseg report` through the real CLI on a run folder laid out as `aslseg train` writes it,
// opened in headless Chromium (issue 13 item 5).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "aslseg/io/volume_io.h"
#include "aslseg/loop/run_layout.h"
#include "aslseg/report/case_pictures.h"
#include "common/test_util.h"

namespace aslseg {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::run_cli;

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr int kSlices = 2;

long count(const std::string& text, const std::string& pattern) {
  const std::regex re(pattern);
  return std::distance(std::sregex_iterator(text.begin(), text.end(), re), std::sregex_iterator());
}

void write_text(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

// A finished one-round run over three phantoms: case 0 selected, case 1 rejected (its PL2
// missing, as when SAM was skipped), case 2 labelled. The pseudo-labels are the phantoms' own
// labels, so the pictures are known.
struct FakeRun {
  testing::TempDir dir;
  fs::path data = dir / "data";
  fs::path run = dir / "run";
  long expected_images = 0;

  FakeRun() {
    EXPECT_EQ(run_cli("synth --out " + data.string() +
                      " --cases 3 --seed 3 --size 48,48,16 --tumours 2,3"),
              0);
    write_text(run / "split.json", json{{"data", data.string()}}.dump());
    const json stage = {{"liver", {{"dice", {{"mean", 0.91}}}}},
                        {"tumour", {{"dice", {{"mean", 0.52}}}, {"hd95", {{"mean", 7.5}}}}}};
    const json summary = {
        {"rounds",
         {{{"round", 1},
           {"selected", 1},
           {"pool", 2},
           {"test", {{"ss", stage}, {"ss_sam", stage}, {"ss_sam_an", stage}}},
           {"selection_quality",
            {{"selected",
              {{"cases",
                {{{"case", "0"}, {"pl1_tumour_dice", 0.7}, {"pl3_tumour_dice", 0.8125}}}}}},
             {"rejected", {{"cases", json::array()}}}}}}}},
        {"sam", {{"skipped", "switched off (loop.stages.sam = false)"}}},
        {"an", nullptr}};
    write_text(run / "summary.json", summary.dump());
    const loop::RunLayout layout(run);
    write_text(
        layout.round_dir(1) / "scores.json",
        json{{"scores",
              {{{"case", "0"}, {"reliability", 0.9}, {"verdict", "selected"}, {"reason", "ok"}},
               {{"case", "1"}, {"reliability", 0.1}, {"verdict", "rejected"}, {"reason", "low"}}}}}
            .dump());
    for (const std::string id : {"0", "1"}) {
      const LabelMap truth = io::read_labels(data / ("segmentation-" + id + ".nii.gz"));
      io::write_labels(truth, layout.stage_label(1, loop::Stage::kPL1, id));
      io::write_labels(truth, layout.stage_label(1, loop::Stage::kPL3, id));
      if (id == "0") io::write_labels(truth, layout.stage_label(1, loop::Stage::kPL2, id));
      expected_images += static_cast<long>(report::pick_slices({&truth}, kSlices).size());
    }
    std::string ss, member, an;
    for (int step = 10; step <= 100; step += 10) {
      ss += json{{"step", step}, {"loss", 1.0 / step}}.dump() + "\n";
      member += json{{"step", step}, {"loss", 2.0 / step}}.dump() + "\n";
      an += json{{"step", step}, {"loss", 0.5 / step}}.dump() + "\n";
    }
    ss += json{{"step", 100}, {"validation", {{"tumour_dice", 0.4}}}}.dump() + "\n";
    write_text(layout.ss_dir(1, 0) / "metrics.jsonl", ss);
    write_text(layout.ss_dir(1, 1) / "metrics.jsonl", member);
    write_text(run / "an" / "metrics.jsonl", an);
  }
};

TEST(ReportCli, WritesOneSelfContainedPageWithEveryPart) {
  FakeRun r;
  const fs::path out = r.dir / "out" / "report.html";
  ASSERT_EQ(run_cli("report --run " + r.run.string() + " --out " + out.string() + " --slices " +
                    std::to_string(kSlices)),
            0);
  const std::string html = testing::read_text(out);
  ASSERT_GT(r.expected_images, 2);
  EXPECT_EQ(count(html, "<img "), r.expected_images);
  EXPECT_EQ(count(html, "src=\"data:image/png;base64,"), r.expected_images);
  // Tumour Dice per round; SS loss (both members); SS validation; AN loss.
  EXPECT_EQ(count(html, "<svg "), 4);
  EXPECT_EQ(count(html, "<polyline"), 2 + 1 + 1 + 3) << "SS x2, validation, AN, 3 stages";
  EXPECT_EQ(count(html, "<circle"), 3 + 1) << "a dot per stage (one round), one validation";
  EXPECT_NE(html.find("round_1/ss_member_1"), std::string::npos);
  EXPECT_NE(html.find("0.812"), std::string::npos) << "PL3 Dice of the selected case";
  EXPECT_NE(html.find("SAM was skipped"), std::string::npos);
  EXPECT_NE(html.find("0.520"), std::string::npos) << "test tumour Dice";
  // Self-contained: nothing fetched from anywhere.
  EXPECT_EQ(count(html, "(src|href)=\"(http|//)"), 0);
  // Nothing left behind but the page.
  EXPECT_EQ(std::distance(fs::directory_iterator(r.dir / "out"), fs::directory_iterator()), 1);

  if (!fs::exists(kChromium))
    GTEST_SKIP() << "no " << kChromium << " (scripts/setup.sh installs it)";
  const fs::path dom = r.dir / "dom.html", log = r.dir / "chromium.log";
  const std::string cmd =
      std::string("timeout 120 ") + kChromium +
      " --headless --no-sandbox --disable-gpu --user-data-dir=" + (r.dir / "profile").string() +
      " --enable-logging=stderr --v=0 --dump-dom file://" + out.string() + " >" + dom.string() +
      " 2>" + log.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << testing::read_text(log);
  const std::string rendered = testing::read_text(dom);
  const std::string all = std::to_string(r.expected_images);
  EXPECT_NE(rendered.find("data-images-rendered=\"" + all + "/" + all + "\""), std::string::npos)
      << rendered.substr(0, 400);
  EXPECT_EQ(count(testing::read_text(log), ":CONSOLE"), 0) << testing::read_text(log);
}

TEST(ReportCli, RefusesAFolderThatIsNotAFinishedRun) {
  testing::TempDir dir;
  fs::create_directories(dir / "run");
  const fs::path log = dir / "log.txt";
  EXPECT_EQ(run_cli("report --run " + (dir / "run").string(), log), 2);
  EXPECT_NE(testing::read_text(log).find("summary.json: missing"), std::string::npos)
      << testing::read_text(log);
}

// The data folder gone: the page is still written, with a note saying why it has no cases.
TEST(ReportCli, MissingDataFolderBecomesANote) {
  FakeRun r;
  fs::remove_all(r.data);
  ASSERT_EQ(run_cli("report --run " + r.run.string()), 0);
  const std::string html = testing::read_text(r.run / "report.html");
  EXPECT_EQ(count(html, "<img "), 0);
  EXPECT_NE(html.find("no case pictures: they need the data folder"), std::string::npos);
}

}  // namespace
}  // namespace aslseg
