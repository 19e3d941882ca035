#include "dialogs/understanding.h"

#include <algorithm>
#include <cstdlib>

#include "dialogs/text.h"

namespace rd {

namespace {

using nlohmann::json;

bool ReadStrings(const json& j, std::vector<std::string>* out) {
  if (!j.is_array()) return false;
  for (const auto& v : j) {
    if (!v.is_string()) return false;
    out->push_back(NormalizeForParsing(v.get<std::string>()));
  }
  return true;
}

bool ReadStringLists(const json& j, std::map<std::string, std::vector<std::string>>* out) {
  if (!j.is_object()) return false;
  for (const auto& [k, v] : j.items()) {
    if (!ReadStrings(v, &(*out)[k])) return false;
  }
  return true;
}

// Earliest position of any of `words` in `text` (word-boundary aware), with the matched length.
size_t FindAny(std::string_view text, const std::vector<std::string>& words, size_t* len = nullptr,
               size_t from = 0) {
  size_t best = std::string_view::npos, best_len = 0;
  for (const auto& w : words) {
    size_t p = FindWord(text, w, from);
    if (p < best || (p == best && w.size() > best_len)) { best = p; best_len = w.size(); }
  }
  if (len) *len = best_len;
  return best;
}

bool IsClauseBreak(char c) { return c == ',' || c == ';' || c == '.' || c == '!' || c == '?' || c == '\n'; }

// The message with leading/trailing punctuation and spaces removed (and, with `strip_filler`, filler
// words too), for `exact` intents.
std::string CoreOf(std::string_view normalized, const Vocabulary& vocab, bool strip_filler) {
  std::string s(normalized);
  bool changed = true;
  while (changed) {
    changed = false;
    std::string t = Trim(s);
    while (!t.empty() && (IsClauseBreak(t.back()) || t.back() == '~')) { t.pop_back(); changed = true; }
    while (!t.empty() && (IsClauseBreak(t.front()))) { t.erase(0, 1); changed = true; }
    for (const auto& f : vocab.filler) {
      if (!strip_filler) break;
      if (t.size() > f.size() && t.compare(0, f.size(), f) == 0 &&
          (!IsAsciiAlnum(f.back()) || !IsAsciiAlnum(t[f.size()]))) {
        t.erase(0, f.size()); changed = true;
      }
      if (t.size() > f.size() && t.compare(t.size() - f.size(), f.size(), f) == 0 &&
          (!IsAsciiAlnum(f.front()) || !IsAsciiAlnum(t[t.size() - f.size() - 1]))) {
        t.erase(t.size() - f.size()); changed = true;
      }
    }
    s = Trim(t);
  }
  return s;
}

// The first word (or, for Chinese, the text up to the first comma) — "no, it was ..." starts with "no".
bool StartsWithPhrase(std::string_view core, const std::vector<std::string>& phrases) {
  for (const auto& p : phrases) {
    if (core.size() <= p.size() || core.compare(0, p.size(), p) != 0) continue;
    char next = core[p.size()];
    if (next == ',' || next == ' ' || next == '!' || next == '.') return true;
  }
  return false;
}

struct Number { double value; size_t begin, end; };

// Decimal numbers in the text ("300", "99.5", "3.2").
std::vector<Number> FindNumbers(std::string_view s) {
  std::vector<Number> out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] >= '0' && s[i] <= '9' && (i == 0 || !IsAsciiAlnum(s[i - 1]) || s[i - 1] == 'x')) {
      size_t j = i;
      while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
      if (j + 1 < s.size() && s[j] == '.' && s[j + 1] >= '0' && s[j + 1] <= '9') {
        ++j;
        while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
      }
      out.push_back({std::strtod(std::string(s.substr(i, j - i)).c_str(), nullptr), i, j});
      i = j;
    } else {
      ++i;
    }
  }
  return out;
}

bool UnitAt(std::string_view s, size_t pos, std::string_view unit) {
  while (pos < s.size() && s[pos] == ' ') ++pos;
  if (s.compare(pos, unit.size(), unit) != 0) return false;
  size_t end = pos + unit.size();
  return !IsAsciiAlnum(unit.back()) || end >= s.size() || !IsAsciiAlnum(s[end]);
}

// Distance from a figure to the nearest keyword of `category`, or a large number when absent.
size_t DistanceTo(std::string_view s, const std::vector<std::string>& words, size_t at) {
  size_t best = std::string_view::npos;
  for (const auto& w : words) {
    for (size_t p = FindWord(s, w); p != std::string_view::npos; p = FindWord(s, w, p + 1)) {
      size_t d = p > at ? p - at : at - (p + w.size() <= at ? p + w.size() : at);
      best = std::min(best, d);
    }
  }
  return best;
}

std::string RoundTrip(double v) {
  // Keeps "300" as an integer in JSON and "99.5" as a decimal.
  return v == static_cast<double>(static_cast<long long>(v)) ? std::to_string(static_cast<long long>(v))
                                                               : std::to_string(v);
}

void AddMetric(json& metrics, const std::string& name, double v) {
  if (v == static_cast<double>(static_cast<long long>(v))) metrics[name] = static_cast<long long>(v);
  else metrics[name] = v;
  (void)RoundTrip;
}

std::vector<Problem> FindProblems(std::string_view original, std::string_view s,
                                  const Vocabulary& vocab) {
  std::map<std::string, Problem> by_category;
  auto get = [&](const std::string& category) -> Problem& {
    Problem& p = by_category[category];
    if (p.category.empty()) { p.category = category; p.description = Trim(original); }
    return p;
  };
  for (const auto& [category, words] : vocab.problems) {
    if (FindAny(s, words) != std::string_view::npos) get(category);
  }
  // Figures attach to the category their unit names, or to the nearest keyword for percentages.
  for (const Number& n : FindNumbers(s)) {
    if (UnitAt(s, n.end, "ms") || UnitAt(s, n.end, "毫秒")) {
      AddMetric(get("latency").metrics, "latency_ms", n.value);
    } else if (UnitAt(s, n.end, "mbps") || UnitAt(s, n.end, "mb/s") || UnitAt(s, n.end, "兆") ||
               UnitAt(s, n.end, "m ") || UnitAt(s, n.end, "mbit")) {
      AddMetric(get("bandwidth").metrics, "bandwidth_mbps", n.value);
    } else if (UnitAt(s, n.end, "%")) {
      auto loss = vocab.problems.find("packet_loss");
      auto avail = vocab.problems.find("availability");
      size_t dl = loss == vocab.problems.end() ? std::string_view::npos : DistanceTo(s, loss->second, n.begin);
      size_t da = avail == vocab.problems.end() ? std::string_view::npos : DistanceTo(s, avail->second, n.begin);
      if (dl == std::string_view::npos && da == std::string_view::npos) continue;
      if (da < dl || (dl == std::string_view::npos && n.value >= 50)) {
        AddMetric(get("availability").metrics, "availability_pct", n.value);
      } else {
        AddMetric(get("packet_loss").metrics, "packet_loss_pct", n.value);
      }
    } else if ((UnitAt(s, n.end, "s") || UnitAt(s, n.end, "秒") || UnitAt(s, n.end, "seconds")) &&
               by_category.count("latency")) {
      AddMetric(get("latency").metrics, "latency_ms", n.value * 1000);
    }
  }
  // Regions: a region with "can't connect" is a region_unreachable problem; otherwise the region is
  // where the other problems were seen.
  std::string region;
  size_t region_pos = std::string_view::npos;
  for (const auto& [spelling, canonical] : vocab.regions) {
    size_t p = FindWord(s, spelling);
    if (p < region_pos) { region_pos = p; region = canonical; }
  }
  if (!region.empty()) {
    if (FindAny(s, vocab.unreachable_cues) != std::string_view::npos) {
      get("region_unreachable").metrics["region"] = region;
      by_category.erase("availability");  // "can't connect" there is about the region, not uptime
      get("region_unreachable");
    } else {
      for (auto& [c, p] : by_category) p.metrics["region"] = region;
    }
  }
  std::vector<Problem> out;
  for (auto& [c, p] : by_category) out.push_back(std::move(p));
  return out;
}

std::optional<std::string> FindEmail(std::string_view s) {
  for (size_t at = s.find('@'); at != std::string_view::npos; at = s.find('@', at + 1)) {
    auto local_char = [](char c) { return IsAsciiAlnum(c) || c == '.' || c == '_' || c == '-' || c == '+'; };
    size_t b = at;
    while (b > 0 && local_char(s[b - 1])) --b;
    size_t e = at + 1;
    while (e < s.size() && (IsAsciiAlnum(s[e]) || s[e] == '.' || s[e] == '-')) ++e;
    while (e > at + 1 && s[e - 1] == '.') --e;
    std::string_view domain = s.substr(at + 1, e - at - 1);
    if (b == at || domain.find('.') == std::string_view::npos || domain.front() == '.') continue;
    return std::string(s.substr(b, e - b));
  }
  return std::nullopt;
}

bool AccountChar(char c) { return IsAsciiAlnum(c) || c == '-' || c == '_'; }

std::optional<std::string> FindAccount(std::string_view s, const Vocabulary& vocab,
                                       bool contact_pending) {
  size_t len = 0;
  for (size_t p = FindAny(s, vocab.contact_cues, &len); p != std::string_view::npos;
       p = FindAny(s, vocab.contact_cues, &len, p + 1)) {
    size_t q = p + len;
    // Skips connecting words and punctuation: "order number: ", "订单号是", "account #".
    for (bool moved = true; moved;) {
      moved = false;
      while (q < s.size() && !AccountChar(s[q]) && static_cast<unsigned char>(s[q]) < 0x80) { ++q; moved = true; }
      for (std::string_view link : {"number", "no.", "no", "id", "is", "号码", "号", "是", "为", "id:"}) {
        if (s.compare(q, link.size(), link) == 0 &&
            (q + link.size() >= s.size() || !IsAsciiAlnum(link.back()) || !IsAsciiAlnum(s[q + link.size()]))) {
          q += link.size(); moved = true; break;
        }
      }
    }
    size_t e = q;
    while (e < s.size() && AccountChar(s[e])) ++e;
    std::string_view token = s.substr(q, e - q);
    bool has_digit = std::any_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (token.size() >= 4 && has_digit) return std::string(token);
  }
  if (contact_pending) {
    // A bare identifier as the whole answer: "ORD-2026-88812", "88812931".
    std::string core = Trim(s);
    bool all = !core.empty() && std::all_of(core.begin(), core.end(), AccountChar);
    bool has_digit = std::any_of(core.begin(), core.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (all && has_digit && core.size() >= 4 && core.size() <= 64) return core;
  }
  return std::nullopt;
}

// `token` was found in the case-folded text; returns it as the customer wrote it when the original holds
// it (ASCII case-insensitively), so "LL-88123" stays upper case on the ticket.
std::string AsWritten(std::string_view original, const std::string& token) {
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  for (size_t i = 0; i + token.size() <= original.size(); ++i) {
    size_t k = 0;
    while (k < token.size() && lower(original[i + k]) == token[k]) ++k;
    if (k == token.size()) return std::string(original.substr(i, token.size()));
  }
  return token;
}

}  // namespace

bool ParseVocabulary(const json& doc, Vocabulary* out, std::string* error) {
  auto fail = [&](const std::string& what) { *error = "vocabulary: " + what; return false; };
  if (!doc.is_object()) return fail("the document must be a JSON object");
  if (doc.contains("intents")) {
    if (!doc["intents"].is_object()) return fail("\"intents\" must be an object");
    for (const auto& [name, v] : doc["intents"].items()) {
      IntentPhrases& ph = out->intents[name];
      if (v.contains("exact") && !ReadStrings(v["exact"], &ph.exact)) return fail("intents." + name + ".exact must be a list of strings");
      if (v.contains("contains") && !ReadStrings(v["contains"], &ph.contains)) return fail("intents." + name + ".contains must be a list of strings");
    }
  }
  if (doc.contains("date_roles") && !ReadStringLists(doc["date_roles"], &out->date_roles)) return fail("\"date_roles\" must map slot names to lists of strings");
  if (doc.contains("problems") && !ReadStringLists(doc["problems"], &out->problems)) return fail("\"problems\" must map categories to lists of strings");
  if (doc.contains("evidence") && !ReadStringLists(doc["evidence"], &out->evidence)) return fail("\"evidence\" must map types to lists of strings");
  if (doc.contains("unreachable_cues") && !ReadStrings(doc["unreachable_cues"], &out->unreachable_cues)) return fail("\"unreachable_cues\" must be a list of strings");
  if (doc.contains("contact_cues") && !ReadStrings(doc["contact_cues"], &out->contact_cues)) return fail("\"contact_cues\" must be a list of strings");
  if (doc.contains("filler") && !ReadStrings(doc["filler"], &out->filler)) return fail("\"filler\" must be a list of strings");
  if (doc.contains("regions")) {
    if (!doc["regions"].is_object()) return fail("\"regions\" must map a canonical name to its spellings");
    for (const auto& [canonical, spellings] : doc["regions"].items()) {
      std::vector<std::string> list;
      if (!ReadStrings(spellings, &list)) return fail("regions." + canonical + " must be a list of strings");
      for (auto& s : list) out->regions[s] = canonical;
    }
  }
  return true;
}

std::vector<std::string> FindTicketIds(std::string_view s) {
  std::vector<std::string> ids;
  for (size_t p = s.find("rf-"); p != std::string_view::npos; p = s.find("rf-", p + 1)) {
    if (p > 0 && IsAsciiAlnum(s[p - 1])) continue;
    if (p + 16 > s.size()) break;
    bool ok = s[p + 11] == '-';
    for (size_t i = 3; i < 16 && ok; ++i) {
      if (i == 11) continue;
      ok = s[p + i] >= '0' && s[p + i] <= '9';
    }
    if (!ok || (p + 16 < s.size() && IsAsciiAlnum(s[p + 16]))) continue;
    std::string id(s.substr(p, 16));
    id[0] = 'R'; id[1] = 'F';
    ids.push_back(id);
  }
  return ids;
}

Understanding Understand(std::string_view original, std::string_view s, Date today,
                         const Vocabulary& vocab, std::string_view pending_slot) {
  Understanding u;
  std::string core = CoreOf(s, vocab, false);
  std::string bare = CoreOf(s, vocab, true);
  for (const auto& [name, phrases] : vocab.intents) {
    auto exact = [&](const std::string& c) {
      return std::find(phrases.exact.begin(), phrases.exact.end(), c) != phrases.exact.end();
    };
    bool hit = exact(core) || exact(bare) || FindAny(s, phrases.contains) != std::string_view::npos;
    if (!hit && (name == "yes" || name == "no")) hit = StartsWithPhrase(core, phrases.exact);
    if (hit) u.intents[name] = true;
  }

  // Dates, each with the role named by the nearest cue word in its clause.
  for (const DateMention& m : FindDates(s, today)) {
    size_t clause_begin = m.begin, clause_end = m.end;
    while (clause_begin > 0 && !IsClauseBreak(s[clause_begin - 1])) --clause_begin;
    while (clause_end < s.size() && !IsClauseBreak(s[clause_end])) ++clause_end;
    // A ',' inside "Nov 5, 2026" was consumed by the date itself, so clauses never split a date.
    std::string best_role;
    size_t best_distance = std::string_view::npos;
    for (const auto& [role, cues] : vocab.date_roles) {
      for (const auto& cue : cues) {
        for (size_t p = FindWord(s, cue, clause_begin); p != std::string_view::npos && p < clause_end;
             p = FindWord(s, cue, p + 1)) {
          if (p >= m.begin && p < m.end) continue;
          size_t d = p < m.begin ? m.begin - (p + cue.size()) : p - m.end;
          if (d < best_distance) { best_distance = d; best_role = role; }
        }
      }
    }
    u.dates.push_back({m.date, best_role});
  }

  u.problems = FindProblems(original, s, vocab);
  for (const auto& [type, words] : vocab.evidence) {
    if (FindAny(s, words) != std::string_view::npos) u.evidence.push_back({type, Trim(original)});
  }
  u.email = FindEmail(s);
  u.account = FindAccount(s, vocab, pending_slot == "contact" && !u.email);
  if (u.account) u.account = AsWritten(original, *u.account);
  u.ticket_ids = FindTicketIds(s);
  if (u.account && !u.ticket_ids.empty() && *u.account == u.ticket_ids.front()) u.account.reset();
  return u;
}

}  // namespace rd
