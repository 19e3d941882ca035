#include "dialogs/understanding.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>

#include "dialogs/contacts.h"
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

struct Hit {
  size_t begin, end;
  const std::string* tag;  // the role or category the word names
};

// Every occurrence of the indexed words in the message, in order (at most kMaxHits): one pass over the
// message, however long the vocabulary.
std::vector<Hit> AllHits(std::string_view s, const PhraseIndex& index) {
  constexpr size_t kMaxHits = 256;
  std::vector<Hit> hits;
  auto try_entry = [&](const PhraseIndex::Entry& e, size_t i) {
    if (s.compare(i, e.word.size(), e.word) != 0) return;
    if (IsAsciiAlnum(e.word.front()) && i > 0 && IsAsciiAlnum(s[i - 1])) return;
    size_t end = i + e.word.size();
    if (!e.stem && IsAsciiAlnum(e.word.back()) && end < s.size() && IsAsciiAlnum(s[end])) return;
    hits.push_back({i, end, &e.tag});
  };
  for (size_t i = 0; i < s.size() && hits.size() < kMaxHits; ++i) {
    for (const auto& e : index.single_bytes) try_entry(e, i);
    if (i + 1 >= s.size()) break;
    const auto key = static_cast<uint16_t>((static_cast<unsigned char>(s[i]) << 8) | static_cast<unsigned char>(s[i + 1]));
    if (!index.has_pair[key]) continue;
    auto bucket = index.by_pair.find(key);
    if (bucket == index.by_pair.end()) continue;
    for (const auto& e : bucket->second) try_entry(e, i);
  }
  return hits;
}

// `hits` (sorted by position) without the ones inside a longer overlapping hit: "packet drops" is one
// packet-loss phrase, not also the availability word "drops".
std::vector<Hit> Longest(const std::vector<Hit>& hits) {
  std::vector<Hit> kept;
  for (const Hit& h : hits) {
    if (!kept.empty() && h.begin < kept.back().end) {
      // Overlapping words are one phrase, named by the longer word ("ping测试" + "测试记录").
      Hit& last = kept.back();
      if (h.end - h.begin > last.end - last.begin) last.tag = h.tag;
      last.end = std::max(last.end, h.end);
      continue;
    }
    kept.push_back(h);
  }
  return kept;
}

bool IsClauseBreak(char c) { return c == ',' || c == ';' || c == '.' || c == '!' || c == '?' || c == '\n'; }

// A clause break at s[i], except the ',' and '.' inside a figure ("3,000", "99.5").
bool IsClauseBreakAt(std::string_view s, size_t i) {
  if (!IsClauseBreak(s[i])) return false;
  bool inside_figure = (s[i] == ',' || s[i] == '.') && i > 0 && i + 1 < s.size() &&
                       s[i - 1] >= '0' && s[i - 1] <= '9' && s[i + 1] >= '0' && s[i + 1] <= '9';
  return !inside_figure;
}

// The clause around position `at`.
std::pair<size_t, size_t> ClauseAround(std::string_view s, size_t at, size_t len) {
  size_t b = at, e = std::min(s.size(), at + len);
  while (b > 0 && !IsClauseBreakAt(s, b - 1)) --b;
  while (e < s.size() && !IsClauseBreakAt(s, e)) ++e;
  return {b, e};
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
  double value;  // for a range ("300-400", "三四百"), the upper end: the worse end of latency and loss
  size_t begin, end;
  double low = -1;  // the lower end of a range, the worse end of bandwidth and availability; -1 without one
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
size_t ReadChineseFigure(std::string_view s, size_t i, double* v, double* low = nullptr) {
  static constexpr std::string_view kDigit[] = {"零", "〇", "一", "二", "两", "三", "四", "五", "六", "七", "八", "九"};
  static constexpr int kDigitValue[] = {0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9};
  static constexpr std::string_view kMult[] = {"十", "百", "千", "万"};
  static constexpr int kMultValue[] = {10, 100, 1000, 10000};
  double total = 0, current = 0, fraction_scale = 0;
  int previous_digit = -1, range_low = -1;
  double range_scale_at = 0;
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
        range_low = previous_digit;  // 三四百: a range, keep the upper digit (and the lower one apart)
        range_scale_at = total;
        current = d;
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
      if (range_low >= 0 && low && *low < 0 && current > 0) *low = range_scale_at + range_low * kMultValue[k];
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
  if (low && *low < 0 && range_low >= 0) *low = range_scale_at + range_low;
  return j - i;
}

// The first `max` figures in the text, ASCII or Chinese, with "300-400" / "300 to 400" ranges folded to
// their upper end (the lower one kept in `low`).
std::vector<Number> FindNumbers(std::string_view s, size_t max = kMaxFiguresPerMessage) {
  std::vector<Number> out;
  for (size_t i = 0; i < s.size() && out.size() < max;) {
    double v = 0, low = -1;
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
      len = ReadChineseFigure(s, i, &v, &low);
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
      if (ul > 0 && upper >= v) { low = v; v = upper; end = j + ul; }
      break;
    }
    out.push_back({v, begin, end, low, percent_prefix});
    i = end;
  }
  return out;
}

// The unit written right after a figure (spaces and approximation marks allowed: "400多ms", "300+ ms",
// "200余毫秒"), or "".
std::string_view UnitAfter(std::string_view s, size_t pos) {
  while (pos < s.size() && s[pos] == ' ') ++pos;
  for (std::string_view mark : {"多", "余", "来", "+", "左右"}) {
    if (s.compare(pos, mark.size(), mark) == 0) { pos += mark.size(); break; }
  }
  while (pos < s.size() && s[pos] == ' ') ++pos;
  static constexpr std::string_view kUnits[] = {
      "milliseconds", "millisecond", "msec", "ms", "毫秒", "seconds", "second", "secs", "sec", "秒", "s",
      "percent", "per cent", "pct", "%", "mbps", "mb/s", "mbit/s", "mbit", "megabits", "mbits", "m/s", "m",
      "兆", "gbps", "g", "kbps", "k", "成"};
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

// A promise cue ends shortly before the figure, in its clause: "合同写的是200M", "contract says 100",
// "宣传的50ms", "instead of 100". Such a figure is what was sold, not what was seen.
bool Promised(const SubstringFilter& filter, std::string_view s, const Vocabulary& vocab, const Number& n) {
  constexpr size_t kWindow = 18;
  size_t from = n.begin > kWindow ? n.begin - kWindow : 0;
  for (size_t i = from; i < n.begin; ++i) if (IsClauseBreakAt(s, i)) from = i + 1;
  for (const auto& cue : vocab.promise_cues) {
    if (!filter.MayContain(cue)) continue;
    size_t lookback = from > cue.size() ? from - cue.size() : 0;
    for (size_t p = FindWord(s, cue, lookback); p != std::string_view::npos && p < n.begin; p = FindWord(s, cue, p + 1)) {
      if (p >= from && p + cue.size() <= n.begin) return true;
    }
  }
  return false;
}

// Several figures for one metric in a message: the worst one observed counts (the highest latency,
// jitter and loss; the lowest bandwidth and availability).
void KeepWorst(json& metrics, const std::string& name, double v) {
  if (!std::isfinite(v) || v < 0 || v > 1e9) return;
  const bool lower_is_worse = name == "bandwidth_mbps" || name == "availability_pct";
  if (metrics.contains(name)) {
    double old = metrics[name].get<double>();
    if (lower_is_worse ? v >= old : v <= old) return;
  }
  AddMetric(metrics, name, v);
}

// Megabytes per second: the customer wrote a capital B ("1.5MB/s", "2 MBps"), which the folded text lost.
bool WritesBytesPerSecond(std::string_view original) {
  for (std::string_view u : {"MB/s", "MB/S", "MBps", "MByte", "兆字节"}) {
    if (original.find(u) != std::string_view::npos) return true;
  }
  return false;
}

// The unit a bare figure shares with its neighbour: "25 of 50 Mbps" (the next figure, close by),
// "promised 100 Mbps and we get about 30", "avg 200ms, peaks 800" (the previous one, same sentence).
std::string_view SharedUnit(std::string_view s, const std::vector<Number>& numbers, size_t i) {
  auto sentence_break = [&](size_t b, size_t e) {
    for (size_t k = b; k < e; ++k) if (s[k] == '.' ? IsClauseBreakAt(s, k) : (s[k] == '!' || s[k] == '?' || s[k] == ';' || s[k] == '\n')) return true;
    return false;
  };
  if (i + 1 < numbers.size() && numbers[i + 1].begin - numbers[i].end <= 8 && !sentence_break(numbers[i].end, numbers[i + 1].begin)) {
    std::string_view u = UnitAfter(s, numbers[i + 1].end);
    if (!u.empty()) return u;
  }
  if (i > 0 && numbers[i].begin - numbers[i - 1].end <= 40 && !sentence_break(numbers[i - 1].end, numbers[i].begin)) {
    return UnitAfter(s, numbers[i - 1].end);
  }
  return {};
}

// Which of `lists` names the subject of a figure: the one with the nearest word before the figure in its
// sentence ("latency 210 ms, jitter 45 ms"; "2) 抖动很大，最高80毫秒"; "loss toward Cairo ... up to 20%"),
// else the one with the nearest word after it ("only 99.1% available"); -1 when none has a word there.
int NearestSubject(const SubstringFilter& filter, std::string_view s, const std::vector<const std::vector<std::string>*>& lists,
                   const Number& n) {
  size_t floor = n.begin;
  while (floor > 0 && !(s[floor - 1] == ';' || s[floor - 1] == '\n' || s[floor - 1] == '!' || s[floor - 1] == '?' ||
                        (s[floor - 1] == '.' && IsClauseBreakAt(s, floor - 1)))) --floor;
  size_t best_before = std::string_view::npos, best_after = std::string_view::npos;
  int before = -1, after = -1;
  for (size_t i = 0; i < lists.size(); ++i) {
    for (const auto& w : *lists[i]) {
      if (!filter.MayContain(w)) continue;
      const size_t len = w.back() == '*' ? w.size() - 1 : w.size();
      for (size_t p = FindWord(s, w, floor); p != std::string_view::npos; p = FindWord(s, w, p + 1)) {
        if (p + len <= n.begin) {
          size_t d = n.begin - p - len;
          if (d <= best_before) { best_before = d; before = static_cast<int>(i); }
        } else if (p >= n.end) {
          if (p - n.end < best_after) { best_after = p - n.end; after = static_cast<int>(i); }
          break;
        }
      }
    }
  }
  return before >= 0 ? before : after;
}

// Figures bound to a metric by their unit and the nearest category word.
void ReadFigures(std::string_view original, std::string_view s, const SubstringFilter& filter, const Vocabulary& vocab,
                 const std::function<Problem&(const std::string&)>& get) {
  const auto& latency_words = Words(vocab, "latency");
  const auto& loss_words = Words(vocab, "packet_loss");
  const auto& avail_words = Words(vocab, "availability");
  const bool any_jitter = FindAny(filter, s, vocab.jitter_words) != std::string_view::npos;
  const bool any_loss = FindAny(filter, s, loss_words) != std::string_view::npos;
  const bool any_avail = FindAny(filter, s, avail_words) != std::string_view::npos;
  std::vector<std::string> plain_latency_words;  // latency words that are not jitter words, when needed
  if (any_jitter) {
    for (const auto& w : latency_words) {
      if (std::find(vocab.jitter_words.begin(), vocab.jitter_words.end(), w) == vocab.jitter_words.end()) plain_latency_words.push_back(w);
    }
  }
  const auto& bandwidth_words = Words(vocab, "bandwidth");
  const bool bytes = WritesBytesPerSecond(original);
  bool have_latency = false;
  const std::vector<Number> numbers = FindNumbers(s);
  for (size_t i = 0; i < numbers.size(); ++i) {
    const Number& n = numbers[i];
    if (Promised(filter, s, vocab, n)) continue;
    std::string_view unit = n.percent_prefix ? std::string_view("%") : UnitAfter(s, n.end);
    if (unit.empty()) unit = SharedUnit(s, numbers, i);
    const double low = n.low >= 0 ? n.low : n.value;
    if (OneOf(unit, {"milliseconds", "millisecond", "msec", "ms", "毫秒"})) {
      // Jitter when the subject of the figure is a jitter word: the nearest latency word before it in its
      // sentence ("latency 210 ms, jitter 45 ms"; "2) 抖动很大，最高80毫秒"), else the nearest after it.
      bool jitter = any_jitter && NearestSubject(filter, s, {&plain_latency_words, &vocab.jitter_words}, n) == 1;
      KeepWorst(get("latency").metrics, jitter ? "jitter_ms" : "latency_ms", n.value);
      have_latency = have_latency || !jitter;
    } else if (OneOf(unit, {"seconds", "second", "secs", "sec", "秒", "s"})) {
      // "2 s" is a latency only where latency is the subject; "down for 30 seconds" is not.
      size_t dl = DistanceTo(filter, s, latency_words, n.begin);
      if (dl != std::string_view::npos && dl < 24) { KeepWorst(get("latency").metrics, "latency_ms", n.value * 1000); have_latency = true; }
    } else if (OneOf(unit, {"mbps", "mb/s", "mbit/s", "mbit", "megabits", "mbits", "m/s", "兆"}) ||
               ((unit == "m" || unit == "g" || unit == "gbps" || unit == "kbps" || (unit == "k" && n.value >= 16)) &&
                DistanceTo(filter, s, bandwidth_words, n.begin) != std::string_view::npos)) {
      double scale = unit == "g" || unit == "gbps" ? 1000 : (unit == "k" || unit == "kbps" ? 0.001 : 1);
      if (bytes && (unit == "mb/s" || unit == "m/s")) scale = 8;
      KeepWorst(get("bandwidth").metrics, "bandwidth_mbps", low * scale);
    } else if (OneOf(unit, {"percent", "per cent", "pct", "%", "成"})) {
      const double scale = unit == "成" ? 10 : 1;  // 三成 = 30 %
      // With words of only one of the two in the message, that one; else the figure's subject.
      int subject = any_loss && any_avail ? NearestSubject(filter, s, {&loss_words, &avail_words}, n)
                                          : (any_loss ? 0 : (any_avail ? 1 : -1));
      if (subject < 0 || n.value * scale > 100) continue;
      if (subject == 1) {
        KeepWorst(get("availability").metrics, "availability_pct", low * scale);
      } else {
        KeepWorst(get("packet_loss").metrics, "packet_loss_pct", n.value * scale);
      }
    } else if (unit.empty() && n.value >= 20 && n.value <= 10000 && !have_latency) {
      // "ping 300", "延迟300": a bare figure right after a latency word is milliseconds.
      size_t dl = DistanceTo(filter, s, latency_words, n.begin);
      if (dl != std::string_view::npos && dl <= 12) { KeepWorst(get("latency").metrics, "latency_ms", n.value); have_latency = true; }
    }
  }
}

// True when a fine cue ("is fine", "正常", "还行") is in the clause around [at, at + len).
bool ClauseSaysFine(const SubstringFilter& filter, std::string_view s, const Vocabulary& vocab, size_t at, size_t len) {
  size_t b = at, e = at + len;
  while (b > 0 && !IsClauseBreakAt(s, b - 1)) --b;
  while (e < s.size() && !IsClauseBreakAt(s, e) && s.compare(e, 4, " but") != 0 && s.compare(e, 6, "但是") != 0 &&
         s.compare(e, 3, "但") != 0) ++e;
  return FindAny(filter, s.substr(b, e - b), vocab.fine_cues) != std::string_view::npos;
}

// A negation right before the problem word takes it back: "不是带宽问题，是丢包", "not a bandwidth issue".
bool TakenBack(const SubstringFilter& filter, std::string_view s, const Vocabulary& vocab, size_t at) {
  auto it = vocab.problems.find("_negations");
  if (it == vocab.problems.end()) return false;
  for (const auto& neg : it->second) {
    if (!filter.MayContain(neg) || at < neg.size()) continue;
    for (size_t gap = 0; gap <= 2 && gap + neg.size() <= at; ++gap) {
      size_t p = at - gap - neg.size();
      if (s.compare(p, neg.size(), neg) == 0 && (gap == 0 || s[at - 1] == ' ') &&
          (!IsAsciiAlnum(neg.front()) || p == 0 || !IsAsciiAlnum(s[p - 1]))) return true;
    }
  }
  return false;
}

struct PlaceHit {
  size_t begin, end;
  std::string canonical;
  int level;
};

// "欧洲那边还行", "other regions are fine": a fine cue in the place's clause with no problem word between
// them. ("到东京的延迟白天还行" is about the daytime latency, not Tokyo being fine.)
bool PlaceSaidFine(const SubstringFilter& filter, std::string_view s, const Vocabulary& vocab, const PlaceHit& h,
                   const std::vector<Hit>& problem_hits) {
  auto [b, e] = ClauseAround(s, h.begin, h.end - h.begin);
  size_t len = 0;
  size_t fine = FindAny(filter, s.substr(h.end, e - h.end), vocab.fine_cues, &len);
  if (fine == std::string_view::npos) return false;
  auto p = std::lower_bound(problem_hits.begin(), problem_hits.end(), h.end, [](const Hit& x, size_t at) { return x.begin < at; });
  return p == problem_hits.end() || p->begin >= h.end + fine;  // no problem word between place and cue
}

// Every place named, longer names winning over the names inside them ("south korea" over "korea").
// The first two bytes of s[i..] as one key (region_index).
uint16_t PairKey(std::string_view s, size_t i) {
  return static_cast<uint16_t>((static_cast<unsigned char>(s[i]) << 8) | static_cast<unsigned char>(s[i + 1]));
}


// One pass over the message, looking up the spellings that start with each byte pair (region_index).
std::vector<PlaceHit> FindPlaces(std::string_view s, const SubstringFilter&, const Vocabulary& vocab) {
  constexpr size_t kMaxHits = 64;
  std::vector<PlaceHit> hits;
  for (size_t i = 0; i + 1 < s.size() && hits.size() < kMaxHits; ++i) {
    if (!vocab.region_pairs[PairKey(s, i)]) continue;
    auto bucket = vocab.region_index.find(PairKey(s, i));
    if (bucket == vocab.region_index.end()) continue;
    if (i > 0 && IsAsciiAlnum(s[i - 1]) && IsAsciiAlnum(s[i])) continue;  // inside a word
    for (const auto& [spelling, canonical] : bucket->second) {
      const size_t end = i + spelling.size();
      if (s.compare(i, spelling.size(), spelling) != 0) continue;
      if (IsAsciiAlnum(spelling.back()) && end < s.size() && IsAsciiAlnum(s[end])) continue;
      auto level = vocab.region_levels.find(canonical);
      hits.push_back({i, end, canonical, level == vocab.region_levels.end() ? 1 : level->second});
    }
  }
  std::sort(hits.begin(), hits.end(), [](const PlaceHit& a, const PlaceHit& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end > b.end;
  });
  std::vector<PlaceHit> out;
  for (auto& h : hits) {
    if (!out.empty() && h.begin < out.back().end) continue;  // inside the previous, longer name
    out.push_back(std::move(h));
  }
  return out;
}

// The place the problem is seen: the most specific one named, leaving out where the customer is based
// ("a studio in Munich", "我们在深圳") and places said to work fine ("欧洲那边还行"). Spelled as written.
std::optional<PlaceHit> ProblemPlace(std::string_view s, const SubstringFilter& filter, const Vocabulary& vocab,
                                     const std::vector<Hit>& problem_hits) {
  std::optional<PlaceHit> best;
  int best_score = -1;
  for (const PlaceHit& h : FindPlaces(s, filter, vocab)) {
    bool based = false;
    for (const auto& cue : vocab.based_cues) {
      size_t from = h.begin > cue.size() + 24 ? h.begin - cue.size() - 24 : 0;
      size_t p = FindWord(s.substr(0, h.begin), cue, from);
      if (p == std::string_view::npos) continue;
      bool broken = false;
      for (size_t i = p; i < h.begin; ++i) broken = broken || IsClauseBreakAt(s, i);
      based = based || !broken;
    }
    if (based || PlaceSaidFine(filter, s, vocab, h, problem_hits)) continue;
    // The more specific place, then one in a clause about a problem ("an MCN in Lagos ... loss toward
    // Cairo").
    auto [b, e] = ClauseAround(s, h.begin, h.end - h.begin);
    auto first = std::lower_bound(problem_hits.begin(), problem_hits.end(), b, [](const Hit& x, size_t p) { return x.begin < p; });
    bool in_problem = (first != problem_hits.end() && first->begin < e) ||
                      FindAny(filter, s.substr(b, e - b), vocab.unreachable_cues) != std::string_view::npos;
    int score = h.level * 10 + (in_problem ? 1 : 0);
    if (!best || score > best_score) { best = h; best_score = score; }
  }
  return best;
}

// True when the hit is a verb moving a figure ("drops to 8 Mbps", "降到5M"), not a problem of its own.
bool MovesFigure(std::string_view s, const Hit& h) {
  size_t e = h.end;
  for (std::string_view to : {" to ", " to about ", " to around ", " from ", "到", "至", "从"}) {
    if (s.compare(e, to.size(), to) == 0) {
      size_t d = e + to.size();
      if (d < s.size() && (AsciiDigit(s[d]) || static_cast<unsigned char>(s[d]) >= 0xE0)) return true;
    }
  }
  return false;
}

// A feature the customer missed that is itself support ("承诺的7×24技术支持根本没有", "the 24/7 support
// in the contract doesn't exist", "说好的专属技术经理也没有") is missing support.
// The subject is close (32 bytes either side, same clause) with no conjunction between: in "support never
// replied and the promised feature was not provided" the feature is not support.
bool AboutSupport(const SubstringFilter& filter, std::string_view s, const Vocabulary& vocab, const Hit& h) {
  constexpr size_t kNear = 32;
  auto subjects = vocab.problems.find("_support_subjects");
  auto conj = vocab.evidence.find("_and");
  if (subjects == vocab.problems.end()) return false;
  auto [cb, ce] = ClauseAround(s, h.begin, h.end - h.begin);
  size_t b = std::max(cb, h.begin > kNear ? h.begin - kNear : 0), e = std::min(ce, h.end + kNear);
  std::string_view window = s.substr(b, e - b);
  size_t len = 0;
  size_t at = FindAny(filter, window, subjects->second, &len);
  if (at == std::string_view::npos) return false;
  size_t from = std::min(b + at + len, h.begin), to = std::max(b + at, h.end);
  std::string_view between = s.substr(from, to > from ? to - from : 0);
  if (conj != vocab.evidence.end()) {
    for (const auto& w : conj->second) if (FindWord(between, w) != std::string_view::npos) return false;
  }
  return true;
}

// The categories the message names, longest phrases first; those taken back go to `retracted`.
void DetectCategories(std::string_view s, const SubstringFilter& filter, const Vocabulary& vocab,
                      const std::vector<Hit>& problem_hits, const std::function<Problem&(const std::string&)>& get,
                      std::vector<std::string>* retracted) {
  auto weak = vocab.problems.find("_needs_figure");
  for (const Hit& h : Longest(problem_hits)) {
    if (MovesFigure(s, h)) continue;
    // A neutral word ("available") names its category only through a figure bound to it ("99.1% available").
    if (weak != vocab.problems.end() &&
        std::find(weak->second.begin(), weak->second.end(), s.substr(h.begin, h.end - h.begin)) != weak->second.end()) continue;
    std::string category = *h.tag;
    if (category == "feature_missing" && AboutSupport(filter, s, vocab, h)) category = "support_missing";
    if (TakenBack(filter, s, vocab, h.begin)) {
      retracted->push_back(category);
    } else {
      get(category);
    }
  }
}

std::vector<Problem> FindProblems(std::string_view original, std::string_view s, const SubstringFilter& filter,
                                  const Vocabulary& vocab, std::vector<std::string>* retracted) {
  std::map<std::string, Problem> by_category;
  std::function<Problem&(const std::string&)> get = [&](const std::string& category) -> Problem& {
    Problem& p = by_category[category];
    if (p.category.empty()) { p.category = category; p.description = Trim(original); }
    return p;
  };
  const std::vector<Hit> problem_hits = AllHits(s, vocab.problem_index);  // once per message
  DetectCategories(s, filter, vocab, problem_hits, get, retracted);
  ReadFigures(original, s, filter, vocab, get);
  // "latency is fine but ...": a category named without a figure, in a clause that calls it fine.
  for (auto it = by_category.begin(); it != by_category.end();) {
    bool fine = false;
    if (it->second.metrics.empty()) {
      size_t len = 0;
      size_t at = FindAny(filter, s, Words(vocab, it->first), &len);
      fine = at != std::string_view::npos && ClauseSaysFine(filter, s, vocab, at, len);
    }
    if (fine) retracted->push_back(it->first);
    it = fine ? by_category.erase(it) : std::next(it);
  }
  // A category both named and taken back in one message is named by what remains: "不是带宽问题，是丢包"
  // names packet loss; the taken-back one is dropped.
  for (const auto& c : *retracted) {
    auto it = by_category.find(c);
    if (it != by_category.end() && it->second.metrics.empty()) by_category.erase(it);
  }
  // Regions: a region with "can't connect" is a region_unreachable problem; otherwise the region is
  // where the other problems were seen.
  if (auto place = ProblemPlace(s, filter, vocab, problem_hits)) {
    std::string region = AsWritten(original, s.substr(place->begin, place->end - place->begin));
    if (region.size() > 4 && (region.compare(0, 4, "the ") == 0 || region.compare(0, 4, "The ") == 0)) region.erase(0, 4);
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

}  // namespace

bool ParseTraditional(const json& doc, Vocabulary* out, std::string* error) {
  if (!doc.is_object() || !doc.contains("t2s") || !doc["t2s"].is_object()) {
    *error = "traditional: the document must hold \"t2s\", an object mapping characters to characters";
    return false;
  }
  auto key = [](const std::string& c) {
    return (static_cast<uint32_t>(static_cast<unsigned char>(c[0])) << 16) |
           (static_cast<uint32_t>(static_cast<unsigned char>(c[1])) << 8) | static_cast<unsigned char>(c[2]);
  };
  for (const auto& [t, v] : doc["t2s"].items()) {
    if (!v.is_string() || t.size() != 3 || v.get<std::string>().size() != 3) {
      *error = "traditional: t2s." + t + " must map one 3-byte character to one";
      return false;
    }
    out->traditional[key(t)] = key(v.get<std::string>());
  }
  return true;
}

bool ParseRegions(const json& doc, Vocabulary* out, std::string* error) {
  static const std::map<std::string, int> kLevels = {{"areas", 0}, {"countries", 1}, {"cities", 2}};
  if (!doc.is_object()) { *error = "vocabulary: \"regions\" must map areas/countries/cities to places"; return false; }
  for (const auto& [level_name, places] : doc.items()) {
    auto level = kLevels.find(level_name);
    if (level == kLevels.end() || !places.is_object()) {
      *error = "vocabulary: regions." + level_name + " must be one of areas, countries, cities, mapping a name to its spellings";
      return false;
    }
    for (const auto& [canonical, spellings] : places.items()) {
      std::vector<std::string> list;
      if (!ReadStrings(spellings, &list)) { *error = "vocabulary: regions." + level_name + "." + canonical + " must be a list of strings"; return false; }
      for (auto& sp : list) if (!sp.empty()) out->regions[sp] = canonical;
      out->region_levels[canonical] = std::max(out->region_levels[canonical], level->second);
    }
  }
  out->region_index.clear();
  out->region_pairs.assign(65536, false);
  for (const auto& [spelling, canonical] : out->regions) {
    if (spelling.size() < 2) continue;
    out->region_index[PairKey(spelling, 0)].push_back({spelling, canonical});
    out->region_pairs[PairKey(spelling, 0)] = true;
  }
  return true;
}

void PhraseIndex::Build(const std::map<std::string, std::vector<std::string>>& lists) {
  by_pair.clear();
  single_bytes.clear();
  has_pair.assign(65536, false);
  for (const auto& [tag, words] : lists) {
    if (!tag.empty() && tag.front() == '_') continue;
    for (const auto& w : words) {
      Entry e{w, tag, !w.empty() && w.back() == '*'};
      if (e.stem) e.word.pop_back();
      if (e.word.empty()) continue;
      if (e.word.size() == 1) { single_bytes.push_back(std::move(e)); continue; }
      has_pair[PairKey(e.word, 0)] = true;
      by_pair[PairKey(e.word, 0)].push_back(std::move(e));
    }
  }
}

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
  if (doc.contains("regions") && !ParseRegions(doc["regions"], out, error)) return false;
  if (doc.contains("contact_labels") && !ReadStringLists(doc["contact_labels"], &out->contact_labels)) return fail("\"contact_labels\" must map contact kinds to lists of strings");
  for (const auto& cue : out->contact_cues) out->contact_labels["account"].push_back(cue);
  if (doc.contains("based_cues") && !ReadStrings(doc["based_cues"], &out->based_cues)) return fail("\"based_cues\" must be a list of strings");
  if (doc.contains("promise_cues") && !ReadStrings(doc["promise_cues"], &out->promise_cues)) return fail("\"promise_cues\" must be a list of strings");
  out->problem_index.Build(out->problems);
  out->evidence_index.Build(out->evidence);
  out->role_index.Build(out->date_roles);
  for (const char* key : {"phone_regions", "evidence_pictured"}) {
    if (!doc.contains(key)) continue;
    auto& target = std::string(key) == "phone_regions" ? out->phone_regions : out->evidence_pictured;
    if (!doc[key].is_object()) return fail(std::string("\"") + key + "\" must map names to strings");
    for (const auto& [k, v] : doc[key].items()) {
      if (!v.is_string()) return fail(std::string(key) + "." + k + " must be a string");
      target[k] = v.get<std::string>();
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
  std::string lowered = NormalizeForParsing(file_name);
  size_t dot = lowered.rfind('.');
  std::string by_extension;
  if (dot != std::string::npos) {
    auto it = vocab.evidence_file_types.find(lowered.substr(dot + 1));
    if (it != vocab.evidence_file_types.end()) by_extension = it->second;
  }
  // A picture of a thing proves what a picture of it proves ("speedtest.png" is a screenshot,
  // "wechat_chat.png" a chat record); a data file of it is that thing ("speedtest_sg.csv": a test report).
  if (!type.empty() && by_extension == "screenshot") {
    auto pictured = vocab.evidence_pictured.find(type);
    return pictured != vocab.evidence_pictured.end() ? pictured->second : "screenshot";
  }
  if (!type.empty()) return type;
  return by_extension.empty() ? "other" : by_extension;
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

namespace {

// Dates (the first kMaxDatesPerMessage), each with the role named by the nearest cue word in its clause.
// Cue and problem words are found once per message; each date then costs a few binary searches.
std::vector<DateFact> RoleDates(std::string_view s, const SubstringFilter& filter, Date today,
                                const DateOptions& date_options, const Vocabulary& vocab, size_t* considered,
                                std::vector<Span>* spans) {
  std::vector<DateFact> out;
  std::vector<DateMention> mentions = FindDates(s, today, date_options);
  if (mentions.size() > kMaxDatesPerMessage) mentions.resize(kMaxDatesPerMessage);
  if (considered) *considered = mentions.size();
  if (mentions.empty()) return out;
  std::vector<size_t> breaks;
  for (size_t i = 0; i < s.size(); ++i) if (IsClauseBreakAt(s, i)) breaks.push_back(i);
  const std::vector<Hit> cues = AllHits(s, vocab.role_index);
  std::vector<Hit> problems;  // found once, and only when a date without a role needs them
  bool problems_found = false;
  auto first_at = [](const std::vector<Hit>& h, size_t pos) {
    return std::lower_bound(h.begin(), h.end(), pos, [](const Hit& x, size_t p) { return x.begin < p; });
  };
  for (const DateMention& m : mentions) {
    spans->push_back({m.begin, m.end});
    // A ',' inside "Nov 5, 2026" was consumed by the date itself, so clauses never split a date.
    auto next_break = std::lower_bound(breaks.begin(), breaks.end(), m.end);
    size_t clause_end = next_break == breaks.end() ? s.size() : *next_break;
    auto prev_break = std::lower_bound(breaks.begin(), breaks.end(), m.begin);
    size_t clause_begin = prev_break == breaks.begin() ? 0 : *std::prev(prev_break) + 1;
    std::string best_role;
    size_t best_distance = std::string_view::npos;
    // The nearest cue after the date, then the nearest before it (a few back: cues differ in length).
    for (auto it = first_at(cues, m.end); it != cues.end() && it->begin < clause_end; ++it) {
      best_distance = it->begin - m.end; best_role = *it->tag; break;
    }
    auto it = first_at(cues, m.begin);
    for (int k = 0; k < 4 && it != cues.begin(); ++k) {
      --it;
      if (it->begin < clause_begin) break;
      if (it->end > m.begin) continue;  // inside the date
      size_t d = m.begin - it->end;
      if (d < best_distance) { best_distance = d; best_role = *it->tag; }
    }
    // A date in a clause about a problem and without a role ("latency has been bad since Nov 5") says
    // when the problem was seen, not a payment or activation date.
    bool about_problem = false;
    if (best_role.empty()) {
      if (!problems_found) { problems = AllHits(s, vocab.problem_index); problems_found = true; }
      auto p = first_at(problems, clause_begin);
      about_problem = p != problems.end() && p->begin < clause_end;
    }
    out.push_back({m.date, best_role, m.alternative, about_problem});
  }
  return out;
}

// Evidence named in the message. A picture of a thing ("speedtest screenshots", "微信聊天截图", "ticket
// screenshots") proves what Vocabulary::evidence_pictured says: the screenshot word and the word next to
// it count once.
std::vector<Evidence> FindEvidence(std::string_view original, std::string_view s, const SubstringFilter& filter,
                                   const Vocabulary& vocab, std::vector<Span>* spans) {
  // Longer words win over the words inside them ("monitoring report" over "monitoring").
  std::vector<Hit> kept = Longest(AllHits(s, vocab.evidence_index));
  for (const Hit& h : kept) spans->push_back({h.begin, h.end});
  std::vector<bool> dropped(kept.size(), false);
  for (size_t i = 0; i < kept.size(); ++i) {
    if (*kept[i].tag != "screenshot") continue;
    for (size_t j : {i - 1, i + 1}) {  // the neighbour on either side, close and in the same clause
      if (j >= kept.size() || *kept[j].tag == "screenshot") continue;
      size_t b = std::min(kept[i].end, kept[j].end), e = std::max(kept[i].begin, kept[j].begin);
      bool near = e >= b ? e - b <= 12 : true;
      for (size_t k = std::min(b, e); near && k < std::max(b, e); ++k) near = !IsClauseBreakAt(s, k) && s[k] != '+';
      auto conj = vocab.evidence.find("_and");  // "contract and screenshots": two pieces, not one picture
      if (near && e > b && conj != vocab.evidence.end()) {
        std::string_view gap = s.substr(b, e - b);
        for (const auto& w : conj->second) near = near && FindWord(gap, w) == std::string_view::npos;
      }
      if (!near) continue;
      auto pictured = vocab.evidence_pictured.find(*kept[j].tag);
      if (pictured != vocab.evidence_pictured.end() && pictured->second == *kept[j].tag) dropped[i] = true;
      else dropped[j] = true;
      break;
    }
  }
  std::vector<Evidence> out;
  for (size_t i = 0; i < kept.size(); ++i) {
    if (dropped[i]) continue;
    bool have = std::any_of(out.begin(), out.end(), [&](const Evidence& e) { return e.type == *kept[i].tag; });
    if (!have) out.push_back({*kept[i].tag, Trim(original)});
  }
  return out;
}

}  // namespace

Understanding Understand(std::string_view original, std::string_view s, Date today, const Vocabulary& vocab,
                         std::string_view pending_slot, const DateOptions& date_options, std::string_view lang) {
  return UnderstandCounted(original, s, today, vocab, pending_slot, date_options, lang, nullptr);
}

namespace {

// `s` with every traditional character of vocab.traditional replaced by its simplified one, in place: the
// same length, so positions in it are positions in `s`.
std::string FoldTraditional(std::string_view s, const Vocabulary& vocab) {
  std::string out(s);
  if (vocab.traditional.empty()) return out;
  for (size_t i = 0; i + 2 < out.size(); ++i) {
    const auto b0 = static_cast<unsigned char>(out[i]);
    if (b0 < 0xE0 || b0 >= 0xF0) continue;
    const uint32_t k = (static_cast<uint32_t>(b0) << 16) | (static_cast<uint32_t>(static_cast<unsigned char>(out[i + 1])) << 8) |
                       static_cast<unsigned char>(out[i + 2]);
    auto it = vocab.traditional.find(k);
    if (it != vocab.traditional.end()) {
      out[i] = static_cast<char>(it->second >> 16);
      out[i + 1] = static_cast<char>((it->second >> 8) & 0xFF);
      out[i + 2] = static_cast<char>(it->second & 0xFF);
    }
    i += 2;
  }
  return out;
}

}  // namespace

Understanding UnderstandCounted(std::string_view original, std::string_view normalized, Date today, const Vocabulary& vocab,
                                std::string_view pending_slot, const DateOptions& date_options, std::string_view lang,
                                size_t* dates_considered) {
  Understanding u;
  const std::string folded = FoldTraditional(normalized, vocab);  // 當天開通 -> 当天开通
  const std::string_view s = folded;
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
  std::vector<Span> date_spans;
  DateOptions dated = date_options;  // the vocabulary's date words unless the caller names its own
  if (!dated.vocabulary) dated.vocabulary = vocab.dates.get();
  u.dates = RoleDates(s, filter, today, dated, vocab, dates_considered, &date_spans);

  // Contacts first: their labels and identifiers are masked so "my wechat is x" is no chat record.
  auto region = vocab.phone_regions.find(std::string(lang));
  std::vector<Span> spans;
  u.contacts = FindContacts(original, s, filter, vocab, region == vocab.phone_regions.end() ? "" : region->second,
                            pending_slot == "contact", &spans);
  std::string masked(s);
  for (const auto& [b, e] : spans) std::fill(masked.begin() + b, masked.begin() + e, ' ');
  const SubstringFilter masked_filter(masked);
  FindBilling(masked, masked_filter, vocab, &u);
  spans = date_spans;
  for (const ContactId& c : u.contacts) {
    if (c.kind == "email" && !u.email) u.email = c.value;
    else if (c.kind != "email" && !u.account) u.account = c.value;
  }
  u.evidence = FindEvidence(original, masked, masked_filter, vocab, &spans);
  // Dates and evidence words are no problems either: "ping logs", "SLA报告", the 5 of "Nov 5".
  for (const auto& [b, e] : spans) std::fill(masked.begin() + b, masked.begin() + e, ' ');
  const SubstringFilter problem_filter(masked);
  u.problems = FindProblems(original, masked, problem_filter, vocab, &u.retracted_problems);
  u.ticket_ids = FindTicketIds(s);
  bool asks = FindAny(filter, s, vocab.questions.contains) != std::string_view::npos;
  for (const auto& start : vocab.questions.exact) {  // the "starts" list
    if (asks) break;
    asks = FindWord(core, start) == 0;
  }
  if (asks) u.intents["question"] = true;
  if (u.account && !u.ticket_ids.empty() && *u.account == u.ticket_ids.front()) {
    u.account.reset();
    std::erase_if(u.contacts, [&](const ContactId& c) { return c.value == u.ticket_ids.front(); });
  }
  return u;
}

DateOptions DateOptionsForLang(const Vocabulary& vocab, std::string_view lang) {
  if (!vocab.dates) return DateOptions{};
  auto it = vocab.numeric_dates.find(std::string(lang));
  return DateOptionsFor(*vocab.dates, lang, it == vocab.numeric_dates.end() ? "month_first" : it->second);
}

}  // namespace rd
