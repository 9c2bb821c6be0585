#include "aslseg/loop/loop_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "aslseg/cli/progress.h"
#include "aslseg/config/json_fields.h"
#include "aslseg/infer/predictor.h"
#include "aslseg/io/atomic_file.h"
#include "aslseg/io/error.h"
#include "aslseg/io/volume_io.h"
#include "aslseg/loop/component_filter_fit.h"
#include "aslseg/loop/member_training.h"
#include "aslseg/loop/run_layout.h"
#include "aslseg/loop/run_state.h"
#include "aslseg/loop/selected_case.h"
#include "aslseg/loop/stage_pipeline.h"
#include "aslseg/loop/test_report.h"
#include "aslseg/metrics/lits_metrics.h"
#include "aslseg/sam/sam_checkpoint.h"
#include "aslseg/synth/rng.h"

namespace aslseg::loop {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kStepSam = "sam";
constexpr const char* kStepAn = "an";
constexpr const char* kSamDir = "sam";
constexpr const char* kAnDir = "an";
constexpr const char* kComponentFilterStep = "component_filter";

std::string round_step(int round, const std::string& step) {
  return std::string(kRoundPrefix) + std::to_string(round) + "/" + step;
}

using config::read_json_file;

json score_json(const Decision& d) {
  const CaseScore& s = d.score;
  return {{"case", s.id},
          {"reliability", s.reliability},
          {"tumour_dice", s.tumour_dice},
          {"liver_dice", s.liver_dice},
          {"uncertainty", s.uncertainty ? json(*s.uncertainty) : json(nullptr)},
          {"tumour_voxels_pl1", s.tumour_voxels_pl1},
          {"tumour_voxels_pl3", s.tumour_voxels_pl3},
          {"rule", rule_name(s.rule)},
          {"verdict", verdict_name(d.verdict)},
          {"reason", d.reason}};
}

// Everything of the run that one round needs, and what the rounds so far have selected.
class Loop {
 public:
  Loop(const ssl::TrainParams& ss, const LoopParams& params, const dataset::TrainingSet& initial,
       const dataset::EvaluationSet& evaluation, const fs::path& run)
      : ss_(ss),
        params_(params),
        initial_(initial),
        test_(evaluation.test),
        unlabelled_truth_(evaluation.unlabelled_truth),
        layout_(run),
        state_(run / kStateFile),
        device_(infer::parse_device(ss.device)) {}

  LoopResult run() {
    LoopResult result;
    for (int k = 1; k <= params_.rounds; ++k) {
      const auto pool = pool_for(k);
      // An empty pool after round 1 still gets its round: the SS of the labelled set that the
      // last selection completed is what the loop exists to produce. Its (empty) selection
      // then stops the loop.
      if (pool.empty() && k == 1) {
        spdlog::info("round 1: no unlabelled volume; the loop stops");
        stopped_ = "no unlabelled volume before round 1";
        break;
      }
      if (pool.empty())
        spdlog::info(
            "round {}: every unlabelled volume is pseudo-labelled now; SS trains on "
            "them and the loop stops after this round",
            k);
      if (!train_ss(k)) return result;  // max_steps_this_run reached
      fit_filter(k);
      if (k == 1) {
        finetune_sam();
        train_an();
      }
      pseudo_labels(k, pool);
      score_test(k);
      const int selected = select_round(k);
      result.rounds_done = k;
      if (pool.empty()) {
        if (k < params_.rounds)
          stopped_ = "no unlabelled volume left after round " + std::to_string(k);
        break;
      }
      if (selected == 0) {
        spdlog::info("round {}: nothing selected; later rounds would repeat it, so the loop stops",
                     k);
        stopped_ = "nothing selected in round " + std::to_string(k);
        break;
      }
    }
    result.finished = true;
    result.summary = summary();
    io::write_text_atomically(layout_.run() / kLoopSummaryFile, result.summary.dump(2) + "\n");
    return result;
  }

 private:
  // D_u of round k: the initial pool minus what earlier rounds selected.
  std::vector<dataset::UnlabelledCase> pool_for(int k) const {
    std::set<std::string> taken;
    for (int r = 1; r < k; ++r)
      for (const SelectedCase& c : load_selected(layout_.selected_json(r), r)) taken.insert(c.id);
    std::vector<dataset::UnlabelledCase> pool;
    for (const auto& c : initial_.unlabelled)
      if (!taken.count(c.id)) pool.push_back(c);
    return pool;
  }

  // D_l of round k: the expert labels plus every earlier round's selected pseudo-labels.
  dataset::TrainingSet training_for(int k) const {
    dataset::TrainingSet t;
    t.labelled = initial_.labelled;
    for (int r = 1; r < k; ++r)
      for (const SelectedCase& c : load_selected(layout_.selected_json(r), r))
        t.labelled.push_back(
            {c.id, c.image, layout_.pseudo_label(r, c.id), !params_.pseudo_liver_supervised});
    t.unlabelled = pool_for(k);
    return t;
  }

  // The dropout masks of a case's MC passes: from the run's seed, the round and the case.
  uint64_t mc_seed(int k, const std::string& id) const {
    uint64_t key = synth::hash_combine(ss_.seed, static_cast<uint64_t>(k));
    for (const char ch : id) key = synth::hash_combine(key, static_cast<unsigned char>(ch));
    return key;
  }

  fs::path sam_checkpoint() const { return layout_.run() / kSamDir / "sam_finetuned.pt"; }
  fs::path an_checkpoint() const { return layout_.run() / kAnDir / kAdaptationCheckpointName; }

  std::string ss_step(int k, int member) const {
    return round_step(
        k, member == 0 ? std::string(kSsFolder) : kSsMemberPrefix + std::to_string(member));
  }
  int members() const { return static_cast<int>(params_.ss_members); }
  std::vector<fs::path> ss_checkpoints(int k) const {
    std::vector<fs::path> out;
    for (int m = 0; m < members(); ++m) out.push_back(layout_.ss_dir(k, m) / kSsCheckpointName);
    return out;
  }

  // SS of round k: one net, or the members of an ensemble (member m with seed + m, so the
  // members differ in their initial weights and batches and nothing else), side by side on
  // the CPU when plan_members allows it.
  bool train_ss(int k) {
    const dataset::TrainingSet t = training_for(k);
    std::vector<int> todo;
    std::vector<ssl::TrainParams> runs;
    for (int m = 0; m < members(); ++m) {
      if (state_.done(ss_step(k, m))) continue;
      ssl::TrainParams member = ss_;
      member.seed = ss_.seed + static_cast<uint64_t>(m);
      if (k > 1 && params_.warm_start.steps > 0) {
        member.init_from = layout_.ss_dir(k - 1, m) / kSsCheckpointName;
        member.optim.steps = params_.warm_start.steps;
        member.optim.lr = params_.warm_start.lr;
      }
      todo.push_back(m);
      runs.push_back(member);
    }
    if (todo.empty()) return true;
    const MemberPlan plan = member_plan();
    for (size_t i = 0; i < todo.size(); ++i) {
      const int m = todo[i];
      const std::string who = members() > 1 ? fmt::format("SS member {} of {} (seed {})", m + 1,
                                                          members(), runs[i].seed)
                                            : std::string("SS");
      spdlog::info("round {}: {} on {} labelled ({} of them pseudo-labelled) + {} unlabelled", k,
                   who, t.labelled.size(), t.labelled.size() - initial_.labelled.size(),
                   t.unlabelled.size());
      // One progress bar per wave of members trained side by side.
      runs[i].show_progress = i % static_cast<size_t>(plan.at_once) == 0;
    }
    if (plan.at_once > 1)
      spdlog::info("round {}: {} SS members side by side, {} thread(s) each", k,
                   std::min<size_t>(todo.size(), static_cast<size_t>(plan.at_once)),
                   plan.threads_each);
    std::vector<ssl::TrainResult> results(todo.size());
    run_members(todo.size(), plan, [&](size_t i) {
      results[i] = ssl::train_segmenter(runs[i], t, test_, layout_.ss_dir(k, todo[i]));
    });
    for (size_t i = 0; i < todo.size(); ++i) {
      const ssl::TrainResult& r = results[i];
      if (!r.finished) {
        spdlog::info(
            "stopped at step {} of {} of round {}'s SS; rerun the same command to continue",
            r.steps, runs[i].optim.steps, k);
        return false;
      }
      json info{{"checkpoint", r.checkpoint.string()},
                {"seed", runs[i].seed},
                {"steps", r.steps},
                {"labelled", t.labelled.size()},
                {"last_validation", r.last_validation}};
      if (plan.at_once > 1)
        info["side_by_side"] = {{"at_once", plan.at_once}, {"threads_each", plan.threads_each}};
      if (!runs[i].init_from.empty()) info["warm_start_from"] = runs[i].init_from.string();
      state_.mark_done(ss_step(k, todo[i]), info);
    }
    return true;
  }

  // Side by side only on the CPU, when the config allows it and no member's steps draw from
  // torch's process-wide generator (they would interleave their draws).
  MemberPlan member_plan() const {
    const bool cpu = infer::parse_device(ss_.device).is_cpu();
    const bool allowed = cpu && params_.concurrent_members && !ssl::steps_use_global_generator(ss_);
    return plan_members(members(), at::get_num_threads(), allowed);
  }

  void finetune_sam() {
    if (state_.done(kStepSam)) return;
    if (!params_.stages.sam) {
      spdlog::warn("SAM skipped: switched off (loop.stages.sam = false); PL2 = PL1's tumour");
      state_.mark_done(kStepSam, {{"skipped", "switched off (loop.stages.sam = false)"}});
      return;
    }
    const SamLoopParams& p = params_.sam;
    // Random weights must be the same after a restart: seed before building.
    torch::manual_seed(p.finetune.seed);
    sam::LoadedSam loaded = sam::load_sam_checkpoint(p.checkpoint, p.model);
    sam::SamFinetuneParams ft = p.finetune;
    ft.device = ss_.device;
    const auto slices = sam::load_labelled_slices(initial_.labelled, sam::slice_selection(ft));
    if (slices.empty()) {
      const std::string reason =
          "no labelled slice holds >= " + std::to_string(ft.min_tumour_pixels) +
          " tumour pixels to fine-tune SAM on";
      spdlog::warn("SAM skipped: {}; PL2 = PL1's tumour, and the adaptation net is skipped too",
                   reason);
      state_.mark_done(kStepSam, {{"skipped", reason}});
      return;
    }
    spdlog::info("SAM: fine-tuning on {} tumour slices of the {} expert-labelled volumes",
                 slices.size(), initial_.labelled.size());
    const sam::FinetuneResult r =
        sam::finetune_sam(loaded.model, slices, ft, layout_.run() / kSamDir);
    state_.mark_done(kStepSam, {{"checkpoint", r.checkpoint.string()},
                                {"slices", slices.size()},
                                {"first_loss", r.first_loss},
                                {"last_loss", r.last_loss},
                                {"random_init", loaded.random_weights}});
  }

  // Why a stage was skipped (empty when it ran).
  std::string skipped(const char* step) const {
    if (!state_.done(step)) return {};
    return state_.info(step).value("skipped", std::string());
  }

  sam::SamPredictor sam_predictor() const {
    return sam::SamPredictor(sam::load_sam_checkpoint(sam_checkpoint(), std::nullopt).model,
                             device_);
  }

  SamStageParams sam_stage() const {
    SamStageParams s;
    s.prompts = params_.sam.prompts;
    s.window = params_.sam.finetune.window;  // SAM sees the slices as it was fine-tuned on them
    s.roi = params_.sam.finetune.roi;
    return s;
  }

  void train_an() {
    if (state_.done(kStepAn)) return;
    if (!skipped(kStepSam).empty()) {
      state_.mark_done(kStepAn, {{"skipped", "it refines SAM's masks, and SAM was skipped"}});
      return;
    }
    if (!params_.stages.adaptation) {
      spdlog::warn(
          "adaptation net skipped: switched off (loop.stages.adaptation = false); "
          "PL3 = PL2");
      state_.mark_done(kStepAn, {{"skipped", "switched off (loop.stages.adaptation = false)"}});
      return;
    }
    sam::SamPredictor sam = sam_predictor();
    AdaptationTrainParams p = params_.adaptation;
    p.device = ss_.device;
    const AdaptationTrainResult r =
        train_adaptation_net(initial_.labelled, sam, sam_stage(), p, layout_.run() / kAnDir);
    state_.mark_done(kStepAn, {{"checkpoint", r.checkpoint.string()},
                               {"samples", r.samples},
                               {"first_loss", r.first_loss},
                               {"last_loss", r.last_loss}});
  }

  // Round k's component filter, fitted on its SS's predictions on the expert-labelled volumes
  // (written before PL1 of round k is made, read by the pipeline and by `aslseg infer`).
  void fit_filter(int k) {
    const std::string step = round_step(k, kComponentFilterStep);
    if (state_.done(step)) return;
    json j;
    if (!params_.component_filter.enabled) {
      j = postprocess::ComponentFilter().to_json();
      j["reason"] = "switched off (loop.component_filter.enabled = false)";
    } else {
      infer::Predictor ss = infer::Predictor::from_checkpoints(ss_checkpoints(k), device_);
      const ComponentFilterFit fit =
          fit_component_filter(ss, initial_.labelled, params_.component_filter);
      j = fit.to_json();
      if (fit.filter.enabled())
        spdlog::info("round {}: component filter {}", k, fit.summary());
      else
        spdlog::warn("round {}: component filter {}", k, fit.summary());
    }
    io::write_text_atomically(layout_.round_dir(k) / kComponentFilterFile, j.dump(2) + "\n");
    json info{{"enabled", j.at("enabled")}};
    for (const char* key : {"reason", "fit"})
      if (j.contains(key)) info[key] = j.at(key);
    state_.mark_done(step, info);
  }

  struct Models {
    infer::Predictor ss;
    std::optional<sam::SamPredictor> sam;  // absent: the stage was skipped
    std::optional<AdaptationPredictor> an;
    postprocess::ComponentFilter filter;  // disabled when the round has none
    StagePipeline pipeline(SamStageParams stage) {
      return StagePipeline(ss, sam ? &*sam : nullptr, an ? &*an : nullptr, std::move(stage),
                           &filter);
    }
  };
  Models models(int k) const {
    Models m{infer::Predictor::from_checkpoints(ss_checkpoints(k), device_), {}, {}, {}};
    const fs::path filter = layout_.round_dir(k) / kComponentFilterFile;
    if (fs::exists(filter)) m.filter = read_component_filter(filter);
    if (skipped(kStepSam).empty()) m.sam.emplace(sam_predictor());
    if (skipped(kStepAn).empty()) m.an.emplace(an_checkpoint(), ss_.device);
    return m;
  }

  void pseudo_labels(int k, const std::vector<dataset::UnlabelledCase>& pool) {
    const std::string step = round_step(k, "pseudo_labels");
    if (state_.done(step)) return;
    Models m = models(k);
    StagePipeline pipeline = m.pipeline(sam_stage());
    const bool gate = params_.selection.max_uncertainty.has_value();
    // Member agreement: each member's own label map, post-processed as PL1 is.
    const bool by_members = params_.selection.reliability == ReliabilitySource::kMembers;
    std::vector<CaseScore> scores;
    int64_t filtered = 0;  // PL1 tumour components the component filter removed
    json failures = json::array();
    cli::Progress progress("round " + std::to_string(k) + " pseudo-labels",
                           static_cast<int64_t>(pool.size()));
    for (const auto& c : pool) {
      try {
        const Image hu = io::read_image(c.image);
        const StageLabels labels =
            pipeline.run(hu, gate ? params_.mc_dropout_samples : 0, mc_seed(k, c.id), by_members);
        filtered += labels.filtered_components;
        io::write_labels(labels.pl1, layout_.stage_label(k, Stage::kPL1, c.id));
        io::write_labels(labels.pl2, layout_.stage_label(k, Stage::kPL2, c.id));
        io::write_labels(labels.pl3, layout_.stage_label(k, Stage::kPL3, c.id));
        if (by_members) {
          scores.push_back(score_members(c.id, labels.members, params_.selection));
        } else {
          scores.push_back(
              score_case(c.id, labels.pl1, labels.pl3, labels.uncertainty, params_.selection));
        }
      } catch (const InputError& e) {
        // A volume that cannot be read is reported and never selected; the round goes on.
        spdlog::error("{}", e.what());
        failures.push_back({{"case", c.id}, {"file", e.path()}, {"error", e.problem()}});
      }
      progress.tick();
    }
    progress.finish();
    json j = json::array();
    for (const Decision& d : select(scores, params_.selection)) j.push_back(score_json(d));
    io::write_text_atomically(layout_.round_dir(k) / kScoresFile,
                              json{{"scores", j}, {"failures", failures}}.dump(2) + "\n");
    if (m.filter.enabled())
      spdlog::info(
          "round {}: the component filter removed {} tumour components from PL1 of {} "
          "pool volumes",
          k, filtered, scores.size());
    state_.mark_done(step, {{"scored", scores.size()},
                            {"failed", failures.size()},
                            {"filtered_components", filtered}});
  }

  void score_test(int k) {
    const std::string step = round_step(k, "test");
    if (state_.done(step) || test_.empty()) return;
    Models m = models(k);
    StagePipeline pipeline = m.pipeline(sam_stage());
    const fs::path dir = layout_.round_dir(k) / "test";
    TestReport ss(kStageSs, dir / kStageSs), ss_sam(kStageSsSam, dir / kStageSsSam),
        ss_sam_an(kStageSsSamAn, dir / kStageSsSamAn);
    cli::Progress progress("round " + std::to_string(k) + " test split",
                           static_cast<int64_t>(test_.size()));
    for (const auto& c : test_) {
      try {
        const Image hu = io::read_image(c.image);
        const LabelMap truth = io::read_labels_matching(c.label, hu.geometry);
        const StageLabels labels = pipeline.run(hu);
        ss.add(c.id, labels.pl1, truth, c.label);
        ss_sam.add(c.id, with_tumour(labels.pl1, labels.pl2), truth, c.label);
        ss_sam_an.add(c.id, labels.pl3, truth, c.label);
      } catch (const InputError& e) {
        spdlog::error("{}", e.what());
        for (TestReport* r : {&ss, &ss_sam, &ss_sam_an}) r->fail(c.id, e.path(), e.problem());
      }
      progress.tick();
    }
    progress.finish();
    state_.mark_done(step, {{kStageSs, ss.finish()},
                            {kStageSsSam, ss_sam.finish()},
                            {kStageSsSamAn, ss_sam_an.finish()}});
  }

  // Writes the selected volumes' labels, then selected.json last (it marks the round done).
  int select_round(int k) {
    const std::string step = round_step(k, "selection");
    if (state_.done(step)) return state_.info(step).at("selected").get<int>();
    const json scores = read_json_file(layout_.round_dir(k) / kScoresFile);
    // Without SAM and AN, PL3 is PL1 and agrees with it by construction: no second opinion,
    // unless the ensemble's members are it.
    const bool blind =
        !skipped(kStepSam).empty() && params_.selection.reliability == ReliabilitySource::kStages;
    if (blind)
      spdlog::warn(
          "round {}: nothing selected: SAM and the adaptation net were skipped, so no "
          "second opinion checks SS's pseudo-labels",
          k);
    std::vector<SelectedCase> selected;
    for (const json& s : scores.at("scores")) {
      if (blind || s.at("verdict") != verdict_name(Verdict::kSelected)) continue;
      const std::string id = s.at("case").get<std::string>();
      const auto it = std::find_if(initial_.unlabelled.begin(), initial_.unlabelled.end(),
                                   [&](const auto& c) { return c.id == id; });
      const LabelMap pl3 = io::read_labels(layout_.stage_label(k, Stage::kPL3, id));
      io::write_labels(pl3, layout_.pseudo_label(k, id));
      SelectedCase c;
      c.id = id;
      // Absolute: the data folder may have been given relative to where `train` ran, and
      // `export` reads relative paths against the run folder.
      c.image = std::filesystem::absolute(it->image).lexically_normal();
      c.round = k;
      c.reliability = s.at("reliability").get<double>();
      c.liver_dice = s.at("liver_dice").get<double>();
      if (!s.at("uncertainty").is_null()) c.uncertainty = s.at("uncertainty").get<double>();
      selected.push_back(c);
      spdlog::info("round {}: selected {} ({})", k, id, s.at("reason").get<std::string>());
    }
    io::write_text_atomically(layout_.round_dir(k) / kSelectedFile, selected_to_json(selected));
    spdlog::info("round {}: {} of {} pool volumes selected", k, selected.size(),
                 scores.at("scores").size());
    std::set<std::string> chosen;
    for (const SelectedCase& c : selected) chosen.insert(c.id);
    state_.mark_done(step, {{"selected", selected.size()},
                            {"pool", scores.at("scores").size()},
                            {"quality", selection_quality(k, scores, chosen)}});
    return static_cast<int>(selected.size());
  }

  // How good the selected and the rejected pseudo-labels of round k really are, from the
  // unlabelled cases' hidden labels (evaluation only: nothing here feeds back into training):
  // tumour Dice of PL1 and PL3 against the truth, liver Dice of PL3, per case and as means.
  json selection_quality(int k, const json& scores, const std::set<std::string>& chosen) const {
    json groups = {{"selected", json::array()}, {"rejected", json::array()}};
    for (const json& s : scores.at("scores")) {
      const std::string id = s.at("case").get<std::string>();
      const auto truth_case =
          std::find_if(unlabelled_truth_.begin(), unlabelled_truth_.end(),
                       [&](const dataset::LabelledCase& c) { return c.id == id; });
      if (truth_case == unlabelled_truth_.end()) continue;  // no hidden label: nothing to say
      try {
        const LabelMap pl3 = io::read_labels(layout_.stage_label(k, Stage::kPL3, id));
        const LabelMap pl1 = io::read_labels(layout_.stage_label(k, Stage::kPL1, id));
        const LabelMap truth = io::read_labels_matching(truth_case->label, pl3.geometry);
        groups[chosen.count(id) ? "selected" : "rejected"].push_back(
            {{"case", id},
             {"reliability", s.at("reliability")},
             {"pl1_tumour_dice", metrics::dice(pl1, truth, metrics::kLitsTumour)},
             {"pl3_tumour_dice", metrics::dice(pl3, truth, metrics::kLitsTumour)},
             {"pl3_liver_dice", metrics::dice(pl3, truth, metrics::kLitsLiver)},
             {"truth_tumour_voxels", std::count(truth.voxels.begin(), truth.voxels.end(),
                                                static_cast<uint8_t>(kTumour))}});
      } catch (const InputError& e) {
        spdlog::warn("selection quality: {}", e.what());
      }
    }
    json out = json::object();
    for (const char* group : {"selected", "rejected"}) {
      const json& cases = groups.at(group);
      json g = {{"n", cases.size()}, {"cases", cases}};
      for (const char* key : {"pl1_tumour_dice", "pl3_tumour_dice", "pl3_liver_dice"}) {
        double sum = 0.0;
        for (const json& c : cases) sum += c.at(key).get<double>();
        g[std::string("mean_") + key] =
            cases.empty() ? json(nullptr) : json(sum / static_cast<double>(cases.size()));
      }
      out[group] = g;
    }
    return out;
  }

  json summary() const {
    json rounds = json::array();
    for (int k = 1; k <= params_.rounds; ++k) {
      const std::string sel = round_step(k, "selection");
      if (!state_.done(sel)) break;
      json r = {{"round", k},
                {"selected", state_.info(sel).at("selected")},
                {"pool", state_.info(sel).at("pool")},
                {"selection_quality", state_.info(sel).value("quality", json(nullptr))},
                {"ss", state_.info(ss_step(k, 0))}};
      if (members() > 1) {
        json all = json::array();
        for (int m = 0; m < members(); ++m) all.push_back(state_.info(ss_step(k, m)));
        r["ss_members"] = all;
      }
      const std::string filter = round_step(k, kComponentFilterStep);
      if (state_.done(filter)) {
        r["component_filter"] = state_.info(filter);
        r["component_filter"]["removed_from_pool_pl1"] =
            state_.info(round_step(k, "pseudo_labels")).value("filtered_components", json(nullptr));
      }
      const std::string test = round_step(k, "test");
      r["test"] = state_.done(test) ? state_.info(test) : json::object();
      rounds.push_back(r);
    }
    return {{"rounds", rounds},
            {"stopped_early", stopped_.empty() ? json(nullptr) : json(stopped_)},
            {"sam", state_.done(kStepSam) ? state_.info(kStepSam) : json(nullptr)},
            {"an", state_.done(kStepAn) ? state_.info(kStepAn) : json(nullptr)}};
  }

  const ssl::TrainParams& ss_;
  const LoopParams& params_;
  const dataset::TrainingSet& initial_;
  const std::vector<dataset::LabelledCase>& test_;
  const std::vector<dataset::LabelledCase>& unlabelled_truth_;
  RunLayout layout_;
  RunState state_;
  torch::Device device_;
  std::string stopped_;
};

std::string metric_cell(const json& summary, const char* cls, const char* metric) {
  if (!summary.contains(cls)) return "-";
  const json& m = summary.at(cls).at(metric).at("mean");
  if (m.is_null()) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", m.get<double>());
  return buf;
}

}  // namespace

LoopResult run_loop(const ssl::TrainParams& ss, const LoopParams& loop,
                    const dataset::TrainingSet& initial, const dataset::EvaluationSet& evaluation,
                    const fs::path& run) {
  if (loop.selection.reliability == ReliabilitySource::kMembers && loop.ss_members < 2)
    throw InputError("configuration",
                     "loop.selection.reliability \"members\" compares the SS ensemble's members: "
                     "set loop.ss_members >= 2, or use \"stages\" (PL3 against PL1)");
  if (loop.selection.max_uncertainty && loop.ss_members > 1)
    throw InputError("configuration",
                     "loop.selection.max_uncertainty (Monte-Carlo dropout) is not defined for an "
                     "ensemble: set loop.ss_members to 1 or max_uncertainty to null");
  if (loop.selection.max_uncertainty && !(ss.spec.unet.dropout > 0.0))
    throw InputError("configuration",
                     "loop.selection.max_uncertainty needs the Monte-Carlo dropout of SS: set "
                     "model.dropout > 0 (e.g. 0.1), or leave max_uncertainty null");
  fs::create_directories(run);
  return Loop(ss, loop, initial, evaluation, run).run();
}

std::string results_table(const json& summary) {
  std::string out = "round  stage        liver Dice  tumour Dice  tumour HD95  tumour ASD\n";
  for (const json& r : summary.at("rounds")) {
    for (const char* stage : {kStageSs, kStageSsSam, kStageSsSamAn}) {
      const json& t = r.at("test");
      const json s = t.contains(stage) ? t.at(stage) : json::object();
      char line[160];
      std::snprintf(
          line, sizeof line, "%5d  %-11s  %10s  %11s  %11s  %10s\n", r.at("round").get<int>(),
          stage, metric_cell(s, "liver", "dice").c_str(), metric_cell(s, "tumour", "dice").c_str(),
          metric_cell(s, "tumour", "hd95").c_str(), metric_cell(s, "tumour", "asd").c_str());
      out += line;
    }
  }
  for (const auto& [step, name] :
       {std::pair{kStepSam, "SAM"}, std::pair{kStepAn, "adaptation net"}}) {
    const json& info = summary.value(step, json(nullptr));
    if (info.is_object() && info.contains("skipped"))
      out += std::string(name) + " skipped (its stage repeats the stage before it): " +
             info.at("skipped").get<std::string>() + "\n";
  }
  return out;
}

}  // namespace aslseg::loop
