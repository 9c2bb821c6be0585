// The run-folder contract between the loop and `aslseg export` (loop/run_layout.h,
// loop/selected_case.h): paths, round discovery, selected.json round trip and its errors.
#include "aslseg/loop/run_layout.h"

#include <gtest/gtest.h>

#include <fstream>

#include "aslseg/io/error.h"
#include "aslseg/loop/selected_case.h"
#include "common/test_util.h"

namespace aslseg::loop {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

TEST(RunLayout, Paths) {
  const RunLayout l("/runs/r");
  EXPECT_EQ(l.round_dir(2), fs::path("/runs/r/round_2"));
  EXPECT_EQ(l.selected_json(2), fs::path("/runs/r/round_2/selected.json"));
  EXPECT_EQ(l.pseudo_label(2, "7"), fs::path("/runs/r/round_2/pseudo_labels/7.nii.gz"));
  EXPECT_EQ(l.stage_label(1, Stage::kPL2, "liver_3"),
            fs::path("/runs/r/round_1/pl2/liver_3.nii.gz"));
  EXPECT_STREQ(stage_name(Stage::kPL3), "PL3");
  EXPECT_EQ(l.ss_dir(2), fs::path("/runs/r/round_2/ss"));
  EXPECT_EQ(l.ss_dir(2, 1), fs::path("/runs/r/round_2/ss_member_1"));
}

// The members of a round's SS ensemble are found in order, up to the first one missing.
TEST(RunLayout, SsCheckpointsListTheEnsembleInOrder) {
  testing::TempDir dir;
  const RunLayout l(dir.path());
  EXPECT_TRUE(l.ss_checkpoints(1).empty());
  write(dir / "round_1" / "ss" / "checkpoint.pt", "x");
  write(dir / "round_1" / "ss_member_1" / "checkpoint.pt", "x");
  write(dir / "round_1" / "ss_member_3" / "checkpoint.pt", "x");  // member 2 missing
  EXPECT_EQ(l.ss_checkpoints(1),
            (std::vector<fs::path>{dir / "round_1" / "ss" / "checkpoint.pt",
                                   dir / "round_1" / "ss_member_1" / "checkpoint.pt"}));
}

TEST(RunLayout, FindsRoundsInNumericOrderAndTheFinishedOnes) {
  testing::TempDir dir;
  for (const char* name : {"round_10", "round_2", "round_1", "round_x", "round_01", "ss"})
    fs::create_directories(dir / name);
  write(dir / "round_3", "a file, not a round");
  write(dir / "round_1" / "selected.json", "[]");
  write(dir / "round_10" / "selected.json", "[]");
  const RunLayout l(dir.path());
  EXPECT_EQ(l.rounds(), (std::vector<int>{1, 2, 10}));
  EXPECT_EQ(l.finished_rounds(), (std::vector<int>{1, 10}));
  EXPECT_FALSE(l.is_finished(2));
  EXPECT_TRUE(RunLayout(dir / "missing").rounds().empty());
}

TEST(SelectedCase, RoundTripsAndReadsTheDocumentedExample) {
  testing::TempDir dir;
  SelectedCase a;
  a.id = "7";
  a.image = "/data/volume-7.nii";
  a.round = 2;
  a.reliability = 0.91;
  a.liver_dice = 0.97;
  a.uncertainty = 0.12;
  SelectedCase b = a;
  b.id = "liver_3";
  b.uncertainty.reset();
  write(dir / "s.json", selected_to_json({a, b}));
  const auto back = load_selected(dir / "s.json", 2);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].id, "7");
  EXPECT_EQ(back[0].image, fs::path("/data/volume-7.nii"));
  EXPECT_EQ(back[0].reliability, 0.91);
  EXPECT_EQ(*back[0].uncertainty, 0.12);
  EXPECT_FALSE(back[1].uncertainty);
  EXPECT_EQ(back[1].source.tumour, "PL3");
  EXPECT_EQ(back[1].source.liver, "PL1");

  // As docs/run_layout.md shows it, with an extra field the reader ignores.
  write(dir / "doc.json", R"([
  {"case": "12", "image": "/data/lits/volume-12.nii", "round": 1, "reliability": 0.874,
   "liver_dice": 0.962, "uncertainty": null,
   "source_stage": {"tumour": "PL3", "liver": "PL1"}, "tumour_voxels_pl3": 5123}
])");
  const auto doc = load_selected(dir / "doc.json", 1);
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_EQ(doc[0].id, "12");
  EXPECT_EQ(doc[0].liver_dice, 0.962);
}

TEST(SelectedCase, ErrorsNameTheFileAndTheProblem) {
  testing::TempDir dir;
  const std::pair<const char*, const char*> cases[] = {
      {"{not json", "not valid JSON"},
      {R"({"case": "1"})", "JSON array"},
      {R"([{"image": "a", "round": 1, "reliability": 1, "liver_dice": 1}])", "\"case\""},
      {R"([{"case": "1", "image": "a", "round": 2, "reliability": 1, "liver_dice": 1}])",
       "round 2 in the file of round 1"},
      {R"([{"case": "1", "image": "a", "round": 1, "reliability": "high", "liver_dice": 1}])",
       "\"reliability\" must be a number"},
      {R"([{"case": "1", "image": "a", "round": 1, "reliability": 1, "liver_dice": 1},
          {"case": "1", "image": "b", "round": 1, "reliability": 1, "liver_dice": 1}])",
       "listed twice"}};
  for (const auto& [text, problem] : cases) {
    write(dir / "s.json", text);
    try {
      load_selected(dir / "s.json", 1);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const InputError& e) {
      EXPECT_EQ(e.path(), (dir / "s.json").string());
      EXPECT_NE(e.problem().find(problem), std::string::npos) << e.problem();
    }
  }
  EXPECT_THROW(load_selected(dir / "missing.json", 1), InputError);
}

}  // namespace
}  // namespace aslseg::loop
