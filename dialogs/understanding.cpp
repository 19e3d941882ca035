#include "dialogs/understanding.h"

#include <algorithm>
#include <cmath>
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

// Earliest position of any of `words` in `text` at or after `from` (word-boundary aware), with the
// matched length. `filter` was built on `text` or on a text containing it (the whole message, for a
// clause): built once per message, since the understanding makes about a hundred searches in each.
size_t FindAny(const SubstringFilter& filter, std::string_view text, const std::vector<std::string>& words,
               size_t* len = nullptr, size_t from = 0) {
  size_t best = std::string_view::npos, best_len = 0;
  for (const auto& w : words) {
    if (!filter.MayContain(w)) continue;
    size_t p = FindWord(text, w, from);
    if (p < best || (p == best && w.size() > best_len)) { best = p; best_len = w.size(); }
  }
  if (len) *len = best_len;
  return best;
}

bool IsClauseBreak(char c) { return c == ',' || c == ';' || c == '.' || c == '!' || c == '?' || c == '\n'; }

// A clause break at s[i], except the ',' and '.' inside a figure ("3,000", "99.5").
bool IsClauseBreakAt(std::string_view s, size_t i) {
  if (!IsClauseBreak(s[i])) return false;
  bool inside_figure = (s[i] == ',' || s[i] == '.') && i > 0 && i + 1 < s.size() &&
                       s[i - 1] >= '0' && s[i - 1] <= '9' && s[i + 1] >= '0' && s[i + 1] <= '9';
  return !inside_figure;
}

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

struct Number {
  double value;  // for a range ("300-400", "三四百"), the upper end: the figure the customer complains of
  size_t begin, end;
  bool percent_prefix = false;  // 百分之五
};

bool AsciiDigit(char c) { return c >= '0' && c <= '9'; }

// "300", "99.5", "1,200" (a comma followed by exactly three digits groups thousands).
size_t ReadDecimal(std::string_view s, size_t i, double* v) {
  std::string digits;
  size_t j = i;
  while (j < s.size()) {
    if (AsciiDigit(s[j])) {
      digits.push_back(s[j++]);
    } else if (s[j] == ',' && !digits.empty() && j + 4 <= s.size() && AsciiDigit(s[j + 1]) && AsciiDigit(s[j + 2]) && AsciiDigit(s[j + 3]) &&
               (j + 4 == s.size() || !AsciiDigit(s[j + 4]))) {
      ++j;  // thousands separator
    } else {
      break;
    }
  }
  if (j + 1 < s.size() && s[j] == '.' && AsciiDigit(s[j + 1])) {
    digits.push_back(s[j++]);
    while (j < s.size() && AsciiDigit(s[j])) digits.push_back(s[j++]);
  }
  *v = std::strtod(digits.c_str(), nullptr);
  return j - i;
}

// Chinese figures: 三百, 一千二, 九十九点五, 两, and ranges 三四百 (300–400) → the upper end.
size_t ReadChineseFigure(std::string_view s, size_t i, double* v) {
  static constexpr std::string_view kDigit[] = {"零", "〇", "一", "二", "两", "三", "四", "五", "六", "七", "八", "九"};
  static constexpr int kDigitValue[] = {0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9};
  static constexpr std::string_view kMult[] = {"十", "百", "千", "万"};
  static constexpr int kMultValue[] = {10, 100, 1000, 10000};
  double total = 0, current = 0, fraction_scale = 0;
  int previous_digit = -1;
  bool any = false;
  size_t j = i;
  while (j < s.size()) {
    bool matched = false;
    for (size_t k = 0; k < std::size(kDigit); ++k) {
      if (s.compare(j, kDigit[k].size(), kDigit[k]) != 0) continue;
      int d = kDigitValue[k];
      if (fraction_scale > 0) {
        total += d * fraction_scale;
        fraction_scale /= 10;
      } else if (previous_digit >= 0 && d == previous_digit + 1) {
        current = d;  // 三四百: a range, keep the upper digit
      } else {
        current = current * (previous_digit >= 0 ? 10 : 1) + d;
      }
      previous_digit = d;
      j += 3;
      matched = any = true;
      break;
    }
    if (matched) continue;
    for (size_t k = 0; k < std::size(kMult); ++k) {
      if (s.compare(j, kMult[k].size(), kMult[k]) != 0) continue;
      if (fraction_scale > 0) return 0;
      total += (current == 0 ? 1 : current) * kMultValue[k];
      current = 0;
      previous_digit = -1;
      j += 3;
      matched = any = true;
      break;
    }
    if (matched) continue;
    if (any && fraction_scale == 0 && s.compare(j, 3, "点") == 0 && j + 3 < s.size()) {
      total += current;
      current = 0;
      previous_digit = -1;
      fraction_scale = 0.1;
      j += 3;
      continue;
    }
    break;
  }
  if (!any) return 0;
  *v = total + current;
  return j - i;
}

// Every figure in the text, ASCII or Chinese, with "300-400" / "300 to 400" ranges folded to their end.
std::vector<Number> FindNumbers(std::string_view s) {
  std::vector<Number> out;
  for (size_t i = 0; i < s.size();) {
    double v = 0;
    bool percent_prefix = false;
    size_t begin = i, len = 0;
    if (s.compare(i, 9, "百分之") == 0) {  // 百分之五, 百分之九十九点五
      percent_prefix = true;
      size_t j = i + 9;
      len = AsciiDigit(j < s.size() ? s[j] : ' ') ? ReadDecimal(s, j, &v) : ReadChineseFigure(s, j, &v);
      if (len == 0) { i += 9; continue; }
      len += 9;
    } else if (AsciiDigit(s[i]) && (i == 0 || !IsAsciiAlnum(s[i - 1]) || s[i - 1] == 'x')) {
      len = ReadDecimal(s, i, &v);
    } else if (static_cast<unsigned char>(s[i]) >= 0xE0) {
      len = ReadChineseFigure(s, i, &v);
    }
    if (len == 0) {
      if (AsciiDigit(s[i]) || IsAsciiAlnum(s[i])) {
        while (i < s.size() && IsAsciiAlnum(s[i])) ++i;
      } else {
        unsigned char u = static_cast<unsigned char>(s[i]);
        i += u < 0x80 ? 1 : (u >= 0xF0 ? 4 : (u >= 0xE0 ? 3 : 2));
      }
      continue;
    }
    size_t end = begin + len;
    // A range: "300-400", "300~400", "300 to 400", "300到400" — keep the upper end.
    for (std::string_view sep : {"-", "~", " - ", " to ", "到", "至", " ~ "}) {
      size_t j = end + sep.size();
      if (s.compare(end, sep.size(), sep) != 0 || j >= s.size() || !AsciiDigit(s[j])) continue;
      double upper = 0;
      size_t ul = ReadDecimal(s, j, &upper);
      if (ul > 0 && upper >= v) { v = upper; end = j + ul; }
      break;
    }
    out.push_back({v, begin, end, percent_prefix});
    i = end;
  }
  return out;
}

// The unit written right after a figure (spaces allowed), or "".
std::string_view UnitAfter(std::string_view s, size_t pos) {
  while (pos < s.size() && s[pos] == ' ') ++pos;
  static constexpr std::string_view kUnits[] = {
      "milliseconds", "millisecond", "msec", "ms", "毫秒", "seconds", "second", "secs", "sec", "秒", "s",
      "percent", "per cent", "pct", "%", "mbps", "mb/s", "mbit/s", "mbit", "megabits", "mbits", "m/s", "m",
      "兆", "gbps", "g", "kbps", "k"};
  for (std::string_view u : kUnits) {
    if (s.compare(pos, u.size(), u) != 0) continue;
    size_t end = pos + u.size();
    if (IsAsciiAlnum(u.back()) && end < s.size() && IsAsciiAlnum(s[end])) continue;
    return u;
  }
  return {};
}

bool OneOf(std::string_view u, std::initializer_list<std::string_view> list) {
  for (auto x : list) if (u == x) return true;
  return false;
}

// Distance from a figure to the nearest keyword in `words`, or npos when none is present.
size_t DistanceTo(const SubstringFilter& filter, std::string_view s, const std::vector<std::string>& words, size_t at) {
  size_t best = std::string_view::npos;
  for (const auto& w : words) {
    if (!filter.MayContain(w)) continue;
    for (size_t p = FindWord(s, w); p != std::string_view::npos; p = FindWord(s, w, p + 1)) {
      size_t d = p > at ? p - at : at - std::min(at, p + w.size());
      best = std::min(best, d);
    }
  }
  return best;
}

void AddMetric(json& metrics, const std::string& name, double v) {
  // No latency, loss or bandwidth figure is astronomically large; a run of 40 digits is not a figure.
  if (!std::isfinite(v) || v < 0 || v > 1e9) return;
  if (v == static_cast<double>(static_cast<long long>(v))) metrics[name] = static_cast<long long>(v);
  else metrics[name] = std::round(v * 1000) / 1000;
}

const std::vector<std::string>& Words(const Vocabulary& vocab, const std::string& category) {
  static const std::vector<std::string> kNone;
  auto it = vocab.problems.find(category);
  return it == vocab.problems.end() ? kNone : it->second;
}

std::vector<Problem> FindProblems(std::string_view original, std::string_view s, const SubstringFilter& filter,
                                  const Vocabulary& vocab) {
  std::map<std::string, Problem> by_category;
  auto get = [&](const std::string& category) -> Problem& {
    Problem& p = by_category[category];
    if (p.category.empty()) { p.category = category; p.description = Trim(original); }
    return p;
  };
  for (const auto& [category, words] : vocab.problems) {
    if (FindAny(filter, s, words) != std::string_view::npos) get(category);
  }
  const auto& latency_words = Words(vocab, "latency");
  const auto& loss_words = Words(vocab, "packet_loss");
  const auto& avail_words = Words(vocab, "availability");
  const auto& bandwidth_words = Words(vocab, "bandwidth");
  for (const Number& n : FindNumbers(s)) {
    std::string_view unit = n.percent_prefix ? std::string_view("%") : UnitAfter(s, n.end);
    size_t near_jitter = DistanceTo(filter, s, vocab.jitter_words, n.begin);
    if (OneOf(unit, {"milliseconds", "millisecond", "msec", "ms", "毫秒"})) {
      bool jitter = near_jitter != std::string_view::npos && near_jitter <= DistanceTo(filter, s, latency_words, n.begin);
      AddMetric(get("latency").metrics, jitter ? "jitter_ms" : "latency_ms", n.value);
    } else if (OneOf(unit, {"seconds", "second", "secs", "sec", "秒", "s"})) {
      // "2 s" is a latency only where latency is the subject; "down for 30 seconds" is not.
      size_t dl = DistanceTo(filter, s, latency_words, n.begin);
      if (dl != std::string_view::npos && dl < 24) AddMetric(get("latency").metrics, "latency_ms", n.value * 1000);
    } else if (OneOf(unit, {"mbps", "mb/s", "mbit/s", "mbit", "megabits", "mbits", "m/s", "兆"}) ||
               ((unit == "m" || unit == "g" || unit == "gbps" || unit == "k" || unit == "kbps") &&
                DistanceTo(filter, s, bandwidth_words, n.begin) != std::string_view::npos)) {
      double mbps = n.value * (unit == "g" || unit == "gbps" ? 1000 : (unit == "k" || unit == "kbps" ? 0.001 : 1));
      AddMetric(get("bandwidth").metrics, "bandwidth_mbps", mbps);
    } else if (OneOf(unit, {"percent", "per cent", "pct", "%"})) {
      size_t dl = DistanceTo(filter, s, loss_words, n.begin), da = DistanceTo(filter, s, avail_words, n.begin);
      if (dl == std::string_view::npos && da == std::string_view::npos) continue;
      if (da < dl || (dl == std::string_view::npos && n.value >= 50)) {
        AddMetric(get("availability").metrics, "availability_pct", n.value);
      } else {
        AddMetric(get("packet_loss").metrics, "packet_loss_pct", n.value);
      }
    } else if (unit.empty() && n.value >= 20 && n.value <= 10000) {
      // "ping 300", "延迟300": a bare figure right after a latency word is milliseconds.
      size_t dl = DistanceTo(filter, s, latency_words, n.begin);
      auto latency = by_category.find("latency");
      bool have = latency != by_category.end() && latency->second.metrics.contains("latency_ms");
      if (dl != std::string_view::npos && dl <= 12 && !have) AddMetric(get("latency").metrics, "latency_ms", n.value);
    }
  }
  // "latency is fine but ...": a category named without a figure, in a clause that calls it fine.
  for (auto it = by_category.begin(); it != by_category.end();) {
    bool fine = false;
    if (it->second.metrics.empty()) {
      size_t len = 0;
      size_t at = FindAny(filter, s, Words(vocab, it->first), &len);
      if (at != std::string_view::npos) {
        size_t b = at, e = at + len;
        while (b > 0 && !IsClauseBreakAt(s, b - 1)) --b;
        while (e < s.size() && !IsClauseBreakAt(s, e) && s.compare(e, 4, " but") != 0 && s.compare(e, 6, "但是") != 0) ++e;
        fine = FindAny(filter, s.substr(b, e - b), vocab.fine_cues) != std::string_view::npos;
      }
    }
    it = fine ? by_category.erase(it) : std::next(it);
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
    if (FindAny(filter, s, vocab.unreachable_cues) != std::string_view::npos) {
      by_category.erase("availability");  // "can't connect" there is about the region, not uptime
      get("region_unreachable").metrics["region"] = region;
    } else {
      for (auto& [c, p] : by_category) p.metrics["region"] = region;
    }
  }
  // The period the customer observed it over, in their words ("这两周", "every evening").
  size_t period_len = 0;
  size_t period_pos = FindAny(filter, s, vocab.period_cues, &period_len);
  if (period_pos != std::string_view::npos) {
    std::string period(s.substr(period_pos, period_len));
    for (auto& [c, p] : by_category) p.metrics["period"] = period;
  }
  std::vector<Problem> out;
  for (auto& [c, p] : by_category) out.push_back(std::move(p));
  return out;
}

// A money unit written right before ("$300", "usd 300") or after ("300元", "300 dollars") a figure, with
// an optional 万/k multiplier between figure and unit ("1.2万元", "3k usd"). Returns the ISO code or "".
std::string CurrencyAround(std::string_view s, const Number& n, const Vocabulary& vocab, double* multiplier) {
  *multiplier = 1;
  size_t after = n.end;
  if (s.compare(after, 3, "万") == 0) { *multiplier = 10000; after += 3; }
  else if (after < s.size() && s[after] == 'k' && (after + 1 == s.size() || !IsAsciiAlnum(s[after + 1]))) {
    *multiplier = 1000; ++after;
  }
  size_t spaced = after;
  while (spaced < s.size() && s[spaced] == ' ') ++spaced;
  std::string best;
  size_t best_len = 0;
  for (const auto& [spelling, code] : vocab.currencies) {
    if (spelling.size() <= best_len) continue;
    bool word = IsAsciiAlnum(spelling.back());
    if (s.compare(spaced, spelling.size(), spelling) == 0 &&
        (!word || spaced + spelling.size() == s.size() || !IsAsciiAlnum(s[spaced + spelling.size()]))) {
      best = code; best_len = spelling.size();
      continue;
    }
    size_t before = n.begin;
    while (before > 0 && s[before - 1] == ' ') --before;
    if (before >= spelling.size() && s.compare(before - spelling.size(), spelling.size(), spelling) == 0 &&
        (!IsAsciiAlnum(spelling.front()) || before == spelling.size() || !IsAsciiAlnum(s[before - spelling.size() - 1]))) {
      best = code; best_len = spelling.size();
    }
  }
  return best;
}

bool TrafficUnit(std::string_view s, size_t pos, double* to_gb) {
  while (pos < s.size() && s[pos] == ' ') ++pos;
  for (auto [unit, gb] : {std::pair<std::string_view, double>{"gb", 1}, {"g", 1}, {"tb", 1000}, {"t", 1000}}) {
    size_t end = pos + unit.size();
    if (s.compare(pos, unit.size(), unit) == 0 && (end == s.size() || !IsAsciiAlnum(s[end]))) {
      *to_gb = gb;
      return true;
    }
  }
  return false;
}

// The billing model, the amount paid and the share of traffic used, for the refund estimate.
void FindBilling(std::string_view s, const SubstringFilter& filter, const Vocabulary& vocab, Understanding* u) {
  size_t first = std::string_view::npos;
  for (const auto& [model, cues] : vocab.billing_models) {
    size_t at = FindAny(filter, s, cues);
    if (at < first) { first = at; u->billing_model = model; }
  }
  const bool about_traffic = !vocab.traffic_words.empty() && FindAny(filter, s, vocab.traffic_words) != std::string_view::npos;
  std::vector<std::pair<double, size_t>> volumes;  // GB figures and where they stand
  for (const Number& n : FindNumbers(s)) {
    double multiplier = 1, gb = 1;
    std::string code = CurrencyAround(s, n, vocab, &multiplier);
    if (!code.empty() && !u->amount_paid && n.value > 0 && n.value * multiplier < 1e12) {
      u->amount_paid = n.value * multiplier;
      u->currency = code;
    } else if (about_traffic && (n.percent_prefix || UnitAfter(s, n.end) == "%" || UnitAfter(s, n.end) == "percent") &&
               DistanceTo(filter, s, vocab.traffic_words, n.begin) <= 16 && n.value <= 100) {
      u->traffic_used_pct = n.value;
    } else if (about_traffic && TrafficUnit(s, n.end, &gb)) {
      volumes.push_back({n.value * gb, n.begin});
    }
  }
  // "used 200 GB of 500 GB", "流量用了200G，总共500G": the first volume of the total.
  if (!u->traffic_used_pct && volumes.size() >= 2 && volumes[1].first > 0 && volumes[0].first <= volumes[1].first) {
    u->traffic_used_pct = std::round(volumes[0].first / volumes[1].first * 1000) / 10;
  }
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

std::optional<std::string> FindAccount(std::string_view s, const SubstringFilter& filter, const Vocabulary& vocab,
                                       bool contact_pending) {
  size_t len = 0;
  for (size_t p = FindAny(filter, s, vocab.contact_cues, &len); p != std::string_view::npos;
       p = FindAny(filter, s, vocab.contact_cues, &len, p + 1)) {
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
  if (doc.contains("fine_cues") && !ReadStrings(doc["fine_cues"], &out->fine_cues)) return fail("\"fine_cues\" must be a list of strings");
  if (doc.contains("jitter_words") && !ReadStrings(doc["jitter_words"], &out->jitter_words)) return fail("\"jitter_words\" must be a list of strings");
  if (doc.contains("period_cues") && !ReadStrings(doc["period_cues"], &out->period_cues)) return fail("\"period_cues\" must be a list of strings");
  if (doc.contains("questions")) {
    const json& q = doc["questions"];
    if (!q.is_object() || (q.contains("contains") && !ReadStrings(q["contains"], &out->questions.contains)) ||
        (q.contains("starts") && !ReadStrings(q["starts"], &out->questions.exact))) {
      return fail("\"questions\" must hold \"contains\" and \"starts\" lists of strings");
    }
  }
  if (doc.contains("filler") && !ReadStrings(doc["filler"], &out->filler)) return fail("\"filler\" must be a list of strings");
  if (doc.contains("evidence_file_types")) {
    if (!doc["evidence_file_types"].is_object()) return fail("\"evidence_file_types\" must map extensions to evidence types");
    for (const auto& [ext, type] : doc["evidence_file_types"].items()) {
      if (!type.is_string()) return fail("evidence_file_types." + ext + " must be a string");
      out->evidence_file_types[ext] = type.get<std::string>();
    }
  }
  if (doc.contains("numeric_dates")) {
    if (!doc["numeric_dates"].is_object()) return fail("\"numeric_dates\" must map zh/en to month_first, day_first or ask");
    for (const auto& [lang, v] : doc["numeric_dates"].items()) {
      std::string order = v.is_string() ? v.get<std::string>() : "";
      if (order != "month_first" && order != "day_first" && order != "ask") {
        return fail("numeric_dates." + lang + " must be month_first, day_first or ask");
      }
      out->numeric_dates[lang] = order;
    }
  }
  if (doc.contains("billing_models") && !ReadStringLists(doc["billing_models"], &out->billing_models)) return fail("\"billing_models\" must map duration/traffic/monthly to lists of strings");
  if (doc.contains("traffic_words") && !ReadStrings(doc["traffic_words"], &out->traffic_words)) return fail("\"traffic_words\" must be a list of strings");
  if (doc.contains("currencies")) {
    if (!doc["currencies"].is_object()) return fail("\"currencies\" must map an ISO code to its spellings");
    for (const auto& [code, spellings] : doc["currencies"].items()) {
      std::vector<std::string> list;
      if (!ReadStrings(spellings, &list)) return fail("currencies." + code + " must be a list of strings");
      for (auto& sp : list) out->currencies[sp] = code;
    }
  }
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

std::string EvidenceTypeForFile(std::string_view file_name, const Vocabulary& vocab) {
  std::string name = NormalizeForParsing(file_name);
  for (char& c : name) if (c == '_' || c == '-' || c == '.') c = ' ';  // "speed_test-report.pdf" -> words
  size_t best = std::string::npos;
  std::string type;
  const SubstringFilter filter(name);
  for (const auto& [t, words] : vocab.evidence) {
    size_t p = FindAny(filter, name, words);
    if (p < best) { best = p; type = t; }
  }
  if (!type.empty()) return type;
  std::string lowered = NormalizeForParsing(file_name);
  size_t dot = lowered.rfind('.');
  if (dot != std::string::npos) {
    auto it = vocab.evidence_file_types.find(lowered.substr(dot + 1));
    if (it != vocab.evidence_file_types.end()) return it->second;
  }
  return "other";
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
                         const Vocabulary& vocab, std::string_view pending_slot, const DateOptions& date_options) {
  Understanding u;
  const SubstringFilter filter(s);  // for every search of `s` and its clauses
  std::string core = CoreOf(s, vocab, false);
  std::string bare = CoreOf(s, vocab, true);
  for (const auto& entry : vocab.intents) {
    const std::string& name = entry.first;
    const IntentPhrases& phrases = entry.second;
    auto exact = [&](const std::string& c) {
      return std::find(phrases.exact.begin(), phrases.exact.end(), c) != phrases.exact.end();
    };
    bool hit = exact(core) || exact(bare) || FindAny(filter, s, phrases.contains) != std::string_view::npos;
    if (!hit && (name == "yes" || name == "no")) hit = StartsWithPhrase(core, phrases.exact);
    if (hit) u.intents[name] = true;
  }

  // Dates, each with the role named by the nearest cue word in its clause.
  DateOptions dated = date_options;
  if (!dated.vocabulary) dated.vocabulary = vocab.dates.get();
  for (const DateMention& m : FindDates(s, today, dated)) {
    size_t clause_begin = m.begin, clause_end = m.end;
    while (clause_begin > 0 && !IsClauseBreakAt(s, clause_begin - 1)) --clause_begin;
    while (clause_end < s.size() && !IsClauseBreakAt(s, clause_end)) ++clause_end;
    // A ',' inside "Nov 5, 2026" was consumed by the date itself, so clauses never split a date.
    std::string best_role;
    size_t best_distance = std::string_view::npos;
    for (const auto& [role, cues] : vocab.date_roles) {
      for (const auto& cue : cues) {
        if (!filter.MayContain(cue)) continue;
        for (size_t p = FindWord(s, cue, clause_begin); p != std::string_view::npos && p < clause_end;
             p = FindWord(s, cue, p + 1)) {
          if (p >= m.begin && p < m.end) continue;
          size_t d = p < m.begin ? m.begin - (p + cue.size()) : p - m.end;
          if (d < best_distance) { best_distance = d; best_role = role; }
        }
      }
    }
    // A date in a clause about a problem and without a role ("latency has been bad since Nov 5") says
    // when the problem was seen, not a payment or activation date.
    bool about_problem = false;
    if (best_role.empty()) {
      std::string_view clause = s.substr(clause_begin, clause_end - clause_begin);
      for (const auto& [category, words] : vocab.problems) {
        if (FindAny(filter, clause, words) != std::string_view::npos) { about_problem = true; break; }
      }
    }
    u.dates.push_back({m.date, best_role, m.alternative, about_problem});
  }

  u.problems = FindProblems(original, s, filter, vocab);
  for (const auto& [type, words] : vocab.evidence) {
    if (FindAny(filter, s, words) != std::string_view::npos) u.evidence.push_back({type, Trim(original)});
  }
  FindBilling(s, filter, vocab, &u);
  u.email = FindEmail(s);
  u.account = FindAccount(s, filter, vocab, pending_slot == "contact" && !u.email);
  if (u.account) u.account = AsWritten(original, *u.account);
  u.ticket_ids = FindTicketIds(s);
  bool asks = FindAny(filter, s, vocab.questions.contains) != std::string_view::npos;
  for (const auto& start : vocab.questions.exact) {  // the "starts" list
    if (asks) break;
    asks = FindWord(core, start) == 0;
  }
  if (asks) u.intents["question"] = true;
  if (u.account && !u.ticket_ids.empty() && *u.account == u.ticket_ids.front()) u.account.reset();
  return u;
}

DateOptions DateOptionsForLang(const Vocabulary& vocab, std::string_view lang) {
  if (!vocab.dates) return DateOptions{};
  auto it = vocab.numeric_dates.find(std::string(lang));
  return DateOptionsFor(*vocab.dates, lang, it == vocab.numeric_dates.end() ? "month_first" : it->second);
}

}  // namespace rd
