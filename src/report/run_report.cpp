#include "aslseg/report/run_report.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "aslseg/config/json_fields.h"
#include "aslseg/dataset/dataset.h"
#include "aslseg/io/atomic_file.h"
#include "aslseg/io/error.h"
#include "aslseg/loop/loop_runner.h"
#include "aslseg/loop/run_layout.h"
#include "aslseg/loop/selection.h"
#include "aslseg/report/case_pictures.h"
#include "aslseg/report/svg_chart.h"

namespace aslseg::report {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kSplitFile = "split.json";
constexpr const char* kMetricsLog = "metrics.jsonl";
constexpr const char* kStages[] = {"ss", "ss_sam", "ss_sam_an"};
constexpr const char* kStageTitles[] = {"SS (PL1)", "SS→SAM (PL2)", "SS→SAM→AN (PL3)"};

// Counts the pictures and charts the page holds, and what could not be shown.
struct Page {
  std::string html;
  ReportContents contents;
  void note(const std::string& text) {
    contents.notes.push_back(text);
    spdlog::warn("report: {}", text);
  }
  void chart(const std::string& svg) {
    html += "<div class=\"chart\">" + svg + "</div>\n";
    ++contents.charts;
  }
};

std::string fixed(const json& v, int digits = 3) {
  if (!v.is_number()) return "–";
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(digits);
  s << v.get<double>();
  return s.str();
}

const json& at_path(const json& j, std::initializer_list<const char*> keys) {
  static const json kNull;
  const json* cur = &j;
  for (const char* k : keys) {
    if (!cur->is_object() || !cur->contains(k)) return kNull;
    cur = &cur->at(k);
  }
  return *cur;
}

// --- results: the test split per round and stage -----------------------------------------

void results_section(Page& page, const json& summary) {
  page.html += "<h2>Test split, per round and stage</h2>\n";
  // A run without rounds (loop.rounds = 0) has SS only, its test split at the top level.
  const json ss_only =
      json::array({{{"round", 0}, {"test", {{"ss", at_path(summary, {"test"})}}}}});
  const json& rounds =
      at_path(summary, {"rounds"}).is_array() ? at_path(summary, {"rounds"}) : ss_only;
  if (!rounds.is_array() || rounds.empty()) {
    page.html += "<p>No finished round.</p>\n";
    return;
  }
  page.html +=
      "<table><tr><th>round</th><th>stage</th><th>liver Dice</th><th>tumour Dice</th>"
      "<th>tumour HD95 mm</th><th>tumour ASD mm</th><th>selected</th></tr>\n";
  std::vector<ChartSeries> series;
  for (size_t s = 0; s < std::size(kStages); ++s) series.push_back({kStageTitles[s], {}});
  for (const json& r : rounds) {
    const int k = r.value("round", 0);
    for (size_t s = 0; s < std::size(kStages); ++s) {
      const json& t = at_path(r, {"test", kStages[s]});
      const json& tumour = at_path(t, {"tumour", "dice", "mean"});
      if (tumour.is_number()) series[s].points.emplace_back(k, tumour.get<double>());
      const bool last = s + 1 == std::size(kStages);
      page.html += "<tr><td>" + std::to_string(k) + "</td><td>" + kStageTitles[s] + "</td><td>" +
                   fixed(at_path(t, {"liver", "dice", "mean"})) + "</td><td>" + fixed(tumour) +
                   "</td><td>" + fixed(at_path(t, {"tumour", "hd95", "mean"}), 1) + "</td><td>" +
                   fixed(at_path(t, {"tumour", "asd", "mean"}), 1) + "</td><td>" +
                   (last ? std::to_string(r.value("selected", 0)) + " of " +
                               std::to_string(r.value("pool", 0))
                         : "") +
                   "</td></tr>\n";
    }
  }
  page.html += "</table>\n";
  for (const char* stage : {"sam", "an"}) {
    const json& skipped = at_path(summary, {stage, "skipped"});
    if (skipped.is_string())
      page.html += "<p class=\"skip\">" +
                   std::string(stage == std::string("sam") ? "SAM" : "The adaptation net") +
                   " was skipped, so its stage repeats the one before: " +
                   escape_html(skipped.get<std::string>()) + "</p>\n";
  }
  if (at_path(summary, {"stopped_early"}).is_string())
    page.html += "<p class=\"skip\">Stopped early: " +
                 escape_html(summary.at("stopped_early").get<std::string>()) + "</p>\n";
  ChartOptions dice{"Tumour Dice on the test split", "round", "mean Dice"};
  dice.markers = true;
  page.chart(line_chart_svg(series, dice));
}

// --- learning curves ------------------------------------------------------------------------

std::vector<json> read_json_lines(const fs::path& path) {
  std::vector<json> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded() && j.is_object()) lines.push_back(std::move(j));
  }
  return lines;
}

// Every n-th point so a series keeps at most `max_points` (the last point always kept).
void thin(std::vector<std::pair<double, double>>& points, int max_points) {
  if (max_points <= 0 || points.size() <= static_cast<size_t>(max_points)) return;
  const size_t stride = (points.size() + max_points - 1) / max_points;
  std::vector<std::pair<double, double>> kept;
  for (size_t i = 0; i < points.size(); i += stride) kept.push_back(points[i]);
  if (kept.back() != points.back()) kept.push_back(points.back());
  points.swap(kept);
}

// The group a metrics log belongs to ("ss", "sam", "an"): its folder, with round_K/ and
// _member_J dropped, so all SS nets share one chart.
std::string curve_group(const fs::path& relative) {
  std::string group;
  for (const auto& part : relative.parent_path()) {
    const std::string name = part.string();
    if (name.rfind(loop::kRoundPrefix, 0) == 0) continue;
    group = name.rfind(loop::kSsMemberPrefix, 0) == 0 ? loop::kSsFolder : name;
    break;
  }
  return group.empty() ? "run" : group;
}

std::string group_title(const std::string& group) {
  if (group == "ss") return "Segmentation net (SS)";
  if (group == "sam") return "SAM fine-tuning";
  if (group == "an") return "Adaptation net (AN)";
  return group;
}

void curves_section(Page& page, const fs::path& run, const ReportParams& params) {
  page.html += "<h2>Learning curves</h2>\n";
  std::vector<fs::path> logs;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(run, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->path().filename() == kMetricsLog) logs.push_back(fs::relative(it->path(), run));
  std::sort(logs.begin(), logs.end());
  if (logs.empty()) {
    page.html += "<p>No metrics.jsonl in the run.</p>\n";
    return;
  }
  // group -> (loss series, validation series)
  std::map<std::string, std::pair<std::vector<ChartSeries>, std::vector<ChartSeries>>> groups;
  for (const fs::path& rel : logs) {
    const std::string name = rel.parent_path().generic_string();
    ChartSeries loss{name, {}};
    std::map<std::string, ChartSeries> validation;
    for (const json& line : read_json_lines(run / rel)) {
      if (!line.contains("step") || !line.at("step").is_number()) continue;
      const double step = line.at("step").get<double>();
      if (line.contains("loss") && line.at("loss").is_number())
        loss.points.emplace_back(step, line.at("loss").get<double>());
      // SS logs {"validation": {...numbers}}, SAM {"validation_box_dice": x}.
      for (const auto& [key, value] : line.items()) {
        if (key.rfind("validation", 0) != 0) continue;
        auto add = [&](const std::string& label, const json& v) {
          if (!v.is_number()) return;
          auto& s = validation[label];
          s.name = name + " " + label;
          s.points.emplace_back(step, v.get<double>());
        };
        if (value.is_object())
          for (const auto& [k, v] : value.items()) add(k, v);
        else
          add(key, value);
      }
    }
    thin(loss.points, params.max_curve_points);
    auto& g = groups[curve_group(rel)];
    g.first.push_back(std::move(loss));
    for (auto& [label, s] : validation) g.second.push_back(std::move(s));
  }
  for (const auto& [group, charts] : groups) {
    page.html += "<h3>" + escape_html(group_title(group)) + "</h3>\n";
    ChartOptions loss{group_title(group) + ": training loss", "step", "loss"};
    loss.log_y = true;
    page.chart(line_chart_svg(charts.first, loss));
    if (!charts.second.empty())
      page.chart(
          line_chart_svg(charts.second, {group_title(group) + ": validation", "step", "value"}));
  }
}

// --- selection --------------------------------------------------------------------------

// round K -> RUN/round_K/scores.json, for the rounds that scored their pool.
using RoundScores = std::map<int, json>;

RoundScores read_round_scores(const fs::path& run) {
  const loop::RunLayout layout(run);
  RoundScores out;
  for (const int k : layout.rounds()) {
    const fs::path file = layout.round_dir(k) / loop::kScoresFile;
    if (fs::exists(file)) out[k] = config::read_json_file(file);
  }
  return out;
}

void selection_section(Page& page, const RoundScores& round_scores, const json& summary) {
  page.html += "<h2>Selection</h2>\n";
  const json& rounds = at_path(summary, {"rounds"});
  for (const auto& [k, scores] : round_scores) {
    // Hidden-label quality of round k, per case (evaluation only).
    std::map<std::string, json> quality;
    if (rounds.is_array())
      for (const json& r : rounds)
        if (r.value("round", 0) == k)
          for (const char* group : {"selected", "rejected"})
            for (const json& c : at_path(r, {"selection_quality", group, "cases"}))
              quality[c.value("case", "")] = c;
    page.html += "<h3>Round " + std::to_string(k) + "</h3>\n";
    page.html +=
        "<table><tr><th>case</th><th>reliability</th><th>verdict</th><th>why</th>"
        "<th>PL1 tumour Dice*</th><th>PL3 tumour Dice*</th></tr>\n";
    for (const json& s : at_path(scores, {"scores"})) {
      const std::string id = s.value("case", "");
      const json& q = quality.count(id) ? quality.at(id) : json();
      const std::string verdict = s.value("verdict", "");
      page.html += "<tr class=\"" + escape_html(verdict) + "\"><td>" + escape_html(id) +
                   "</td><td>" + fixed(s.value("reliability", json())) + "</td><td>" +
                   escape_html(verdict) + "</td><td class=\"why\">" +
                   escape_html(s.value("reason", "")) + "</td><td>" +
                   fixed(at_path(q, {"pl1_tumour_dice"})) + "</td><td>" +
                   fixed(at_path(q, {"pl3_tumour_dice"})) + "</td></tr>\n";
    }
    page.html += "</table>\n";
  }
  if (round_scores.empty()) page.html += "<p>No round scored its unlabelled pool.</p>\n";
  page.html +=
      "<p class=\"small\">* against the unlabelled case's hidden label where the data folder "
      "has one: evaluation only, never used in training or selection.</p>\n";
}

// --- cases --------------------------------------------------------------------------------

void cases_section(Page& page, const fs::path& run, const RoundScores& round_scores,
                   const ReportParams& params, const fs::path& scratch) {
  page.html += "<h2>Cases</h2>\n";
  if (round_scores.empty()) {
    page.html += "<p>No round produced pseudo-labels.</p>\n";
    return;
  }
  const loop::RunLayout layout(run);
  const auto& [round, scores] = *round_scores.rbegin();
  std::optional<dataset::Dataset> data;
  try {
    data = dataset::discover(
        params.data.empty() ? fs::path(config::read_json_file(run / kSplitFile).value("data", ""))
                            : params.data);
  } catch (const InputError& e) {
    page.note(std::string("no case pictures: they need the data folder (split.json's, or "
                          "--data): ") +
              e.what());
    return;
  }
  // Selected cases first, then the others in score order.
  const std::string selected_verdict = loop::verdict_name(loop::Verdict::kSelected);
  std::vector<std::pair<std::string, std::string>> order;  // (case, verdict)
  for (const bool selected : {true, false})
    for (const json& s : at_path(scores, {"scores"}))
      if ((s.value("verdict", "") == selected_verdict) == selected)
        order.emplace_back(s.value("case", ""), s.value("verdict", ""));
  page.html += "<p>Round " + std::to_string(round) +
               ": CT in a soft-tissue window with the tumour outlines of " +
               "<span class=\"key label\">label</span> (hidden label, evaluation only), "
               "<span class=\"key pl1\">PL1</span> (SS), <span class=\"key pl2\">PL2</span> "
               "(SAM) and <span class=\"key pl3\">PL3</span> (adaptation net), drawn in that "
               "order; the axial slices with the most tumour.</p>\n";
  for (const auto& [id, verdict] : order) {
    if (page.contents.cases >= params.max_cases) break;
    const auto it = std::find_if(data->cases.begin(), data->cases.end(),
                                 [&](const dataset::Case& c) { return c.id == id; });
    if (it == data->cases.end()) {
      page.note("case " + id + " is not in the data folder " + data->root.string());
      continue;
    }
    try {
      const CasePictures pics = render_case(
          it->image, it->label, layout.stage_label(round, loop::Stage::kPL1, id),
          layout.stage_label(round, loop::Stage::kPL2, id),
          layout.stage_label(round, loop::Stage::kPL3, id), params.slices_per_case, scratch);
      page.html += "<div class=\"case\"><h4>case " + escape_html(id) + " <span class=\"verdict " +
                   escape_html(verdict) + "\">" + escape_html(verdict) + "</span></h4>";
      for (const CasePicture& p : pics.slices) {
        page.html += "<figure><img alt=\"case " + escape_html(id) + " slice " +
                     std::to_string(p.z) + "\" src=\"" + p.data_uri +
                     "\"><figcaption>z = " + std::to_string(p.z) + "</figcaption></figure>";
        ++page.contents.images;
      }
      page.html += "</div>\n";
      ++page.contents.cases;
    } catch (const InputError& e) {
      page.note(std::string("case ") + id + ": " + e.what());
    }
  }
}

constexpr const char* kStyle = R"(
body{font-family:sans-serif;margin:24px;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
td.why{font-size:12px;color:#555}
th{background:#f2f2f2}tr.selected td{background:#eaf7ef}.skip{color:#a04000}.small{font-size:12px;color:#555}
.chart{display:inline-block;margin:4px}.case{display:inline-block;vertical-align:top;margin:6px;border:1px solid #ddd;padding:4px}
.case h4{margin:2px 0}figure{display:inline-block;margin:2px}figure img{width:192px;image-rendering:pixelated}
figcaption{font-size:11px;text-align:center}.verdict{color:#a04000}.verdict.selected{color:#007a4d}
.key{padding:0 4px;border-radius:3px;color:#000}.label{background:#F0E442}.pl1{background:#E69F00}
.pl2{background:#56B4E9}.pl3{background:#009E73}.notes{color:#a04000}
)";

// Records in the page itself how many pictures decoded, so a headless browser can check that it
// renders (tests/report); no network, nothing else runs.
constexpr const char* kSelfCheck = R"(<script>
window.addEventListener('load', function () {
  var n = 0;
  for (var i = 0; i < document.images.length; ++i)
    if (document.images[i].complete && document.images[i].naturalWidth > 0) ++n;
  document.body.setAttribute('data-images-rendered', n + '/' + document.images.length);
});
</script>)";

// A scratch folder for the PNGs, removed on every exit path.
class ScratchDir {
 public:
  explicit ScratchDir(const fs::path& near)
      : path_(near / (".aslseg_report_" + std::to_string(::getpid()))) {
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace

ReportContents write_report(const fs::path& run, const fs::path& out, const ReportParams& params) {
  std::error_code ec;
  if (!fs::is_directory(run, ec)) throw InputError(run.string(), "not a run folder");
  const fs::path summary_file = run / loop::kLoopSummaryFile;
  if (!fs::exists(summary_file))
    throw InputError(summary_file.string(),
                     "missing: not a finished `aslseg train` run (summary.json is written at its "
                     "end)");
  const json summary = config::read_json_file(summary_file);
  const fs::path out_dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
  fs::create_directories(out_dir);
  const ScratchDir scratch(out_dir);

  Page page;
  results_section(page, summary);
  curves_section(page, run, params);
  const RoundScores round_scores = read_round_scores(run);
  cases_section(page, run, round_scores, params, scratch.path());
  selection_section(page, round_scores, summary);

  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>aslseg run report</title><style>" +
      std::string(kStyle) + "</style></head>\n<body>\n<h1>aslseg run report</h1>\n";
  html += "<p>Run: <code>" + escape_html(fs::absolute(run).lexically_normal().string()) +
          "</code> · aslseg " ASLSEG_VERSION "</p>\n";
  if (!page.contents.notes.empty()) {
    html += "<ul class=\"notes\">";
    for (const auto& n : page.contents.notes) html += "<li>" + escape_html(n) + "</li>";
    html += "</ul>\n";
  }
  html += page.html + kSelfCheck + "\n</body></html>\n";
  io::write_text_atomically(out, html);
  return page.contents;
}

}  // namespace aslseg::report
