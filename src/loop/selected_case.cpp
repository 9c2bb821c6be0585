#include "aslseg/loop/selected_case.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "aslseg/io/error.h"

namespace aslseg::loop {

namespace {

using nlohmann::json;

constexpr int kJsonIndent = 2;

double number_field(const json& obj, const char* key, const std::string& where,
                    const std::string& file) {
  if (!obj.contains(key) || !obj[key].is_number())
    throw InputError(file, where + ": \"" + key + "\" must be a number");
  const double v = obj[key].get<double>();
  if (!std::isfinite(v)) throw InputError(file, where + ": \"" + key + "\" is not finite");
  return v;
}

std::string string_field(const json& obj, const char* key, const std::string& where,
                         const std::string& file) {
  if (!obj.contains(key) || !obj[key].is_string() || obj[key].get<std::string>().empty())
    throw InputError(file, where + ": \"" + key + "\" must be a non-empty string");
  return obj[key].get<std::string>();
}

}  // namespace

SelectedCase selected_case(const CaseScore& score, const std::filesystem::path& image, int round) {
  SelectedCase c;
  c.id = score.id;
  c.image = image;
  c.round = round;
  c.reliability = score.reliability;
  c.liver_dice = score.liver_dice;
  c.uncertainty = score.uncertainty;
  return c;
}

std::string selected_to_json(const std::vector<SelectedCase>& cases) {
  json arr = json::array();
  for (const SelectedCase& c : cases) {
    json u = nullptr;
    if (c.uncertainty && std::isfinite(*c.uncertainty)) u = *c.uncertainty;
    arr.push_back({{"case", c.id},
                   {"image", c.image.string()},
                   {"round", c.round},
                   {"reliability", c.reliability},
                   {"liver_dice", c.liver_dice},
                   {"uncertainty", u},
                   {"source_stage", {{"tumour", c.source.tumour}, {"liver", c.source.liver}}}});
  }
  return arr.dump(kJsonIndent) + "\n";
}

std::vector<SelectedCase> load_selected(const std::filesystem::path& file, int expected_round) {
  const std::string name = file.string();
  std::ifstream in(file);
  if (!in) throw InputError(name, "cannot open");
  std::stringstream text;
  text << in.rdbuf();
  json doc;
  try {
    doc = json::parse(text.str());
  } catch (const json::parse_error& e) {
    throw InputError(name, std::string("not valid JSON: ") + e.what());
  }
  if (!doc.is_array()) throw InputError(name, "must hold a JSON array of selected cases");
  std::vector<SelectedCase> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < doc.size(); ++i) {
    const json& e = doc[i];
    const std::string where = "entry " + std::to_string(i);
    if (!e.is_object()) throw InputError(name, where + " is not an object");
    SelectedCase c;
    c.id = string_field(e, "case", where, name);
    const std::string at = where + " (case '" + c.id + "')";
    c.image = string_field(e, "image", at, name);
    if (!e.contains("round") || !e["round"].is_number_integer())
      throw InputError(name, at + ": \"round\" must be an integer");
    c.round = e["round"].get<int>();
    if (c.round != expected_round)
      throw InputError(name, at + ": round " + std::to_string(c.round) + " in the file of round " +
                                 std::to_string(expected_round));
    c.reliability = number_field(e, "reliability", at, name);
    c.liver_dice = number_field(e, "liver_dice", at, name);
    if (e.contains("uncertainty") && !e["uncertainty"].is_null())
      c.uncertainty = number_field(e, "uncertainty", at, name);
    if (e.contains("source_stage")) {
      const json& s = e["source_stage"];
      if (!s.is_object()) throw InputError(name, at + ": \"source_stage\" must be an object");
      c.source.tumour = string_field(s, "tumour", at + " source_stage", name);
      c.source.liver = string_field(s, "liver", at + " source_stage", name);
    }
    if (!seen.insert(c.id).second) throw InputError(name, at + ": the case is listed twice");
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace aslseg::loop
