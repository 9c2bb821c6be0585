// The whole loop through the real CLI on tiny phantoms (loop/loop_runner.h): `aslseg train`
// runs two rounds of SS -> SAM -> AN -> selection, selects volumes, scores the test split per
// stage, and `aslseg export` writes all three formats (the nnU-Net one checked for structure);
// killing `aslseg train` in round 1 and rerunning gives the same selection and labels as an
// uninterrupted run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "aslseg/dataset/dataset.h"
#include "aslseg/io/volume_io.h"
#include "aslseg/loop/run_layout.h"
#include "aslseg/loop/selected_case.h"
#include "aslseg/loop/selection.h"
#include "aslseg/metrics/binary_metrics.h"
#include "common/test_util.h"

namespace aslseg::loop {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::read_text;
using testing::run_cli;

constexpr double kGeometryTolerance = 1e-6;
constexpr int kRounds = 2;

// Small enough to run the loop twice in well under a minute on 2 cores; tau 0 makes every
// scored volume reliable, so the selection is decided by the per-round cap alone (this test is
// about the plumbing; the rule itself is tested in selection_test.cpp).
json tiny_loop_config() {
  std::ifstream in(fs::path(ASLSEG_SOURCE_DIR) / "configs/sam/tiny.json");
  const json sam_model = json::parse(in);
  return {{"seed", 3},
          {"device", "cpu"},
          {"model", {{"base_width", 8}, {"depth", 3}, {"norm", "batch"}, {"dropout", 0.0}}},
          {"preprocess",
           {{"context", 0}, {"image_size", 32}, {"window", {{"level", 60}, {"width", 400}}}}},
          {"data", {{"workers", 1}}},
          {"ssl", {{"paradigm", "supervised"}}},
          {"optim",
           {{"steps", 40},
            {"batch_labelled", 4},
            {"checkpoint_every", 10},
            {"validate_every", 40},
            {"log_every", 10}}},
          {"split", {{"labelled_fraction", 0.34}, {"test_fraction", 0.25}, {"seed", 1}}},
          {"loop",
           {{"rounds", kRounds},
            {"selection", {{"tau", 0.0}, {"max_fraction", 0.5}}},
            {"sam",
             {{"model", sam_model},
              {"finetune",
               {{"steps", 10},
                {"lr", 1e-3},
                {"batch_slices", 2},
                {"prompts_per_slice", 2},
                {"checkpoint_every", 0},
                {"log_every", 5},
                {"window", {{"level", 40}, {"width", 150}}}}}}},
            {"adaptation", {{"steps", 20}, {"batch_size", 4}, {"log_every", 5}}},
            // Two labelled volumes hold few components: fit on whatever there is.
            {"component_filter", {{"min_examples", 1}}}}}};
}

class LoopCli : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.path() / "data";
    config_ = dir_.path() / "loop.json";
    std::ofstream(config_) << tiny_loop_config().dump(2);
    const fs::path log = dir_.path() / "synth.log";
    // 8 phantoms: 2 test, 2 labelled, 4 unlabelled (round 1 takes 2, round 2 takes 1).
    ASSERT_EQ(run_cli("synth --out " + data_.string() +
                          " --cases 8 --size 48,48,12 --spacing 5,5,8 --tumours 1,3"
                          " --tumour-radius 15,30 --seed 5 --threads 1",
                      log),
              0)
        << read_text(log);
  }

  // The data folder relative to the working directory, as users type it: the run must still
  // find the selected cases' images when `export` reads it (it once resolved them against
  // the run folder).
  std::string train_args(const fs::path& run) const {
    return "train --config " + config_.string() + " --data " +
           fs::relative(data_, fs::current_path()).string() + " --out " + run.string();
  }

  testing::TempDir dir_;
  fs::path data_;
  fs::path config_;
};

std::vector<std::string> selected_ids(const fs::path& run, int round) {
  std::vector<std::string> ids;
  for (const SelectedCase& c : load_selected(RunLayout(run).selected_json(round), round))
    ids.push_back(c.id);
  return ids;
}

void expect_nnunet_structure(const fs::path& out, const std::vector<std::string>& ids) {
  const json ds = json::parse(read_text(out / "dataset.json"));
  EXPECT_EQ(ds.at("channel_names"), json({{"0", "CT"}}));
  EXPECT_EQ(ds.at("labels"), json({{"background", 0}, {"liver", 1}, {"tumour", 2}}));
  EXPECT_EQ(ds.at("numTraining"), ids.size());
  EXPECT_EQ(ds.at("file_ending"), ".nii.gz");
  for (const std::string& id : ids) {
    SCOPED_TRACE(id);
    const fs::path image = out / "imagesTr" / (id + "_0000.nii.gz");
    const fs::path label = out / "labelsTr" / (id + ".nii.gz");
    ASSERT_TRUE(fs::exists(image));
    ASSERT_TRUE(fs::exists(label));
    EXPECT_EQ(io::read_geometry(label).difference(io::read_geometry(image), kGeometryTolerance),
              "");
    for (uint8_t v : io::read_labels(label).voxels) ASSERT_LE(v, kTumour);
  }
  const dataset::Dataset found = dataset::discover(out);
  EXPECT_EQ(found.layout, dataset::Layout::kNnUnet);
  EXPECT_EQ(found.num_labelled(), ids.size());
}

TEST_F(LoopCli, TwoRoundsSelectScoreEachStageAndExportThreeFormats) {
  const fs::path run = dir_.path() / "run";
  const fs::path log = dir_.path() / "train.log";
  ASSERT_EQ(run_cli(train_args(run), log), 0) << read_text(log);

  // Two rounds, each selecting what the cap allows: 2 of 4, then 1 of 2.
  EXPECT_EQ(RunLayout(run).finished_rounds(), (std::vector<int>{1, 2}));
  const auto r1 = selected_ids(run, 1), r2 = selected_ids(run, 2);
  EXPECT_EQ(r1.size(), 2u);
  EXPECT_EQ(r2.size(), 1u);
  std::set<std::string> all(r1.begin(), r1.end());
  all.insert(r2.begin(), r2.end());
  EXPECT_EQ(all.size(), 3u) << "a volume is selected at most once";

  // Per round: PL1/PL2/PL3 of every pool volume on the image grid; round 2 retrained SS on the
  // selected pseudo-labels (its labelled set grew by round 1's selection).
  const json split = json::parse(read_text(run / "split.json"));
  const json state = json::parse(read_text(run / "state.json"));
  const json summary = json::parse(read_text(run / "summary.json"));
  ASSERT_EQ(summary.at("rounds").size(), 2u);
  EXPECT_EQ(summary.at("rounds")[1].at("ss").at("labelled"),
            split.at("labelled").size() + r1.size());
  for (const json& r : summary.at("rounds")) {
    const int k = r.at("round");
    // What the component filter was fitted on: SS on the 2 expert-labelled volumes.
    EXPECT_EQ(r.at("component_filter").at("fit").at("cases"), split.at("labelled").size());
    EXPECT_TRUE(r.at("component_filter").at("removed_from_pool_pl1").is_number_integer());
    for (const char* stage : {"ss", "ss_sam", "ss_sam_an"}) {
      SCOPED_TRACE(std::to_string(k) + " " + stage);
      const json& t = r.at("test").at(stage);
      EXPECT_TRUE(t.at("tumour").at("dice").contains("mean"));
      EXPECT_TRUE(
          fs::exists(run / ("round_" + std::to_string(k)) / "test" / stage / "test_metrics.json"));
    }
    // The liver comes from SS at every stage.
    EXPECT_EQ(r.at("test").at("ss").at("liver").at("dice"),
              r.at("test").at("ss_sam").at("liver").at("dice"));
  }
  for (const auto& id : split.at("unlabelled")) {
    const fs::path image = data_ / ("volume-" + id.get<std::string>() + ".nii.gz");
    for (Stage s : {Stage::kPL1, Stage::kPL2, Stage::kPL3}) {
      const fs::path pl = RunLayout(run).stage_label(1, s, id.get<std::string>());
      ASSERT_TRUE(fs::exists(pl)) << pl;
      EXPECT_EQ(io::read_geometry(pl).difference(io::read_geometry(image), kGeometryTolerance), "");
    }
  }
  EXPECT_NE(read_text(log).find("ss_sam_an"), std::string::npos) << "the results table";

  // train ends with the run report: one picture block per case scored in the last round (the
  // 2 left in round 2's pool), the three stages in its table (docs/report.md).
  const std::string report = read_text(run / "report.html");
  size_t blocks = 0;
  for (size_t at = report.find("<div class=\"case\">"); at != std::string::npos;
       at = report.find("<div class=\"case\">", at + 1))
    ++blocks;
  EXPECT_EQ(blocks, 2u);
  EXPECT_NE(report.find("SS→SAM→AN (PL3)"), std::string::npos);

  // Selection quality from the hidden labels: every scored case in exactly one group, the
  // selected group equal to selected.json, and each Dice the one of the files on disk.
  for (const json& r : summary.at("rounds")) {
    const int k = r.at("round");
    const json& q = r.at("selection_quality");
    const auto ids = selected_ids(run, k);
    ASSERT_EQ(q.at("selected").at("n").get<size_t>(), ids.size());
    EXPECT_EQ(q.at("selected").at("n").get<int>() + q.at("rejected").at("n").get<int>(),
              r.at("pool").get<int>());
    for (const char* group : {"selected", "rejected"}) {
      for (const json& c : q.at(group).at("cases")) {
        const std::string id = c.at("case");
        EXPECT_EQ(std::count(ids.begin(), ids.end(), id), group == std::string("selected") ? 1 : 0);
        const LabelMap pl3 = io::read_labels(RunLayout(run).stage_label(k, Stage::kPL3, id));
        const LabelMap truth = io::read_labels(data_ / ("segmentation-" + id + ".nii.gz"));
        EXPECT_DOUBLE_EQ(c.at("pl3_tumour_dice").get<double>(),
                         metrics::dice(pl3, truth, metrics::LabelRange{2, 2}))
            << id;
      }
    }
  }

  // Export: all three formats.
  for (const char* format : {"lits", "nnunet", "plain"}) {
    const fs::path out = dir_.path() / (std::string("export_") + format);
    ASSERT_EQ(
        run_cli("export --run " + run.string() + " --out " + out.string() + " --format " + format,
                log),
        0)
        << read_text(log);
    const json manifest = json::parse(read_text(out / "manifest.json"));
    EXPECT_EQ(manifest.at("num_cases"), 3) << format;
    EXPECT_EQ(manifest.at("rounds"), json({1, 2})) << format;
  }
  expect_nnunet_structure(dir_.path() / "export_nnunet",
                          std::vector<std::string>(all.begin(), all.end()));

  // infer --model RUN takes the last round's segmentation net.
  const fs::path pred = dir_.path() / "pred";
  const fs::path image = data_ / ("volume-" + split.at("test")[0].get<std::string>() + ".nii.gz");
  ASSERT_EQ(run_cli("infer --model " + run.string() + " --input " + image.string() + " --output " +
                        pred.string(),
                    log),
            0)
      << read_text(log);
  EXPECT_NE(read_text(log).find("round_2"), std::string::npos) << read_text(log);
  EXPECT_EQ(state.at("steps").size(), 2u * 5u + 2u)
      << "ss, component_filter, pseudo_labels, test, selection per round; sam and an once";
  // Round 2's component filter was fitted on SS's predictions on the 2 labelled volumes (this
  // tiny net predicts too few components there to enable it: ComponentFilter's tests cover
  // the filter itself); infer with the run applies it as the test split did.
  const json filter = json::parse(read_text(RunLayout(run).round_dir(2) / kComponentFilterFile));
  EXPECT_TRUE(filter.at("enabled").is_boolean()) << filter.dump(2);
  EXPECT_EQ(filter.at("fit").at("cases"), 2) << filter.dump(2);
  const std::string test_id = split.at("test")[0].get<std::string>();
  EXPECT_EQ(
      io::read_labels(pred / ("volume-" + test_id + ".nii.gz")).voxels,
      io::read_labels(run / "round_2/test/ss/test_predictions" / (test_id + ".nii.gz")).voxels);
}

// Expert labels whose lesions are all too small for SAM: the loop skips SAM and the AN with a
// warning instead of dying after SS trained, says so in the summary and the table, and selects
// nothing (without a second opinion PL3 would agree with PL1 by construction).
TEST_F(LoopCli, StageThatCannotBeTrainedIsSkippedAndTheLoopCompletes) {
  const fs::path small = dir_.path() / "small";
  const fs::path log = dir_.path() / "small.log";
  ASSERT_EQ(run_cli("synth --out " + small.string() +
                        " --cases 8 --size 48,48,12 --spacing 5,5,8 --tumours 1,2"
                        " --tumour-radius 3,4 --seed 5 --threads 1",
                    log),
            0)
      << read_text(log);
  const fs::path run = dir_.path() / "run_small";
  ASSERT_EQ(run_cli("train --config " + config_.string() + " --data " + small.string() + " --out " +
                        run.string(),
                    log),
            0)
      << read_text(log);
  const std::string text = read_text(log);
  EXPECT_NE(text.find("SAM skipped"), std::string::npos) << text;
  EXPECT_NE(text.find("adaptation net skipped"), std::string::npos) << "the table says so";
  const json summary = json::parse(read_text(run / "summary.json"));
  EXPECT_TRUE(summary.at("sam").contains("skipped"));
  EXPECT_TRUE(summary.at("an").contains("skipped"));
  ASSERT_EQ(summary.at("rounds").size(), 1u);
  EXPECT_EQ(summary.at("rounds")[0].at("selected"), 0);
  // Every stage is scored; with SAM and AN skipped, each repeats SS's tumour.
  const json& t = summary.at("rounds")[0].at("test");
  EXPECT_EQ(t.at("ss_sam").at("tumour").at("dice"), t.at("ss").at("tumour").at("dice"));
  EXPECT_EQ(t.at("ss_sam_an").at("tumour").at("dice"), t.at("ss").at("tumour").at("dice"));
}

// SS as an ensemble of two nets (loop.ss_members 2) with SAM off and the members as the
// second opinion: each member trains with its own seed into its own folder, every pool
// volume's reliability is the tumour Dice of the two members' own labels (checked against
// `aslseg infer` of each member alone), PL1 is their ensemble (checked against `aslseg infer
// --model RUN`, which takes both members), and volumes are selected although SAM is off.
TEST_F(LoopCli, EnsembleMembersAreTheSecondOpinion) {
  json config = tiny_loop_config();
  config["loop"]["rounds"] = 2;
  config["loop"]["ss_members"] = 2;
  config["loop"]["warm_start"] = {{"steps", 6}, {"lr", 1e-3}};
  config["loop"]["stages"] = {{"sam", false}, {"adaptation", false}};
  config["loop"]["selection"]["reliability"] = "members";
  // The members' own maps of `aslseg infer` are compared unfiltered (the filter has its tests).
  config["loop"]["component_filter"] = {{"enabled", false}};
  const fs::path config_path = dir_.path() / "ensemble.json";
  std::ofstream(config_path) << config.dump(2);
  const fs::path run = dir_.path() / "run_ens";
  const fs::path log = dir_.path() / "ens.log";
  ASSERT_EQ(run_cli("train --config " + config_path.string() + " --data " + data_.string() +
                        " --out " + run.string(),
                    log),
            0)
      << read_text(log);
  const RunLayout layout(run);
  ASSERT_EQ(layout.ss_checkpoints(1).size(), 2u);
  const json summary = json::parse(read_text(run / "summary.json"));
  const json& members = summary.at("rounds")[0].at("ss_members");
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0].at("seed"), 3);
  EXPECT_EQ(members[1].at("seed"), 4);
  EXPECT_EQ(selected_ids(run, 1).size(), 2u) << "tau 0, cap 2 of 4: SAM off is no longer blind";
  // Round 2 starts each member from the same member of round 1 and trains the warm-start steps.
  const json& warm = summary.at("rounds")[1].at("ss_members");
  ASSERT_EQ(warm.size(), 2u);
  for (size_t m = 0; m < 2; ++m) {
    EXPECT_EQ(fs::path(warm[m].at("warm_start_from").get<std::string>()),
              layout.ss_checkpoints(1)[m]);
    EXPECT_EQ(warm[m].at("steps"), 6);
  }
  EXPECT_FALSE(members[0].contains("warm_start_from"));

  const json scores = json::parse(read_text(layout.round_dir(1) / "scores.json"));
  ASSERT_EQ(scores.at("scores").size(), 4u);
  const json& first = scores.at("scores")[0];
  const std::string id = first.at("case");
  const fs::path image = data_ / ("volume-" + id + ".nii.gz");
  std::vector<LabelMap> own;
  for (int m = 0; m < 2; ++m) {
    const fs::path out = dir_.path() / ("member_" + std::to_string(m));
    ASSERT_EQ(run_cli("infer --model " + layout.ss_checkpoints(1)[m].string() + " --input " +
                          image.string() + " --output " + out.string(),
                      log),
              0)
        << read_text(log);
    own.push_back(io::read_labels(out / ("volume-" + id + ".nii.gz")));
  }
  SelectionParams p;
  p.tau = 0.0;
  EXPECT_DOUBLE_EQ(first.at("reliability").get<double>(), score_members(id, own, p).reliability);
  // `infer --model RUN` is the last round's ensemble: round 2's PL1 of a case of its pool.
  const json round2 = json::parse(read_text(layout.round_dir(2) / "scores.json"));
  ASSERT_FALSE(round2.at("scores").empty());
  const std::string id2 = round2.at("scores")[0].at("case");
  const fs::path both = dir_.path() / "both";
  ASSERT_EQ(
      run_cli("infer --model " + run.string() + " --input " +
                  (data_ / ("volume-" + id2 + ".nii.gz")).string() + " --output " + both.string(),
              log),
      0)
      << read_text(log);
  EXPECT_EQ(io::read_labels(both / ("volume-" + id2 + ".nii.gz")).voxels,
            io::read_labels(layout.stage_label(2, Stage::kPL1, id2)).voxels);
}

// A round that takes the whole pool still gets its next round: SS trains on the expert and
// all the pseudo-labelled volumes (nothing unlabelled is left), and the loop stops after it,
// saying why. Without that round the last selection would never be trained on.
TEST_F(LoopCli, RoundAfterThePoolRunsOutTrainsOnEveryPseudoLabel) {
  json config = tiny_loop_config();
  config["loop"]["rounds"] = 3;
  config["loop"]["ss_members"] = 2;
  config["loop"]["stages"] = {{"sam", false}, {"adaptation", false}};
  config["loop"]["selection"] = {{"reliability", "members"}, {"tau", 0.0}, {"max_fraction", 1.0}};
  const fs::path config_path = dir_.path() / "all.json";
  std::ofstream(config_path) << config.dump(2);
  const fs::path run = dir_.path() / "run_all";
  const fs::path log = dir_.path() / "all.log";
  ASSERT_EQ(run_cli("train --config " + config_path.string() + " --data " + data_.string() +
                        " --out " + run.string(),
                    log),
            0)
      << read_text(log);
  const json summary = json::parse(read_text(run / "summary.json"));
  const json& rounds = summary.at("rounds");
  ASSERT_EQ(rounds.size(), 2u) << summary.dump(2);
  EXPECT_EQ(rounds[0].at("selected"), 4) << "tau 0 and no cap: the whole pool";
  EXPECT_EQ(rounds[0].at("ss").at("labelled"), 2);
  EXPECT_EQ(rounds[1].at("ss").at("labelled"), 6) << "2 expert + 4 pseudo-labelled";
  EXPECT_EQ(rounds[1].at("pool"), 0);
  EXPECT_EQ(rounds[1].at("selected"), 0);
  EXPECT_TRUE(fs::exists(RunLayout(run).ss_checkpoints(2)[1]));
  EXPECT_FALSE(rounds[1].at("test").empty()) << "round 2's SS is scored on the test split";
  EXPECT_EQ(summary.at("stopped_early"), "no unlabelled volume left after round 2");
}

// Starts `aslseg <args>` and returns its pid (the shell execs it, so the pid is aslseg's).
pid_t spawn_cli(const std::string& args, const fs::path& log) {
  const std::string cmd =
      "exec " + std::string(ASLSEG_BINARY) + " " + args + " >" + log.string() + " 2>&1";
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

bool state_has(const fs::path& run, const std::string& step) {
  std::ifstream in(run / "state.json");
  const json j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("steps")) return false;
  for (const json& s : j.at("steps"))
    if (s.at("step") == step) return true;
  return false;
}

// Kills the run as soon as `ready` holds; true when it was killed before it finished.
template <typename Ready>
bool kill_when(const std::string& args, const fs::path& log, Ready ready) {
  const pid_t pid = spawn_cli(args, log);
  int status = 0;
  while (true) {
    if (waitpid(pid, &status, WNOHANG) == pid) return false;  // finished on its own
    if (ready()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

TEST_F(LoopCli, KilledInRoundOneAndRerunGivesTheSameSelectionAndLabels) {
  const fs::path straight = dir_.path() / "straight";
  const fs::path killed = dir_.path() / "killed";
  const fs::path log = dir_.path() / "train.log";
  ASSERT_EQ(run_cli(train_args(straight), log), 0) << read_text(log);

  // Killed twice in round 1: while SS trains (after its first checkpoint), then while the
  // adaptation net trains (SAM done); each rerun continues.
  ASSERT_TRUE(kill_when(train_args(killed), log, [&] {
    return fs::exists(killed / "round_1" / "ss" / "checkpoint.pt");
  })) << read_text(log);
  EXPECT_FALSE(state_has(killed, "round_1/selection"));
  ASSERT_TRUE(kill_when(train_args(killed), log, [&] { return state_has(killed, "sam"); }))
      << read_text(log);
  EXPECT_FALSE(fs::exists(killed / "round_1" / "selected.json"));
  ASSERT_EQ(run_cli(train_args(killed), log), 0) << read_text(log);

  for (int k = 1; k <= kRounds; ++k) {
    SCOPED_TRACE("round " + std::to_string(k));
    EXPECT_EQ(selected_ids(killed, k), selected_ids(straight, k));
    const auto a = load_selected(RunLayout(straight).selected_json(k), k);
    const auto b = load_selected(RunLayout(killed).selected_json(k), k);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].reliability, b[i].reliability);
  }
  const fs::path ea = dir_.path() / "export_straight", eb = dir_.path() / "export_killed";
  ASSERT_EQ(run_cli("export --run " + straight.string() + " --out " + ea.string() +
                        " --format plain --no-overlays",
                    log),
            0);
  ASSERT_EQ(run_cli("export --run " + killed.string() + " --out " + eb.string() +
                        " --format plain --no-overlays",
                    log),
            0);
  const json manifest = json::parse(read_text(ea / "manifest.json"));
  ASSERT_FALSE(manifest.at("cases").empty());
  for (const json& c : manifest.at("cases")) {
    const std::string label = c.at("label");
    EXPECT_EQ(io::read_labels(ea / label).voxels, io::read_labels(eb / label).voxels) << label;
  }
}

}  // namespace
}  // namespace aslseg::loop
