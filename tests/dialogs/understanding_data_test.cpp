// Understanding cases kept as data (tests/dialogs/data/understanding_cases.jsonl), zh and en: one
// message each, with what the understanding must report. Only the keys a case gives are checked:
//   problems   the categories, as a set          metrics     metric -> value over all its problems
//   no_metrics metrics that must be absent       retracted   categories the message takes back
//   evidence   the types, as a set               contacts    [kind, value] pairs, in order
//   dates      [ISO date, role] pairs, in order
// Optional per case: "lang" (zh | en, the phone region), "pending" (the slot asked for), "today".
// Each family of cases exercises one mechanism (the gazetteer, contact kinds, uptime, ranges and units,
// traditional Chinese...): removing the mechanism fails its cases, whatever else still passes.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>

#include "dialogs/text.h"
#include "dialogs/understanding.h"
#include "tests/dialogs/dialog_harness.h"

namespace rd::test {

namespace {

using nlohmann::json;

std::vector<json> Cases() {
  std::ifstream in(std::string(RD_SOURCE_DIR) + "/tests/dialogs/data/understanding_cases.jsonl");
  std::vector<json> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

std::set<std::string> Set(const json& list) {
  std::set<std::string> out;
  for (const auto& v : list) out.insert(v.get<std::string>());
  return out;
}

// What the understanding reported, in the shape of a case's "expect", for the failure message.
json Reported(const Understanding& u) {
  json problems = json::array(), metrics = json::object(), evidence = json::array(), contacts = json::array();
  json dates = json::array();
  for (const auto& p : u.problems) {
    problems.push_back(p.category);
    for (const auto& [k, v] : p.metrics.items()) metrics[k] = v;
  }
  for (const auto& e : u.evidence) evidence.push_back(e.type);
  for (const auto& c : u.contacts) contacts.push_back({c.kind, c.value});
  for (const auto& d : u.dates) dates.push_back({d.date.Iso(), d.role});
  return {{"problems", problems}, {"metrics", metrics}, {"evidence", evidence}, {"contacts", contacts},
          {"dates", dates}, {"retracted", u.retracted_problems}};
}

// The mismatches between `want` and `got`, one line each; empty when the case passes.
std::string Mismatches(const json& want, const json& got) {
  std::string out;
  auto note = [&](const std::string& field) { out += " " + field + ": want " + want[field].dump() + ", got " + got[field].dump() + ";"; };
  for (const char* field : {"problems", "evidence", "retracted"}) {
    if (want.contains(field) && Set(want[field]) != Set(got[field])) note(field);
  }
  for (const char* field : {"contacts", "dates"}) {
    if (want.contains(field) && want[field] != got[field]) note(field);
  }
  if (want.contains("metrics")) {
    for (const auto& [k, v] : want["metrics"].items()) {
      if (!got["metrics"].contains(k) || got["metrics"][k] != v) { note("metrics"); break; }
    }
  }
  for (const auto& k : want.value("no_metrics", json::array())) {
    if (got["metrics"].contains(k.get<std::string>())) { out += " metrics." + k.get<std::string>() + " must be absent;"; }
  }
  return out;
}

}  // namespace

TEST_CASE("understanding cases from data, zh and en", "[understanding][data]") {
  const auto k = ShippedKnowledge();
  const std::vector<json> cases = Cases();
  REQUIRE(cases.size() >= 40);
  size_t failed = 0;
  std::string report;
  for (const json& c : cases) {
    const std::string text = c["text"];
    auto today = Date::FromIso(c.value("today", "2026-11-20"));
    REQUIRE(today);
    Understanding u = Understand(text, NormalizeForParsing(text), *today, k->vocab, c.value("pending", ""), {},
                                 c.value("lang", "en"));
    std::string miss = Mismatches(c["expect"], Reported(u));
    if (!miss.empty()) {
      ++failed;
      report += c["id"].get<std::string>() + " \"" + text + "\":" + miss + "\n";
    }
  }
  INFO(report);
  CHECK(failed == 0);
}

// The security finding: a 60 KB message of one date repeated must cost linear work. The understanding
// looks at no more than kMaxDatesPerMessage dates (timed by hand: see the report), whatever the length.
TEST_CASE("the understanding looks at a bounded number of dates per message", "[understanding]") {
  const auto k = ShippedKnowledge();
  std::string text;
  while (text.size() < 60 * 1024) text += "5号，";
  size_t considered = 0;
  Understanding u = UnderstandCounted(text, NormalizeForParsing(text), Date{2026, 11, 20}, k->vocab, "", {}, "zh",
                                      &considered);
  CHECK(considered == kMaxDatesPerMessage);
  CHECK(u.dates.size() == kMaxDatesPerMessage);
  std::string few = "5号付款，7号开通";
  UnderstandCounted(few, NormalizeForParsing(few), Date{2026, 11, 20}, k->vocab, "", {}, "zh", &considered);
  CHECK(considered == 2);
}

}  // namespace rd::test
