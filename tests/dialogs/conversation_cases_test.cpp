// Conversations as data, like `rasa test`: every tests/dialogs/conversations/*.jsonl line is one
// conversation run through the real engine and the shipped knowledge, turn by turn, with what the bot's
// state must be after each turn. Format of a line:
//   {"name": "...", "lang": "en"|"zh" (the widget's default language), "today": "YYYY-MM-DD",
//    "turns": [{"say": "customer text", "expect": {...}}, ...]}
// A turn may instead be {"press": N}: the customer clicks button N (from 0) of the bot's last reply.
// Optional members of "expect" (each checked only when present):
//   state, pending, awaiting ("" = none), lang: the DialogState members of those names
//   slots: {"name": value}     slot equals value exactly (JSON)
//   problems / evidence: [..]  the set of categories / types on the claim
//   missing: [..]              slots not filled
//   left_for_staff: [..]       the slots the bot stopped asking
//   said / not_said: [keys]    messages.json keys the replies of this turn contain (every literal part of
//                              the message, so no wording is written in the tests) / do not contain
//   buttons: [keys]            quick replies offered this turn include these messages
//   filed: true                this turn filed a ticket; claim: {field: value} on the filed claim
//   cancelled_claims: N        claims kept from before a new claim began
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#include "tests/dialogs/dialog_harness.h"

namespace rd::test {
namespace {

using nlohmann::json;

// The literal parts of a message template (between its {placeholders}), each at least two bytes.
std::vector<std::string> LiteralParts(const std::string& t) {
  std::vector<std::string> parts;
  std::string cur;
  bool in_param = false;
  for (char c : t) {
    if (c == '{') { in_param = true; if (cur.size() >= 2) parts.push_back(cur); cur.clear(); continue; }
    if (c == '}' && in_param) { in_param = false; continue; }
    if (!in_param) cur += c;
  }
  if (cur.size() >= 2) parts.push_back(cur);
  return parts;
}

bool SaidKey(const DialogHarness& h, const std::string& key) {
  const std::string t = h.ctx.knowledge->messages.Render(key, h.state.lang);
  for (const auto& r : h.last.replies) {
    bool all = true;
    for (const auto& part : LiteralParts(t)) all = all && r.text.find(part) != std::string::npos;
    if (all) return true;
  }
  return false;
}

std::set<std::string> Members(const json& list, const char* key) {
  std::set<std::string> out;
  if (list.is_array()) for (const auto& e : list) out.insert(e.is_string() ? e.get<std::string>() : e.value(key, ""));
  return out;
}

std::string Transcript(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

void CheckTurn(const DialogHarness& h, const json& expect) {
  const DialogState& s = h.state;
  for (const char* member : {"state", "pending", "awaiting"}) {
    if (!expect.contains(member)) continue;
    std::string got = std::string(member) == "state" ? s.state : std::string(member) == "pending" ? s.pending : s.awaiting;
    INFO(member);
    CHECK(got == expect[member].get<std::string>());
  }
  if (expect.contains("lang")) CHECK(std::string(LangCode(s.lang)) == expect["lang"].get<std::string>());
  const json slots = expect.value("slots", json::object());
  for (const auto& [name, value] : slots.items()) {
    INFO("slot " << name);
    CHECK((s.slots.contains(name) ? s.slots[name] : json()) == value);
  }
  if (expect.contains("problems")) CHECK(Members(s.slots.value("problems", json::array()), "category") == Members(expect["problems"], ""));
  if (expect.contains("evidence")) CHECK(Members(s.slots.value("evidence", json::array()), "type") == Members(expect["evidence"], ""));
  const json missing = expect.value("missing", json::array());
  for (const auto& name : missing) {
    INFO("missing " << name);
    CHECK(!s.slots.contains(name.get<std::string>()));
  }
  if (expect.contains("left_for_staff")) {
    CHECK(s.left_for_staff == std::set<std::string>(Members(expect["left_for_staff"], "")));
  }
  const json said = expect.value("said", json::array()), not_said = expect.value("not_said", json::array()),
             buttons = expect.value("buttons", json::array());
  for (const auto& key : said) {
    INFO("said " << key);
    CHECK(SaidKey(h, key.get<std::string>()));
  }
  for (const auto& key : not_said) {
    INFO("not said " << key);
    CHECK(!SaidKey(h, key.get<std::string>()));
  }
  for (const auto& key : buttons) {
    const std::string label = h.ctx.knowledge->messages.Render(key.get<std::string>(), s.lang);
    bool offered = false;
    for (const auto& r : h.last.replies) {
      offered = offered || std::find(r.quick_replies.begin(), r.quick_replies.end(), label) != r.quick_replies.end();
    }
    INFO("button " << key);
    CHECK(offered);
  }
  if (expect.value("filed", false)) {
    const Effect* e = h.FindEffect(Effect::Kind::kFileTicket);
    CHECK(e);  // CHECK, not REQUIRE: one failing conversation must not stop the others
    if (!e) return;
    const json claim = expect.value("claim", json::object());
    for (const auto& [field, value] : claim.items()) {
      INFO("claim " << field);
      CHECK((e->claim.contains(field) ? e->claim[field] : json()) == value);
    }
  }
  if (expect.contains("cancelled_claims")) CHECK(s.cancelled_claims.size() == expect["cancelled_claims"].get<size_t>());
}

void RunConversation(const json& c, const std::string& where) {
  Lang lang = Lang::kEn;
  ParseLang(c.value("lang", "en"), &lang);
  auto today = Date::FromIso(c.value("today", "2026-11-10"));
  REQUIRE(today);
  DialogHarness h(lang, *today);
  std::vector<std::string> transcript;
  for (const auto& turn : c.at("turns")) {
    std::string text;
    if (turn.contains("press")) {  // a click on button N of the bot's last reply
      const auto n = turn["press"].get<size_t>();
      REQUIRE(!h.last.replies.empty());
      REQUIRE(n < h.last.replies.back().quick_replies.size());
      text = h.last.replies.back().quick_replies[n];
    } else {
      text = turn.at("say").get<std::string>();
    }
    h.Say(text);
    transcript.push_back("you> " + text);
    for (const auto& r : h.last.replies) transcript.push_back("bot> " + r.text);
    INFO(where << " \"" << c.value("name", "") << "\"\n" << Transcript(transcript));
    CheckTurn(h, turn.value("expect", json::object()));
  }
}

}  // namespace

TEST_CASE("conversations as data (tests/dialogs/conversations/*.jsonl)", "[conversations]") {
  const std::filesystem::path dir = std::filesystem::path(RD_SOURCE_DIR) / "tests/dialogs/conversations";
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".jsonl") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  REQUIRE(!files.empty());
  int conversations = 0;
  for (const auto& file : files) {
    std::ifstream in(file);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos || line[line.find_first_not_of(" \t")] == '#') continue;
      json c = json::parse(line, nullptr, false);
      std::string where = file.filename().string() + ":" + std::to_string(n);
      INFO(where);
      REQUIRE(!c.is_discarded());
      RunConversation(c, where);
      ++conversations;
    }
  }
  CHECK(conversations > 0);
}

}  // namespace rd::test
