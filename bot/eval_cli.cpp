// `refundbot eval claims|dates|faq FILE.jsonl [--json] [--floor PCT]`: the understanding measured on
// data, like `rasa test`. Each record runs through the real engine and knowledge (no HTTP, no store):
// claims walk a whole conversation to a ticket, dates go through the date scanner, questions through
// the FAQ index. It prints per-field and per-language accuracy and every miss; it exits 1 when a
// language scores below --floor PCT, or (claims) more than --max-unfiled conversations end without a ticket.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bot/cli.h"
#include "bot/config.h"
#include "dialogs/engine.h"
#include "knowledge/knowledge.h"

namespace rd {

namespace {

using nlohmann::json;

struct EvalArgs {
  std::string what, file;
  bool as_json = false;
  double floor = -1;    // percent; < 0: no floor
  int max_unfiled = -1;  // claims: conversations allowed to end without a ticket; < 0: not checked
};

bool ParseEvalArgs(const std::vector<std::string>& args, EvalArgs* out, std::string* error) {
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--json") {
      out->as_json = true;
    } else if (args[i] == "--floor") {
      if (i + 1 >= args.size()) { *error = "--floor needs a percentage"; return false; }
      char* end = nullptr;
      out->floor = std::strtod(args[++i].c_str(), &end);
      if (*end != '\0' || out->floor < 0 || out->floor > 100) { *error = "--floor must be 0..100"; return false; }
    } else if (args[i] == "--max-unfiled") {
      if (i + 1 >= args.size()) { *error = "--max-unfiled needs a count"; return false; }
      char* end = nullptr;
      out->max_unfiled = static_cast<int>(std::strtol(args[++i].c_str(), &end, 10));
      if (*end != '\0' || out->max_unfiled < 0) { *error = "--max-unfiled must be a count"; return false; }
    } else {
      positional.push_back(args[i]);
    }
  }
  if (positional.size() != 2 || (positional[0] != "claims" && positional[0] != "dates" && positional[0] != "faq")) {
    *error = "usage: refundbot eval claims|dates|faq FILE.jsonl [--json] [--floor PCT] [--max-unfiled N]";
    return false;
  }
  out->what = positional[0];
  out->file = positional[1];
  return true;
}

// Reads one JSON object a line; a line that is not one is an error naming it.
bool ReadJsonLines(const std::string& path, std::vector<json>* records, std::string* error) {
  std::ifstream in(path);
  if (!in) { *error = "cannot read " + path; return false; }
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) { *error = path + ":" + std::to_string(n) + ": not a JSON object"; return false; }
    records->push_back(std::move(j));
  }
  return true;
}

// Correct / total per key ("zh", "en", a field name, ...).
class Tally {
 public:
  void Add(const std::string& key, bool ok) {
    auto& [good, all] = counts_[key];
    good += ok ? 1 : 0;
    all += 1;
  }
  double Percent(const std::string& key) const {
    auto it = counts_.find(key);
    return it == counts_.end() || it->second.second == 0 ? 100.0 : 100.0 * it->second.first / it->second.second;
  }
  json ToJson() const {
    json out = json::object();
    for (const auto& [key, c] : counts_) out[key] = {{"correct", c.first}, {"total", c.second}, {"pct", Round(Percent(key))}};
    return out;
  }
  void Print(std::ostream& os, const std::string& title) const {
    os << title << "\n";
    for (const auto& [key, c] : counts_) {
      os << "  " << std::left << std::setw(20) << key << std::right << std::fixed << std::setprecision(1)
         << std::setw(6) << Percent(key) << " %  (" << c.first << "/" << c.second << ")\n";
    }
  }
  static double Round(double pct) { return std::round(pct * 10) / 10; }

 private:
  std::map<std::string, std::pair<int, int>> counts_;
};

std::string LangOf(const json& record) { return record.value("lang", "en") == "zh" ? "zh" : "en"; }

// ---- claims ----------------------------------------------------------------------------------------

std::set<std::string> MembersOf(const json& list, const char* key) {
  std::set<std::string> out;
  if (!list.is_array()) return out;
  for (const auto& item : list) {
    if (item.is_string()) out.insert(item.get<std::string>());
    else if (item.is_object() && item.contains(key) && item[key].is_string()) out.insert(item[key].get<std::string>());
  }
  return out;
}

std::string WithoutSpacing(const std::string& s) {
  std::string out;
  for (char c : s) if (c != ' ' && c != '-' && c != '(' && c != ')') out += c;
  return out;
}

// The customer's identifier as written is somewhere in the claim's contact (an email, a phone number,
// an account...): compared as written, or without spaces and dashes for phone numbers.
bool ContactMatches(const json& contact, const std::string& expected) {
  if (!contact.is_object()) return false;
  for (const auto& [key, value] : contact.items()) {
    if (!value.is_string()) continue;
    const std::string v = value.get<std::string>();
    if (v == expected || WithoutSpacing(v) == WithoutSpacing(expected)) return true;
  }
  return false;
}

json MergedMetrics(const json& problems) {
  json merged = json::object();
  if (!problems.is_array()) return merged;
  for (const auto& p : problems) {
    if (!p.is_object() || !p.contains("metrics") || !p["metrics"].is_object()) continue;
    for (const auto& [key, value] : p["metrics"].items()) if (!merged.contains(key)) merged[key] = value;
  }
  return merged;
}

bool MetricMatches(const json& got, const json& want) {
  if (want.is_number() && got.is_number()) return std::fabs(got.get<double>() - want.get<double>()) < 1e-6 * std::max(1.0, std::fabs(want.get<double>()));
  if (want.is_string() && got.is_string()) return NormalizeForParsing(got.get<std::string>()) == NormalizeForParsing(want.get<std::string>());
  return false;
}

struct ClaimRun {
  bool filed = false;
  json claim;                  // as filed, or the claim so far when never filed
  std::string stuck_at;        // where a claim that never reached a ticket ended
  std::vector<std::string> transcript;
};

std::string LastBotText(const StepResult& r) { return r.replies.empty() ? "" : r.replies.back().text; }

std::string Text(const Knowledge& knowledge, const std::string& key, const std::string& lang) {
  Lang l = Lang::kEn;
  ParseLang(lang, &l);
  return knowledge.messages.Render(key, l);
}

// Runs one conversation: the opener, the customer's turns, then the follow-ups a real customer gives
// (the contact when asked for it again, "yes" to the summary, the yes/no or date button that says what
// their own words already said) until the claim is filed or stuck.
ClaimRun RunClaim(const json& record, const Knowledge& knowledge) {
  ClaimRun run;
  const std::string lang = LangOf(record);
  DialogContext ctx;
  ctx.knowledge = &knowledge;
  auto today = Date::FromIso(record.value("today", ""));
  ctx.today = today ? *today : Date{2026, 1, 1};
  ctx.now = (ctx.today.ToDays()) * 86400 + 10 * 3600;
  ParseLang(lang, &ctx.default_lang);
  DialogState state;
  StepResult last;
  auto say = [&](const std::string& text) {
    last = Step(std::move(state), text, ctx);
    state = std::move(last.state);
    run.transcript.push_back("you> " + text);
    for (const auto& r : last.replies) run.transcript.push_back("bot> " + r.text);
    for (const auto& e : last.effects) {
      if (e.kind == Effect::Kind::kFileTicket) { run.filed = true; run.claim = e.claim; }
    }
  };
  say(lang == "zh" ? "我要退款" : "I want a refund");
  if (record.contains("turns") && record["turns"].is_array()) {
    for (const auto& t : record["turns"]) if (t.is_string() && !run.filed) say(t.get<std::string>());
  }
  const json expect = record.value("expect", json::object());
  // A yes/no or date button about a date the customer's words already gave: a customer picks the answer
  // that matches what they meant (the record's expectation), and says "no" when the bot got it wrong.
  auto expected_date = [&](const std::string& slot) { return expect.value(slot, std::string()); };
  auto button = [&](bool yes) {
    return Text(knowledge, yes ? "qr.yes" : "qr.no", lang);
  };
  for (int follow_up = 0; follow_up < 6 && !run.filed; ++follow_up) {
    if (state.awaiting == "date_role" && state.date_choices.size() == 2) {
      say(button(state.date_choices[0] == expected_date(state.date_choices[1])));
    } else if (state.awaiting == "order_question") {
      // Keep the dates, take them the other way round (the middle button), or neither.
      const std::string mine = state.slots.value(state.pending, std::string());
      const auto& qr = last.replies.empty() ? std::vector<std::string>{} : last.replies.back().quick_replies;
      bool swapped = qr.size() == 3 && mine != expected_date(state.pending) && mine == expected_date("payment_date") &&
                     state.slots.value("payment_date", std::string()) == expected_date(state.pending);
      say(swapped ? qr[1] : button(mine == expected_date(state.pending)));
    } else if (state.awaiting == "date_choice" && !expected_date(state.pending).empty() &&
               std::find(state.date_choices.begin(), state.date_choices.end(), expected_date(state.pending)) !=
                   state.date_choices.end()) {
      say(expected_date(state.pending));
    } else if (state.state == kConfirming && state.awaiting.empty()) {
      const auto& qr = last.replies.empty() ? std::vector<std::string>{} : last.replies.back().quick_replies;
      say(!qr.empty() ? qr.front() : (lang == "zh" ? "是的" : "yes"));
    } else if (state.pending == "contact" && expect.contains("contact") && expect["contact"].is_string()) {
      say(expect["contact"].get<std::string>());
    } else {
      break;
    }
  }
  if (!run.filed) {
    run.claim = ClaimOf(state);
    run.stuck_at = state.state + (state.pending.empty() ? "" : "/" + state.pending) +
                   (state.awaiting.empty() ? "" : " awaiting " + state.awaiting) + ": " + LastBotText(last);
  }
  return run;
}

// Field name -> whether the ticket holds what the record expects. A claim never filed scores nothing.
std::map<std::string, bool> ScoreClaim(const json& expect, const ClaimRun& run, json* misses) {
  std::map<std::string, bool> fields;
  const json& c = run.claim;
  auto note = [&](const std::string& field, bool ok, const json& want, const json& got) {
    fields[field] = ok && run.filed;
    if (!ok) misses->push_back({{"field", field}, {"expected", want}, {"got", got}});
  };
  for (const char* f : {"payment_date", "activation_date"}) {
    json got = c.contains(f) ? c[f] : json(nullptr);
    note(f, got == expect.value(f, json(nullptr)), expect.value(f, json(nullptr)), got);
  }
  const json problems = c.value("problems", json::array());
  auto got_problems = MembersOf(problems, "category");
  note("problems", got_problems == MembersOf(expect.value("problems", json::array()), "category"),
       expect.value("problems", json::array()), json(got_problems));
  auto got_evidence = MembersOf(c.value("evidence", json::array()), "type");
  note("evidence", got_evidence == MembersOf(expect.value("evidence", json::array()), "type"),
       expect.value("evidence", json::array()), json(got_evidence));
  if (expect.contains("contact")) {
    const json contact = c.value("contact", json::object());
    note("contact", expect["contact"].is_string() && ContactMatches(contact, expect["contact"].get<std::string>()),
         expect["contact"], contact);
  }
  const json metrics = MergedMetrics(problems);
  const json expected_metrics = expect.value("metrics", json::object());
  for (const auto& [key, want] : expected_metrics.items()) {
    json got = metrics.contains(key) ? metrics[key] : json(nullptr);
    note("metrics." + key, MetricMatches(got, want), want, got);
  }
  return fields;
}

struct Report {
  Tally by_field, by_lang;
  json records = json::array();  // one per record with misses (and, for claims, never filed)
  int never_filed = 0;
};

Report EvalClaims(const std::vector<json>& records, const Knowledge& knowledge) {
  Report report;
  for (const auto& record : records) {
    ClaimRun run = RunClaim(record, knowledge);
    json misses = json::array();
    auto fields = ScoreClaim(record.value("expect", json::object()), run, &misses);
    const std::string lang = LangOf(record);
    for (const auto& [field, ok] : fields) {
      report.by_field.Add(field.rfind("metrics.", 0) == 0 ? "metrics" : field, ok);
      report.by_lang.Add(lang, ok);
      report.by_lang.Add("all", ok);
    }
    if (!run.filed) ++report.never_filed;
    if (!misses.empty() || !run.filed) {
      json r = {{"id", record.value("id", "")}, {"lang", lang}, {"filed", run.filed}, {"misses", misses}};
      if (!run.filed) {
        r["stuck_at"] = run.stuck_at;
        r["transcript"] = run.transcript;
      }
      report.records.push_back(std::move(r));
    }
  }
  return report;
}

// ---- dates -----------------------------------------------------------------------------------------

Report EvalDates(const std::vector<json>& records, const Knowledge& knowledge) {
  Report report;
  for (const auto& record : records) {
    const std::string lang = LangOf(record);
    auto ref = Date::FromIso(record.value("ref", ""));
    std::string text = record.value("text", "");
    json got = nullptr;
    if (ref && IsValidUtf8(text)) {
      auto found = FindDates(NormalizeForParsing(text), *ref, DateOptionsForLang(knowledge.vocab, lang));
      if (!found.empty()) got = found.front().date.Iso();
    }
    const json want = record.contains("date") ? record["date"] : json(nullptr);
    bool ok = got == want;
    report.by_lang.Add(lang, ok);
    report.by_lang.Add("all", ok);
    if (!ok) report.records.push_back({{"lang", lang}, {"ref", record.value("ref", "")}, {"text", text}, {"expected", want}, {"got", got}});
  }
  return report;
}

// ---- faq -------------------------------------------------------------------------------------------

// An entry answers `topic` when it is that entry or declares it as its family (faq.json "topic":
// `window.payment_vs_activation` answers for `window.start`).
bool EntryAnswers(const FaqEntry& entry, const std::string& topic) { return entry.id == topic || entry.topic == topic; }

Report EvalFaq(const std::vector<json>& records, const Knowledge& knowledge) {
  Report report;
  for (const auto& record : records) {
    const std::string lang = LangOf(record);
    const std::string text = record.value("text", "");
    const json want = record.contains("topic") ? record["topic"] : json(nullptr);
    const FaqEntry* answered = nullptr;
    if (IsValidUtf8(text)) {
      auto matches = knowledge.faq.Search(NormalizeForParsing(text), 1);
      if (!matches.empty() && matches[0].confidence >= FaqIndex::kAnswerThreshold) answered = matches[0].entry;
    }
    bool ok = want.is_null() ? answered == nullptr : answered && EntryAnswers(*answered, want.get<std::string>());
    report.by_lang.Add(lang, ok);
    report.by_lang.Add("all", ok);
    report.by_field.Add(want.is_null() ? "off_topic" : "on_topic", ok);
    if (!ok) {
      report.records.push_back({{"id", record.value("id", "")}, {"lang", lang}, {"text", text}, {"expected", want},
                                {"got", answered ? json(answered->id) : json(nullptr)}});
    }
  }
  return report;
}

void PrintReport(const EvalArgs& args, const Report& report, size_t total) {
  if (args.as_json) {
    json out = {{"what", args.what}, {"records", total}, {"by_language", report.by_lang.ToJson()}, {"misses", report.records}};
    if (args.what != "dates") out["by_field"] = report.by_field.ToJson();
    if (args.what == "claims") out["never_filed"] = report.never_filed;
    std::cout << out.dump(2) << "\n";
    return;
  }
  for (const auto& r : report.records) std::cout << "miss: " << r.dump() << "\n";
  std::cout << "\n";
  if (args.what != "dates") report.by_field.Print(std::cout, args.what == "claims" ? "by field:" : "by kind:");
  report.by_lang.Print(std::cout, "by language:");
  if (args.what == "claims") std::cout << "never reached a ticket: " << report.never_filed << " of " << total << "\n";
  std::cout << args.what << ": " << std::fixed << std::setprecision(1) << report.by_lang.Percent("all") << " % of "
            << (args.what == "claims" ? "fields" : "records") << " right (zh " << report.by_lang.Percent("zh") << " %, en "
            << report.by_lang.Percent("en") << " %)\n";
}

}  // namespace

int RunEvalCommand(const Config& config, const std::vector<std::string>& args) {
  EvalArgs eval;
  std::string error;
  if (!ParseEvalArgs(args, &eval, &error)) { std::cerr << "refundbot eval: " << error << "\n"; return 2; }
  std::vector<std::string> errors;
  auto knowledge = LoadKnowledge(config.knowledge_dir, &errors);
  if (!knowledge) {
    for (const auto& e : errors) std::cerr << e << "\n";
    return 1;
  }
  std::vector<json> records;
  if (!ReadJsonLines(eval.file, &records, &error)) { std::cerr << "refundbot eval: " << error << "\n"; return 2; }
  Report report = eval.what == "claims" ? EvalClaims(records, *knowledge)
                : eval.what == "dates"  ? EvalDates(records, *knowledge)
                                        : EvalFaq(records, *knowledge);
  PrintReport(eval, report, records.size());
  bool failed = false;
  if (eval.floor >= 0 && (report.by_lang.Percent("zh") < eval.floor || report.by_lang.Percent("en") < eval.floor)) {
    std::cerr << "refundbot eval " << eval.what << ": a language is below the floor of " << eval.floor << " %\n";
    failed = true;
  }
  if (eval.max_unfiled >= 0 && report.never_filed > eval.max_unfiled) {
    std::cerr << "refundbot eval claims: " << report.never_filed << " conversations never reached a ticket (at most "
              << eval.max_unfiled << " allowed)\n";
    failed = true;
  }
  return failed ? 1 : 0;
}

}  // namespace rd
