#include "dialogs/dates.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <unordered_set>

#include "dialogs/text.h"

namespace rd {

bool Date::IsValid(int y, int m, int d) {
  if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  int max = kDays[m - 1] + (m == 2 && leap ? 1 : 0);
  return d <= max;
}

// Howard Hinnant's days_from_civil / civil_from_days.
int64_t Date::ToDays() const {
  int64_t y = year - (month <= 2 ? 1 : 0);
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

Date Date::FromDays(int64_t z) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  return Date{static_cast<int>(y + (m <= 2 ? 1 : 0)), static_cast<int>(m), static_cast<int>(d)};
}

std::optional<Date> Date::FromIso(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  int v[3] = {0, 0, 0};
  const int starts[3] = {0, 5, 8}, lens[3] = {4, 2, 2};
  for (int k = 0; k < 3; ++k) {
    for (int i = 0; i < lens[k]; ++i) {
      char c = s[starts[k] + i];
      if (c < '0' || c > '9') return std::nullopt;
      v[k] = v[k] * 10 + (c - '0');
    }
  }
  if (!IsValid(v[0], v[1], v[2])) return std::nullopt;
  return Date{v[0], v[1], v[2]};
}

std::string Date::Iso() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", year, month, day);
  return buf;
}

int Weekday(const Date& d) {
  int64_t days = d.ToDays();
  int64_t w = ((days + 3) % 7 + 7) % 7;  // 1970-01-01 was a Thursday (4)
  return static_cast<int>(w) + 1;
}

namespace {

using W = DateWord;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLetter(char c) { return c >= 'a' && c <= 'z'; }
bool IsAlnum(char c) { return IsDigit(c) || IsLetter(c) || (c >= 'A' && c <= 'Z'); }

size_t SkipSpaces(std::string_view s, size_t pos) {
  while (pos < s.size() && s[pos] == ' ') ++pos;
  return pos;
}

struct Num {
  int value = 0;
  size_t len = 0;  // 0: no number here
  int digits = 0;  // ASCII digits, or Chinese digits written one by one (二〇二六); 0 for 二十
};

// 1 to `max_len` ASCII digits, not followed by another digit.
Num ReadDigits(std::string_view s, size_t pos, size_t max_len) {
  Num n;
  size_t i = pos;
  while (i < s.size() && IsDigit(s[i])) {
    if (i - pos == max_len) return {};
    n.value = n.value * 10 + (s[i] - '0');
    ++i;
  }
  n.len = i - pos;
  n.digits = static_cast<int>(n.len);
  return n;
}

Date AddMonths(Date d, int months) {
  int index = d.year * 12 + (d.month - 1) + months;
  int y = index / 12, m = index % 12 + 1;
  int day = d.day;
  while (!Date::IsValid(y, m, day)) --day;
  return Date{y, m, day};
}

Date LastDayOfMonth(int y, int m) {
  int day = 31;
  while (!Date::IsValid(y, m, day)) --day;
  return Date{y, m, day};
}

// n days, where 30 stands for a calendar month and 365 for a calendar year (see dates.json "unit").
Date Shift(Date d, int n, int unit_days) {
  if (unit_days == 30) return AddMonths(d, n);
  if (unit_days == 365) return AddMonths(d, 12 * n);
  return d.AddDays(int64_t{n} * unit_days);
}

Date MondayOf(Date d) { return d.AddDays(-(Weekday(d) - 1)); }

// The nth `weekday` of a month (nth 1-5, -1 the last), if the month has one.
std::optional<Date> NthWeekday(int year, int month, int weekday, int nth) {
  if (nth < 0) {
    Date end = LastDayOfMonth(year, month);
    return end.AddDays(-((Weekday(end) - weekday + 7) % 7));
  }
  Date first{year, month, 1};
  Date d = first.AddDays((weekday - Weekday(first) + 7) % 7 + 7 * (nth - 1));
  if (d.month != month) return std::nullopt;
  return d;
}

const DateVocabulary& NoWords() {
  static const DateVocabulary empty;
  return empty;
}

uint32_t CharAt(std::string_view s, size_t pos) {
  unsigned char u = static_cast<unsigned char>(s[pos]);
  size_t n = u < 0x80 ? 1 : u >= 0xF0 ? 4 : u >= 0xE0 ? 3 : 2;
  uint32_t c = 0;
  for (size_t i = 0; i < n && pos + i < s.size(); ++i) c = c << 8 | static_cast<unsigned char>(s[pos + i]);
  return c;
}

class Scanner {
 public:
  Scanner(std::string_view s, Date today, const DateOptions& options)
      : s_(s), today_(today), options_(options), v_(options.vocabulary ? *options.vocabulary : NoWords()),
        anchor_(options.anchor) {}

  void FollowForcedOrder(std::vector<DateMention>* found) const {
    if (!forced_day_first_) return;
    for (const auto& [index, read_day_first] : ambiguous_found_) {
      DateMention& m = (*found)[index];
      if (read_day_first == *forced_day_first_ || !m.alternative) continue;
      std::swap(m.date, *m.alternative);
    }
  }

  std::vector<DateMention> Run() {
    std::vector<DateMention> found;
    for (size_t pos = 0; pos < s_.size();) {
      char c = s_[pos];
      bool word_start = !IsAlnum(c) || pos == 0 || !IsAlnum(s_[pos - 1]);
      if (word_start && CanStart(pos)) {
        if (WordTable::Hit no = Word(W::kNotDate, pos); no.len > 0) { pos += no.len; continue; }
        DateMention m;
        rejected_end_ = 0;
        yearless_ = false;
        if (Match(pos, &m)) {
          if (WordTable::Hit after = Word(W::kDayAfterDate, m.end); after.len > 0) {  // 国庆前一天
            m.date = m.date.AddDays(after.value);
            m.end += after.len;
          }
          m.begin = pos;
          if (!found.empty() && found.back().date == m.date && SkipSpaces(s_, found.back().end) == pos) {
            found.back().end = m.end;  // 十月一日国庆节: one date named twice
          } else {
            if (ambiguous_) ambiguous_found_.emplace(found.size(), ambiguous_read_day_first_);
            found.push_back(m);
          }
          ambiguous_ = false;
          anchor_ = m.date;
          pos = std::max(m.end, pos + 1);
          continue;
        }
        if (rejected_end_ > pos) {  // a date with an impossible day: none of its parts is a date either
          pos = rejected_end_;
          continue;
        }
      }
      if (IsAlnum(c)) {
        while (pos < s_.size() && IsAlnum(s_[pos])) ++pos;  // forms start only at word starts
      } else {
        unsigned char u = static_cast<unsigned char>(c);
        pos += u < 0x80 ? 1 : (u >= 0xF0 ? 4 : (u >= 0xE0 ? 3 : 2));
      }
    }
    FollowForcedOrder(&found);
    return found;
  }

 private:
  WordTable::Hit Word(W w, size_t pos) const { return v_[w].Match(s_, pos); }

  bool CanStart(size_t pos) const {
    char c = s_[pos];
    if (IsDigit(c)) return true;
    if (IsLetter(c)) {
      size_t end = pos;
      while (end < s_.size() && IsLetter(s_[end])) ++end;
      return v_.english_starts.count(std::string(s_.substr(pos, end - pos))) > 0;
    }
    return v_.other_starts.count(CharAt(s_, pos)) > 0;
  }

  bool Match(size_t pos, DateMention* m) {
    if (Holiday(pos, std::nullopt, m)) return true;
    if (IsDigit(s_[pos])) return Numeric(pos, m) || Relative(pos, m);
    if (IsLetter(s_[pos])) return English(pos, m) || Relative(pos, m);
    return Chinese(pos, m) || Relative(pos, m);
  }

  bool Reject(size_t end) {
    rejected_end_ = end;
    return false;
  }

  bool Set(DateMention* m, Date d, size_t end) {
    m->date = d;
    m->end = end;
    return true;
  }

  Date Anchor() const { return anchor_ ? *anchor_ : today_; }

  // True when the text at `pos` (after spaces) makes a number before it a figure or a range: 4.5秒, 3-5天.
  bool FigureAfter(size_t pos) const {
    return Word(W::kFigureUnit, pos).len > 0 || Word(W::kFigureUnit, SkipSpaces(s_, pos)).len > 0;
  }

  // An amount or a label before a number: $12, version 1.2, 第5号.
  bool CurrencyBefore(size_t pos) const {
    while (pos > 0 && s_[pos - 1] == ' ') --pos;
    return v_[W::kCurrency].EndsAt(s_, pos) || v_[W::kNumberLabel].EndsAt(s_, pos);
  }

  // End of text or punctuation (after spaces): where "the 27" or "on 15" may end.
  bool ClauseEnds(size_t pos) const {
    pos = SkipSpaces(s_, pos);
    return pos >= s_.size() || (!IsAlnum(s_[pos]) && static_cast<unsigned char>(s_[pos]) < 0x80 && s_[pos] != '$');
  }

  int TwoDigitYear(int yy) const {
    return 2000 + yy <= today_.year + v_.two_digit_year_ahead ? 2000 + yy : 1900 + yy;
  }

  // The most recent (month, day) not after today — or, right after another date, the first one from
  // that date on (so "Dec 28 ... Jan 3" crosses the year the customer meant).
  std::optional<Date> YearFor(int month, int day) {
    yearless_ = true;
    if (!Date::IsValid(2000, month, day)) return std::nullopt;
    if (anchor_) {
      for (int y : {anchor_->year, anchor_->year + 1}) {
        if (!Date::IsValid(y, month, day)) continue;
        Date d{y, month, day};
        if (d >= *anchor_ && d <= today_) return d;
      }
    }
    for (int y = today_.year; y > today_.year - 8; --y) {
      if (Date::IsValid(y, month, day) && Date{y, month, day} <= today_) return Date{y, month, day};
    }
    return std::nullopt;
  }

  // A bare day of the month ("20号", "the 20th"): in the month of the date just mentioned when that
  // keeps the order, else this month if not after today, else the month before (and so on).
  std::optional<Date> MonthFor(int day) {
    if (day < 1 || day > 31) return std::nullopt;
    if (anchor_ && Date::IsValid(anchor_->year, anchor_->month, day)) {
      Date d{anchor_->year, anchor_->month, day};
      if (d >= *anchor_ && d <= today_) return d;
    }
    Date month_start{today_.year, today_.month, 1};
    for (int back = 0; back < 12; ++back) {
      Date first = AddMonths(month_start, -back);
      if (Date::IsValid(first.year, first.month, day) && Date{first.year, first.month, day} <= today_) {
        return Date{first.year, first.month, day};
      }
    }
    return std::nullopt;
  }

  // The most recent lunar (month, day) not after today.
  std::optional<Date> LunarYearFor(int month, int day) {
    for (int y = today_.year; y > today_.year - 3; --y) {
      auto d = v_.FromLunar(y, month, day);
      if (d && *d <= today_) return d;
    }
    return std::nullopt;
  }

  // ---- Numbers ----

  // An English number word from `table` (kCardinal or kOrdinal); tens take a following 1-9 from it:
  // "twenty one", "twenty-first".
  Num EnglishNumber(size_t pos, W table) const {
    if (pos > 0 && IsAlnum(s_[pos - 1])) return {};
    WordTable::Hit tens = Word(W::kCardinal, pos);
    if (tens.len > 0 && tens.value >= 20 && tens.value % 10 == 0) {
      size_t q = pos + tens.len;
      if (q < s_.size() && (s_[q] == ' ' || s_[q] == '-')) {
        WordTable::Hit unit = Word(table, q + 1);
        if (unit.len > 0 && unit.value >= 1 && unit.value <= 9) {
          return {tens.value + unit.value, q + 1 + unit.len - pos, 0};
        }
      }
    }
    WordTable::Hit h = Word(table, pos);
    return {h.value, h.len, 0};
  }

  // Chinese numerals: 五, 十一, 二十, 廿三, 两千零四, and digit by digit 二〇二六 / 三六七.
  Num ChineseNumber(size_t pos) const {
    int total = 0, digit = -1, positional = 0, digits = 0, last_unit = 100000;
    bool units = false;
    size_t i = pos, end = pos;
    while (i < s_.size()) {
      WordTable::Hit d = Word(W::kZhDigit, i);
      if (d.len > 0) {
        if (!units) {
          positional = positional * 10 + d.value;
          ++digits;
        } else if (d.value == 0) {  // 两千零四: the 零 only marks a gap
          i += d.len;
          continue;
        } else if (digit >= 0) {
          break;
        }
        digit = d.value;
        i += d.len;
        end = i;
        if (digits > 4) return {};
        continue;
      }
      WordTable::Hit u = Word(W::kZhUnit, i);
      if (u.len == 0 || (!units && digits > 1)) break;
      bool power = u.value == 10 || u.value == 100 || u.value == 1000;
      if (u.value >= last_unit || (!power && (digit >= 0 || total > 0))) break;
      total += power ? (digit >= 0 ? digit : 1) * u.value : u.value;
      last_unit = power ? u.value : 10;
      units = true;
      digit = -1;
      i += u.len;
      end = i;
    }
    if (end == pos) return {};
    if (!units) return {positional, end - pos, digits};
    return {total + (digit >= 0 ? digit : 0), end - pos, 0};
  }

  // A number in digits or Chinese numerals.
  Num AnyNumber(size_t pos, size_t max_digits) const {
    if (pos < s_.size() && IsDigit(s_[pos])) return ReadDigits(s_, pos, max_digits);
    return ChineseNumber(pos);
  }

  // A count for "3 days ago": digits, an English number or count word, or Chinese numerals.
  Num Count(size_t pos) const {
    if (pos < s_.size() && IsDigit(s_[pos])) {
      if (pos > 0 && IsDigit(s_[pos - 1])) return {};
      return ReadDigits(s_, pos, 3);
    }
    if (pos < s_.size() && IsLetter(s_[pos])) {
      Num n = EnglishNumber(pos, W::kCardinal);
      if (n.len > 0) return n;
      WordTable::Hit c = Word(W::kCount, pos);
      return {c.value, c.len, 0};
    }
    Num n = ChineseNumber(pos);
    if (n.digits > 1) return {};  // 两三天: "two or three", no count of 23
    return n;
  }

  // A day of the month in English: "5", "5th", "05th", "fifth", "twenty first", and with
  // `cardinals` also "fifteen", "twenty one".
  Num EnglishDay(size_t pos, bool cardinals) const {
    if (pos < s_.size() && IsDigit(s_[pos])) {
      if (pos > 0 && IsDigit(s_[pos - 1])) return {};
      Num n = ReadDigits(s_, pos, 2);
      if (n.len == 0) return {};
      size_t end = pos + n.len;
      if (WordTable::Hit suf = Word(W::kOrdinalSuffix, end); suf.len > 0) end += suf.len;
      if (end < s_.size() && IsAlnum(s_[end])) return {};
      n.len = end - pos;
      return n;
    }
    Num n = EnglishNumber(pos, W::kOrdinal);
    if (n.len == 0 && cardinals) n = EnglishNumber(pos, W::kCardinal);
    if (n.value < 1 || n.value > 31) return {};
    return n;
  }

  // True when the day at `pos` is written with digits only ("the 5", not "the 5th").
  bool PlainDigits(size_t pos, const Num& day) const {
    return IsDigit(s_[pos]) && day.len == ReadDigits(s_, pos, 2).len;
  }

  // ---- Numeric forms: 2026-11-05, 11/5/2026, 22/04, 4.22, Sep-23-2020, 23/Sep/2020, 08/12,15 ----

  struct Part {
    int value = 0;
    int digits = 0;  // 0: a month name
  };

  // Up to three numbers or month names joined by one separator (- / .); then ",2015" may add a year.
  // Returns the end, 0 when there are not two parts.
  size_t ReadParts(size_t pos, Part* parts, int* count, char* sep) const {
    *count = 0;
    *sep = 0;
    size_t p = pos;
    while (*count < 3) {
      Part part;
      if (p < s_.size() && IsDigit(s_[p])) {
        Num n = ReadDigits(s_, p, 4);
        if (n.len == 0) return 0;
        part = {n.value, n.digits};
        p += n.len;
      } else {
        WordTable::Hit name = Word(W::kMonthName, p);
        if (name.len == 0 || (p > 0 && IsAlnum(s_[p - 1]))) break;
        part = {name.value, 0};
        p += name.len;
        if (p < s_.size() && s_[p] == '.' && p + 1 < s_.size() && (s_[p + 1] == '-' || s_[p + 1] == '/')) ++p;
      }
      parts[(*count)++] = part;
      if (p >= s_.size() || *count == 3) break;
      char c = s_[p];
      if ((c != '-' && c != '/' && c != '.') || (*sep && c != *sep)) break;
      if (p + 1 >= s_.size() || !(IsDigit(s_[p + 1]) || IsLetter(s_[p + 1]))) break;
      *sep = c;
      ++p;
    }
    if (*count < 2) return 0;
    if (*count == 2 && parts[0].digits && parts[1].digits && p < s_.size() && s_[p] == ',') {
      size_t q = SkipSpaces(s_, p + 1);
      Num y = ReadDigits(s_, q, 4);
      if ((y.len == 2 || y.len == 4) && (q + y.len >= s_.size() || !IsAlnum(s_[q + y.len]))) {
        parts[(*count)++] = {y.value, y.digits};
        p = q + y.len;
      }
    }
    return p;
  }

  bool NumericParts(size_t pos, DateMention* m) {
    Part parts[3];
    int count = 0;
    char sep = 0;
    size_t end = ReadParts(pos, parts, &count, &sep);
    if (end == 0) return false;
    if (end < s_.size() && (IsAlnum(s_[end]) || s_[end] == '%' || s_[end] == '/' || s_[end] == '-')) return false;
    int names = 0;
    for (int i = 0; i < count; ++i) names += parts[i].digits == 0;
    if (names > 1) return false;
    if (names == 1) return NamedParts(parts, count, end, m);
    if (count == 2) {
      if (parts[0].digits > 2 || parts[1].digits > 2 || FigureAfter(end)) return false;
      int a = parts[0].value, b = parts[1].value;  // month first when it can be (4/22), else 22/04
      auto d = Date::IsValid(2000, a, b) ? YearFor(a, b) : YearFor(b, a);
      return d ? Set(m, *d, end) : Reject(end);
    }
    return ThreeNumbers(parts, sep, end, m);
  }

  // Sep-23-2020, 2019/sep/01, 23/Sep/2020, September-2020-23, 05-Aug-2016, Oct-2.
  bool NamedParts(const Part* parts, int count, size_t end, DateMention* m) {
    int month = 0, year = 0, day = 0;
    bool has_year = false;
    std::vector<Part> numbers;
    for (int i = 0; i < count; ++i) {
      if (parts[i].digits == 0) month = parts[i].value;
      else numbers.push_back(parts[i]);
    }
    if (numbers.size() == 1) {
      if (numbers[0].digits > 2) return false;
      day = numbers[0].value;
    } else {
      int y = numbers[0].digits == 4 || (numbers[1].digits != 4 && numbers[0].value > 31) ? 0 : 1;
      if (numbers[y].digits != 4 && numbers[y].digits != 2) return false;
      year = numbers[y].digits == 2 ? TwoDigitYear(numbers[y].value) : numbers[y].value;
      day = numbers[1 - y].value;
      has_year = true;
    }
    if (!has_year) {
      auto d = YearFor(month, day);
      return d ? Set(m, *d, end) : Reject(end);
    }
    if (!Date::IsValid(year, month, day)) return Reject(end);
    return Set(m, Date{year, month, day}, end);
  }

  // 2026-11-05, 11/5/2026, 5.11.2026 (dots: day first), 05/05/71, and with `year_first` 12-11-10.
  bool ThreeNumbers(const Part* p, char sep, size_t end, DateMention* m) {
    if (p[0].digits == 4) {
      if (p[1].digits > 2 || p[2].digits > 2) return false;
      if (!Date::IsValid(p[0].value, p[1].value, p[2].value)) return Reject(end);
      return Set(m, Date{p[0].value, p[1].value, p[2].value}, end);
    }
    if (p[0].digits > 2 || p[1].digits > 2) return false;
    if (options_.year_first && p[0].digits == 2 && p[2].digits <= 2) {
      int y = TwoDigitYear(p[0].value);
      if (Date::IsValid(y, p[1].value, p[2].value)) return Set(m, Date{y, p[1].value, p[2].value}, end);
    }
    if (p[2].digits != 4 && p[2].digits != 2) return false;
    int year = p[2].digits == 2 ? TwoDigitYear(p[2].value) : p[2].value;
    int a = p[0].value, b = p[1].value;
    bool day_first = sep == '.' || options_.numeric_order == NumericOrder::kDayFirst;
    bool md = Date::IsValid(year, a, b), dm = Date::IsValid(year, b, a);
    if (!md && !dm) return Reject(end);
    Date primary = day_first ? (dm ? Date{year, b, a} : Date{year, a, b}) : (md ? Date{year, a, b} : Date{year, b, a});
    Set(m, primary, end);
    if (md && dm && a != b && sep != '.') {
      m->alternative = day_first ? Date{year, a, b} : Date{year, b, a};
      ambiguous_read_day_first_ = day_first;
      ambiguous_ = true;
    } else if (md != dm) {
      forced_day_first_ = dm;  // 28/02/2026 can only be day first: the writer's order for the message
    }
    return true;
  }

  // ---- Forms that start with a digit ----
  bool Numeric(size_t pos, DateMention* m) {
    if (pos > 0 && (s_[pos - 1] == '.' || s_[pos - 1] == '/' || s_[pos - 1] == '-')) return false;
    if (CurrencyBefore(pos)) return false;
    if (NumericParts(pos, m)) return true;
    if (rejected_end_ > pos) return false;
    Num first = ReadDigits(s_, pos, 4);
    if (first.len == 0) return false;
    size_t p = pos + first.len;
    if (first.len == 4) return YearFirst(first.value, p, m);
    if (first.len > 2) return false;
    if (WordTable::Hit y = Word(W::kZhYear, p); y.len > 0 && first.len == 2) {  // 16年10月1号 (16年前 is Relative)
      return ChineseAfterYear(TwoDigitYear(first.value), p + y.len, m);
    }
    p = SkipSpaces(s_, p);  // "11 月 5 日"
    if (Word(W::kZhMonth, p).len > 0) return ChineseMonthDay(first.value, p + Word(W::kZhMonth, p).len, false, m);
    if (WordTable::Hit unit = Word(W::kZhDay, p); unit.len > 0) {  // 5号, but not 5号线 or 3日内
      size_t end = p + unit.len;
      if (Word(W::kZhDayBlocker, end).len > 0) return false;
      auto d = MonthFor(first.value);
      return d && Set(m, *d, end);
    }
    // 5 Nov 2026, 16. Nov. 2016, 5th of November, 15th of last month
    Num day = EnglishDay(pos, false);
    if (day.len == 0) return false;
    size_t q = pos + day.len;
    if (q < s_.size() && s_[q] == '.' && q + 1 < s_.size() && s_[q + 1] == ' ') ++q;
    return DayThenMonth(day.value, q, m);
  }

  // After a 4-digit year: -11-05 is read by NumericParts; here 2026年11月5日 and 2016 10 16.
  bool YearFirst(int year, size_t p, DateMention* m) {
    if (WordTable::Hit y = Word(W::kZhYear, p); y.len > 0) return ChineseAfterYear(year, p + y.len, m);
    if (p < s_.size() && s_[p] == ' ') {
      size_t q = p + 1;
      Num month = ReadDigits(s_, q, 2);
      if (month.len == 0 || q + month.len >= s_.size() || s_[q + month.len] != ' ') return false;
      Num day = ReadDigits(s_, q + month.len + 1, 2);
      size_t end = q + month.len + 1 + day.len;
      if (day.len == 0 || (end < s_.size() && IsAlnum(s_[end]))) return false;
      if (!Date::IsValid(year, month.value, day.value)) return false;
      return Set(m, Date{year, month.value, day.value}, end);
    }
    return false;
  }

  // ---- Chinese month and day ----

  // A day after a month: 5日 / 五号 / 十五 (the unit optional), or a lunar 初一. `lunar` is set for 初.
  struct DayRead {
    Num day;
    size_t end = 0;
    bool lunar = false;
  };
  DayRead ChineseDay(size_t q) const {
    DayRead r;
    q = SkipSpaces(s_, q);
    if (WordTable::Hit chu = Word(W::kLunarDayPrefix, q); chu.len > 0) {
      Num n = ChineseNumber(q + chu.len);
      if (n.len == 0 || n.value < 1 || n.value > 10) return r;
      r = {n, q + chu.len + n.len, true};
      return r;
    }
    Num day = AnyNumber(q, 2);
    if (day.len == 0) return r;
    r = {day, q + day.len, false};
    size_t unit = SkipSpaces(s_, r.end);
    if (WordTable::Hit u = Word(W::kZhDay, unit); u.len > 0) r.end = unit + u.len;
    return r;
  }

  // After 11月 (q just past 月): the day, resolved to the most recent such date. `lunar`: a lunar month.
  bool ChineseMonthDay(int month, size_t q, bool lunar, DateMention* m) {
    DayRead r = ChineseDay(q);
    if (r.day.len == 0 && !lunar) return MonthPartOf(month, q, m);  // 9月初, 8月底, 8月最后一天
    if (r.day.len == 0 || month < 1 || month > 12) return false;
    bool convert = (lunar || r.lunar) && v_.convert_lunar_dates;
    std::optional<Date> d = convert ? LunarYearFor(month, r.day.value) : YearFor(month, r.day.value);
    return d ? Set(m, *d, r.end) : Reject(r.end);
  }

  // A part of a named month (`part_at`: 月初 / 底 in Chinese; the month's name in English): the most
  // recent such day not after today.
  bool MonthPartOf(int month, size_t part_at, DateMention* m, int part = 0) {
    size_t end = part_at;
    if (part == 0) {
      WordTable::Hit hit = Word(W::kMonthPart, SkipSpaces(s_, part_at));
      if (hit.len == 0 || IsLetter(s_[SkipSpaces(s_, part_at)])) return false;
      part = hit.value;
      end = SkipSpaces(s_, part_at) + hit.len;
    }
    if (month < 1 || month > 12) return false;
    for (int y = today_.year; y > today_.year - 2; --y) {
      Date d = part == 31 ? LastDayOfMonth(y, month) : Date{y, month, part};
      if (d <= today_) return Set(m, d, end);
    }
    return false;
  }

  // After "2026年": 11月5日, 十一月五号, 农历十月初一, 正月初一 (`lunar`: after 农历).
  bool ChineseYearMonthDay(int year, size_t q, bool lunar, DateMention* m) {
    q = SkipSpaces(s_, q);
    if (WordTable::Hit marker = Word(W::kLunarMarker, q); marker.len > 0) { lunar = true; q += marker.len; }
    int month = 0;
    size_t after = 0;
    if (WordTable::Hit name = Word(W::kLunarMonth, q); name.len > 0) {
      lunar = true;
      month = name.value;
      after = q + name.len;
    } else {
      Num n = AnyNumber(q, 2);
      size_t unit = SkipSpaces(s_, q + n.len);
      WordTable::Hit mu = Word(W::kZhMonth, unit);
      if (n.len == 0 || mu.len == 0) return false;
      month = n.value;
      after = unit + mu.len;
    }
    DayRead r = ChineseDay(after);
    if (r.day.len == 0) return false;
    if (month < 1 || month > 12) return Reject(r.end);  // 2026年13月1日: skip the whole thing
    std::optional<Date> d;
    if ((lunar || r.lunar) && v_.convert_lunar_dates) d = v_.FromLunar(year, month, r.day.value);
    else if (Date::IsValid(year, month, r.day.value)) d = Date{year, month, r.day.value};
    return d ? Set(m, *d, r.end) : Reject(r.end);
  }

  // ---- English day and month ----

  // After a day number: "Nov 2026", "of November", "of last month", "of this month".
  bool DayThenMonth(int day, size_t p, DateMention* m) {
    size_t q = SkipSpaces(s_, p);
    if (WordTable::Hit of = Word(W::kOf, q); of.len > 0) q = SkipSpaces(s_, q + of.len);
    if (WordTable::Hit rel = Word(W::kRelativeMonth, q); rel.len > 0 && IsLetter(s_[q])) {
      Date base = AddMonths(Date{today_.year, today_.month, 1}, rel.value);
      if (!Date::IsValid(base.year, base.month, day)) return Reject(q + rel.len);
      return Set(m, Date{base.year, base.month, day}, q + rel.len);
    }
    WordTable::Hit month = Word(W::kMonthName, q);
    if (month.len == 0) return false;
    size_t end = q + month.len;
    if (end < s_.size() && s_[end] == '.') ++end;
    return MonthDayYear(month.value, day, end, m);
  }

  // ", 2026" / " 2026" / " in 2020" / " of 1995" after a month and day; resolves the year.
  bool MonthDayYear(int month, int day, size_t p, DateMention* m) {
    size_t q = SkipSpaces(s_, p);
    if (q < s_.size() && s_[q] == ',') q = SkipSpaces(s_, q + 1);
    else if (WordTable::Hit of = Word(W::kOf, q); of.len > 0) q = SkipSpaces(s_, q + of.len);
    Num year = q < s_.size() && IsDigit(s_[q]) ? ReadDigits(s_, q, 4) : Num{};
    if (year.len == 4 && (q + 4 >= s_.size() || !IsAlnum(s_[q + 4]))) {
      if (!Date::IsValid(year.value, month, day)) return Reject(q + 4);
      return Set(m, Date{year.value, month, day}, q + 4);
    }
    auto d = YearFor(month, day);
    return d ? Set(m, *d, p) : Reject(p);
  }

  // Nov 5, 2026 / November the 5th / Oct. 2 / October, 1st / May twenty one / Sep-23-2020.
  bool MonthName(size_t pos, DateMention* m) {
    WordTable::Hit month = Word(W::kMonthName, pos);
    if (month.len == 0) return false;
    size_t after = pos + month.len;
    if (after < s_.size() && (s_[after] == '-' || s_[after] == '/')) return NumericParts(pos, m);
    size_t q = after;
    if (q < s_.size() && s_[q] == '.') ++q;
    if (q < s_.size() && s_[q] == ',') ++q;
    q = SkipSpaces(s_, q);
    if (WordTable::Hit the = Word(W::kThe, q); the.len > 0) q = SkipSpaces(s_, q + the.len);
    Num day = EnglishDay(q, true);
    if (day.len == 0) return false;  // a day is required, so "may i ask" or "march on" are no dates
    if (IsDigit(s_[q]) && q + day.len < s_.size() && s_[q + day.len] == ':') return false;  // May 5:30
    return MonthDayYear(month.value, day.value, q + day.len, m);
  }

  // ---- Weekdays ----

  // `wd` in the week `weeks` from this one (Monday to Sunday).
  Date InWeek(int weeks, int wd) const { return MondayOf(today_).AddDays(7 * weeks + wd - 1); }

  // After an English weekday: "next week", "of last week", "of the following week", "- Monday".
  bool WeekAfterWeekday(size_t q, int* weeks, size_t* end) const {
    q = SkipSpaces(s_, q);
    if (WordTable::Hit of = Word(W::kOf, q); of.len > 0) q = SkipSpaces(s_, q + of.len);
    WordTable::Hit rel = Word(W::kRelativeWeek, q);
    if (rel.len == 0 || !IsLetter(s_[q])) return false;
    *weeks = rel.value;
    *end = q + rel.len;
    return true;
  }

  // After a weekday phrase: a calendar date that says which day it is ("this friday 5/12", "Friday
  // the 15th", "Wed, 22 of Jan", "monday january 12th, 2016"): that date wins.
  bool DateAfterWeekday(size_t q, int wd, DateMention* m) {
    while (q < s_.size() && (s_[q] == ' ' || s_[q] == ',' || s_[q] == '-' || s_[q] == '(')) ++q;
    if (q >= s_.size()) return false;
    DateMention tmp;
    size_t saved = rejected_end_;
    bool found = false;
    if (IsDigit(s_[q])) {
      found = Numeric(q, &tmp);
    } else if (WordTable::Hit the = Word(W::kThe, q); the.len > 0) {
      size_t r = SkipSpaces(s_, q + the.len);
      Num day = EnglishDay(r, true);
      auto d = day.len > 0 ? DayOnWeekday(day.value, wd) : std::nullopt;
      found = d && Set(&tmp, *d, r + day.len);
    } else {
      found = MonthName(q, &tmp);
    }
    rejected_end_ = saved;
    if (!found) return false;
    if (q < s_.size() && s_[q] == '(' && tmp.end < s_.size() && s_[tmp.end] == ')') ++tmp.end;
    return Set(m, tmp.date, tmp.end);
  }

  // "Tuesday the 11th": this month's 11th if it is a Tuesday, else the most recent 11th that is.
  std::optional<Date> DayOnWeekday(int day, int wd) const {
    Date first{today_.year, today_.month, 1};
    for (int back = 0; back < 28; ++back) {
      Date month = AddMonths(first, -back);
      if (Date::IsValid(month.year, month.month, day) && Weekday(Date{month.year, month.month, day}) == wd) {
        return Date{month.year, month.month, day};
      }
    }
    return std::nullopt;
  }

  // A weekday named at `pos`, after modifier `mod` (see dates.json weekday_modifier; 3 when none).
  bool WeekdayForm(size_t pos, int mod, DateMention* m) {
    WordTable::Hit wd = Word(W::kWeekdayName, pos);
    if (wd.len == 0) return false;
    size_t end = pos + wd.len;
    if (DateAfterWeekday(end, wd.value, m)) return true;
    int weeks = 0;
    size_t week_end = 0;
    if (WeekAfterWeekday(end, &weeks, &week_end)) return Set(m, InWeek(weeks, wd.value), week_end);
    int today_wd = Weekday(today_);
    switch (mod) {
      case -1: {  // last friday: before today
        int back = (today_wd - wd.value + 7) % 7;
        return Set(m, today_.AddDays(-(back == 0 ? 7 : back)), end);
      }
      case 0: return Set(m, InWeek(0, wd.value), end);
      case 1: return Set(m, InWeek(1, wd.value), end);
      case 2: {  // the coming friday: after today
        int ahead = (wd.value - today_wd + 7) % 7;
        return Set(m, today_.AddDays(ahead == 0 ? 7 : ahead), end);
      }
      default: return Set(m, today_.AddDays(-((today_wd - wd.value + 7) % 7)), end);
    }
  }

  // "this week Friday", "next week on Friday", "previous week - Monday", "last week", "next week".
  bool RelativeWeekForm(size_t pos, DateMention* m) {
    WordTable::Hit rel = Word(W::kRelativeWeek, pos);
    if (rel.len == 0) return false;
    size_t q = SkipSpaces(s_, pos + rel.len);
    if (q < s_.size() && s_[q] == '-') q = SkipSpaces(s_, q + 1);
    if (WordTable::Hit on = Word(W::kOn, q); on.len > 0) q = SkipSpaces(s_, q + on.len);
    if (WordTable::Hit wd = Word(W::kWeekdayName, q); wd.len > 0) return Set(m, InWeek(rel.value, wd.value), q + wd.len);
    if (rel.value == 0) return false;
    return Set(m, today_.AddDays(7 * rel.value), pos + rel.len);
  }

  // "second Sunday", "the first friday of july", "the third Wednesday of previous month": in this month
  // when not after today, else the month before; none when the month has no such day.
  bool OrdinalWeekday(size_t pos, DateMention* m) {
    Num nth = EnglishNumber(pos, W::kOrdinal);
    bool last = nth.len == 0;
    if (last) {
      WordTable::Hit l = Word(W::kOrdinalLast, pos);
      nth = {l.value, l.len, 0};
    }
    if (nth.len == 0 || nth.value > 5) return false;
    size_t q = SkipSpaces(s_, pos + nth.len);
    WordTable::Hit wd = Word(W::kWeekdayName, q);
    if (wd.len == 0) return false;
    size_t end = q + wd.len;
    size_t r = SkipSpaces(s_, end);
    if (last && Word(W::kOf, r).len == 0) return false;  // "last friday" alone is the weekday form
    Date month{today_.year, today_.month, 1};
    bool fixed = false;
    if (WordTable::Hit of = Word(W::kOf, r); of.len > 0) {
      size_t t = SkipSpaces(s_, r + of.len);
      if (WordTable::Hit rel = Word(W::kRelativeMonth, t); rel.len > 0) {
        month = AddMonths(month, rel.value);
        fixed = true;
        end = t + rel.len;
      } else if (WordTable::Hit name = Word(W::kMonthName, t); name.len > 0) {
        auto d = YearFor(name.value, 1);
        if (!d) return false;
        month = Date{d->year, name.value, 1};
        fixed = true;
        end = t + name.len;
      }
    }
    if (last && !fixed) return false;
    auto d = NthWeekday(month.year, month.month, wd.value, nth.value);
    if (!d) return Reject(end);
    if (!fixed && *d > today_) {
      Date prev = AddMonths(month, -1);
      d = NthWeekday(prev.year, prev.month, wd.value, nth.value);
      if (!d) return Reject(end);
    }
    return Set(m, *d, end);
  }

  // ---- Holidays: 双十一, Black Friday 2010, 国庆节, 春节, the independence day of this year ----
  bool Holiday(size_t pos, std::optional<int> year, DateMention* m) {
    WordTable::Hit name = Word(W::kNotDate, pos).len ? WordTable::Hit{} : v_.holiday_names.Match(s_, pos);
    if (name.len == 0) return false;
    size_t end = pos + name.len;
    if (IsDigit(s_[pos]) && (FigureAfter(end) || CurrencyBefore(pos))) return false;  // 618元 is an amount
    const rd::Holiday& h = v_.holidays[static_cast<size_t>(name.value)];
    size_t q = SkipSpaces(s_, end);
    if (!year) {
      Num y = q < s_.size() && IsDigit(s_[q]) ? ReadDigits(s_, q, 4) : Num{};
      size_t r = q;
      if (WordTable::Hit of = Word(W::kOf, q); of.len > 0) r = SkipSpaces(s_, q + of.len);
      WordTable::Hit rel = Word(W::kRelativeYear, r);
      if (y.len == 4 && (q + 4 >= s_.size() || !IsAlnum(s_[q + 4]))) {
        year = y.value;
        end = q + 4;
      } else if (rel.len > 0 && IsLetter(s_[r])) {
        year = today_.year + rel.value;
        end = r + rel.len;
      }
    }
    if (year) {
      auto d = v_.HolidayIn(h, *year);
      return d ? Set(m, *d, end) : Reject(end);
    }
    for (int y = today_.year; y > today_.year - 3; --y) {
      auto d = v_.HolidayIn(h, y);
      if (d && *d <= today_) return Set(m, *d, end);
    }
    return false;
  }

  // ---- Forms that start with a letter ----
  bool English(size_t pos, DateMention* m) {
    if (MonthName(pos, m)) return true;
    if (WordTable::Hit day = Word(W::kDay, pos); day.len > 0) {
      size_t end = pos + day.len;
      // A phrase such as "last day" followed by "of" names another day: "the last day of the trial".
      bool phrase = s_.substr(pos, day.len).find(' ') != std::string_view::npos;
      if (phrase && Word(W::kOf, SkipSpaces(s_, end)).len > 0) return false;
      return Set(m, today_.AddDays(day.value), end);
    }
    if (WordTable::Hit next = Word(W::kDayAfterMention, pos); next.len > 0) {
      return Set(m, Anchor().AddDays(next.value), pos + next.len);
    }
    if (WordTable::Hit same = Word(W::kSameDay, pos); same.len > 0 && anchor_) return Set(m, *anchor_, pos + same.len);
    if (InCount(pos, m) || RelativeWeekForm(pos, m)) return true;
    if (WordTable::Hit rel = Word(W::kRelativeMonth, pos); rel.len > 0 && rel.value != 0) {
      return Set(m, AddMonths(today_, rel.value), pos + rel.len);
    }
    if (OrdinalWeekday(pos, m) || Modified(pos, m) || The(pos, m) || OrdinalOfMonth(pos, m)) return true;
    if (WordTable::Hit wd = Word(W::kWeekdayName, pos); wd.len >= 6) return WeekdayForm(pos, 3, m);  // Friday
    else if (wd.len > 0) {  // an abbreviation (sat, wed) only with a week or a date after it
      DateMention tmp;
      if (!WeekdayForm(pos, 3, &tmp) || tmp.end == pos + wd.len) return false;
      *m = tmp;
      return true;
    }
    return MonthPart(pos, m);
  }

  // in 3 days / in a week / in two months
  bool InCount(size_t pos, DateMention* m) {
    WordTable::Hit in = Word(W::kIn, pos);
    if (in.len == 0) return false;
    size_t q = SkipSpaces(s_, pos + in.len);
    Num count = Count(q);
    if (count.len == 0) return false;
    size_t r = SkipSpaces(s_, q + count.len);
    WordTable::Hit unit = Word(W::kUnit, r);
    if (unit.len == 0 || !IsLetter(s_[r])) return false;
    return Set(m, Shift(today_, count.value, unit.value), r + unit.len);
  }

  // last/this/next/coming/on + weekday; "next 5/12" (the first one after today); "on 15".
  bool Modified(size_t pos, DateMention* m) {
    WordTable::Hit mod = Word(W::kWeekdayModifier, pos);
    if (mod.len == 0) return false;
    size_t q = SkipSpaces(s_, pos + mod.len);
    if (WeekdayForm(q, mod.value, m)) return true;
    if (q >= s_.size()) return false;
    DateMention tmp;
    size_t saved = rejected_end_;
    yearless_ = false;
    bool dated = (IsDigit(s_[q]) && Numeric(q, &tmp)) || MonthName(q, &tmp);
    rejected_end_ = saved;
    if (dated) {
      if (mod.value == 1 && yearless_ && tmp.date <= today_) tmp.date = AddMonths(tmp.date, 12);
      return Set(m, tmp.date, tmp.end);
    }
    if (Word(W::kOn, pos).len > 0 && q < s_.size() && IsDigit(s_[q])) {  // on 15, on 2nd
      Num day = EnglishDay(q, false);
      if (day.len == 0 || (PlainDigits(q, day) && !ClauseEnds(q + day.len))) return false;
      auto d = MonthFor(day.value);
      return d && Set(m, *d, q + day.len);
    }
    return false;
  }

  // the 5th [of November | of last month], the 27 (ending a clause), the second, the thirty.
  bool The(size_t pos, DateMention* m) {
    WordTable::Hit the = Word(W::kThe, pos);
    if (the.len == 0) return false;
    size_t q = SkipSpaces(s_, pos + the.len);
    if (OrdinalWeekday(q, m) || MonthPart(pos, m)) return true;
    Num day = EnglishDay(q, true);
    if (day.len == 0) return false;
    size_t end = q + day.len;
    DateMention tmp;
    size_t saved = rejected_end_;
    if (DayThenMonth(day.value, end, &tmp)) return Set(m, tmp.date, tmp.end);
    if (rejected_end_ > saved) return false;
    bool suffixed = IsDigit(s_[q]) && !PlainDigits(q, day);
    if (!suffixed && !ClauseEnds(end)) return false;  // "the first time", "the 5 lines" are no dates
    auto d = MonthFor(day.value);
    return d && Set(m, *d, end);
  }

  // "second of Aug.", "twenty second of June".
  bool OrdinalOfMonth(size_t pos, DateMention* m) {
    Num day = EnglishNumber(pos, W::kOrdinal);
    if (day.len == 0) return false;
    size_t q = SkipSpaces(s_, pos + day.len);
    if (Word(W::kOf, q).len == 0) return false;
    return DayThenMonth(day.value, q, m);
  }

  // the beginning / end of last month, early last month.
  bool MonthPart(size_t pos, DateMention* m) {
    WordTable::Hit part = Word(W::kMonthPart, pos);
    if (part.len == 0 || !IsLetter(s_[pos])) return false;
    size_t q = SkipSpaces(s_, pos + part.len);
    if (WordTable::Hit name = Word(W::kMonthName, q); name.len > 0) {  // the end of October
      return MonthPartOf(name.value, q + name.len, m, part.value);
    }
    WordTable::Hit rel = Word(W::kRelativeMonth, q);
    if (rel.len == 0) return false;
    Date first = AddMonths(Date{today_.year, today_.month, 1}, rel.value);
    Date d = part.value == 31 ? LastDayOfMonth(first.year, first.month) : Date{first.year, first.month, part.value};
    return Set(m, d, q + rel.len);
  }

  // ---- "3 days ago", "a week later", "two days from tomorrow", "two sundays from now", "三天前" ----
  bool Relative(size_t pos, DateMention* m) {
    int n = 1, unit = 1, weekday = 0;
    size_t p = pos;
    if (WordTable::Hit span = Word(W::kSpan, pos); span.len > 0) {
      unit = span.value;
      p += span.len;
    } else {
      Num count = Count(pos);
      if (count.len == 0) return false;
      n = count.value;
      size_t q = SkipSpaces(s_, pos + count.len);
      WordTable::Hit u = Word(W::kUnit, q);
      if (u.len == 0 && IsLetter(s_[pos]) == IsLetter(q < s_.size() ? s_[q] : ' ')) {
        u = Word(W::kWeekdayName, q);  // two sundays from now
        weekday = u.value;
      }
      if (u.len == 0) return false;
      unit = u.value;
      p = q + u.len;
    }
    size_t q = p < s_.size() && static_cast<unsigned char>(s_[p]) >= 0x80 ? p : SkipSpaces(s_, p);
    WordTable::Hit dir = Word(W::kDirection, q);
    if (dir.len == 0) return false;
    size_t end = q + dir.len;
    size_t r = SkipSpaces(s_, end);
    WordTable::Hit from = IsLetter(s_[q]) ? Word(W::kDay, r) : WordTable::Hit{};
    Date base = from.len > 0 ? today_.AddDays(from.value) : (dir.value == -1 ? today_ : Anchor());
    if (from.len > 0) end = r + from.len;
    int step = dir.value < 0 ? -1 : 1;
    if (weekday == 0) return Set(m, Shift(base, step * n, unit), end);
    // the nth such weekday after (before) the base day
    Date d = base;
    for (int found = 0; found < n;) {
      d = d.AddDays(step);
      if (Weekday(d) == weekday) ++found;
    }
    return Set(m, d, end);
  }

  // ---- Forms that start with a Chinese character ----
  bool Chinese(size_t pos, DateMention* m) {
    if (WordTable::Hit day = Word(W::kDay, pos); day.len > 0) return Set(m, today_.AddDays(day.value), pos + day.len);
    if (WordTable::Hit next = Word(W::kDayAfterMention, pos); next.len > 0) {
      return Set(m, Anchor().AddDays(next.value), pos + next.len);
    }
    if (WordTable::Hit same = Word(W::kSameDay, pos); same.len > 0) return anchor_ && Set(m, *anchor_, pos + same.len);
    if (WordTable::Hit passed = Word(W::kZhPassed, pos); passed.len > 0) {  // 过了一周: from the date just mentioned
      size_t q = pos + passed.len;
      Num count = Count(q);
      WordTable::Hit unit = count.len ? Word(W::kUnit, q + count.len) : WordTable::Hit{};
      if (unit.len > 0) return Set(m, Shift(Anchor(), count.value, unit.value), q + count.len + unit.len);
    }
    if (ChineseWeek(pos, m)) return true;
    if (WordTable::Hit year = Word(W::kRelativeYear, pos); year.len > 0) {
      return ChineseAfterYear(today_.year + year.value, pos + year.len, m);
    }
    if (ChineseRelativeMonth(pos, today_.year, m)) return true;
    if (WordTable::Hit marker = Word(W::kLunarMarker, pos); marker.len > 0) return LunarForm(pos + marker.len, m);
    if (WordTable::Hit name = Word(W::kLunarMonth, pos); name.len > 0) {
      return ChineseMonthDay(name.value, pos + name.len, true, m);
    }
    Num n = ChineseNumber(pos);
    if (n.len == 0) return false;
    size_t q = pos + n.len;
    if (WordTable::Hit y = Word(W::kZhYear, q); y.len > 0 && (n.digits >= 2 || n.value >= 1000)) {
      return ChineseAfterYear(n.digits == 2 ? TwoDigitYear(n.value) : n.value, q + y.len, m);
    }
    if (WordTable::Hit mo = Word(W::kZhMonth, q); mo.len > 0) return ChineseMonthDay(n.value, q + mo.len, false, m);
    if (WordTable::Hit d = Word(W::kZhDay, q); d.len > 0 && Word(W::kZhDayBlocker, q + d.len).len == 0) {
      auto date = MonthFor(n.value);
      return date && Set(m, *date, q + d.len);
    }
    return false;
  }

  // After 农历: [2015年] 十月初一.
  bool LunarForm(size_t q, DateMention* m) {
    q = SkipSpaces(s_, q);
    Num year = AnyNumber(q, 4);
    if (year.len > 0 && Word(W::kZhYear, q + year.len).len > 0 && (year.digits >= 3 || year.value >= 1000)) {
      return ChineseYearMonthDay(year.value, q + year.len + Word(W::kZhYear, q + year.len).len, true, m);
    }
    if (WordTable::Hit name = Word(W::kLunarMonth, q); name.len > 0) return ChineseMonthDay(name.value, q + name.len, true, m);
    Num month = AnyNumber(q, 2);
    WordTable::Hit mo = month.len ? Word(W::kZhMonth, q + month.len) : WordTable::Hit{};
    if (mo.len == 0) return false;
    return ChineseMonthDay(month.value, q + month.len + mo.len, true, m);
  }

  // After a year (去年, 2016年, 一六年): 12月5日, 本月十日, 国庆, 的今天.
  bool ChineseAfterYear(int year, size_t q, DateMention* m) {
    q = SkipSpaces(s_, q);
    size_t r = q + Word(W::kZhOf, q).len;
    if (ChineseRelativeMonth(r, year, m) || Holiday(r, year, m)) return true;
    if (WordTable::Hit day = Word(W::kDay, r); day.len > 0 && day.value == 0 && !IsLetter(s_[r])) {  // 去年的今天
      if (!Date::IsValid(year, today_.month, today_.day)) return Reject(r + day.len);
      return Set(m, Date{year, today_.month, today_.day}, r + day.len);
    }
    return ChineseYearMonthDay(year, q, false, m);
  }

  // 上个月15号, 上月底, 本月初, 下个月; in `year` (去年本月十日) or this one.
  bool ChineseRelativeMonth(size_t pos, int year, DateMention* m) {
    WordTable::Hit rel = Word(W::kRelativeMonth, pos);
    if (rel.len == 0 || IsLetter(s_[pos])) return false;
    Date first = AddMonths(Date{year, today_.month, 1}, rel.value);
    size_t q = SkipSpaces(s_, pos + rel.len);
    if (WordTable::Hit of = Word(W::kZhOf, q); of.len > 0) q += of.len;
    if (WordTable::Hit part = Word(W::kMonthPart, q); part.len > 0 && !IsLetter(s_[q])) {
      Date d = part.value == 31 ? LastDayOfMonth(first.year, first.month) : Date{first.year, first.month, part.value};
      return Set(m, d, q + part.len);
    }
    Num day = AnyNumber(q, 2);
    WordTable::Hit unit = day.len ? Word(W::kZhDay, q + day.len) : WordTable::Hit{};
    bool numeral_day = day.len > 0 && !IsDigit(s_[q]) && day.digits <= 1 && Word(W::kUnit, q + day.len).len == 0;
    if (unit.len > 0 || numeral_day) {  // 上个月15号, 本月十五 (not 上个月三天)
      if (!Date::IsValid(first.year, first.month, day.value)) return Reject(q + day.len + unit.len);
      return Set(m, Date{first.year, first.month, day.value}, q + day.len + unit.len);
    }
    if (rel.value == 0 || year != today_.year) return false;
    return Set(m, AddMonths(today_, rel.value), pos + rel.len);  // 上个月 alone: the same day that month
  }

  // 上周三, 上个星期五, 本周二, 下周一, 上周末, 上周; 周三 / 星期天 alone (the most recent one).
  bool ChineseWeek(size_t pos, DateMention* m) {
    WordTable::Hit rel = Word(W::kRelativeWeek, pos);
    bool bare = false;
    if (rel.len == 0 || IsLetter(s_[pos])) {
      rel = Word(W::kZhWeek, pos);
      if (rel.len == 0 || v_[W::kZhWeekCount].EndsAt(s_, pos)) return false;  // 两周, 每周: a count of weeks
      bare = true;
    }
    size_t p = pos + rel.len;
    if (!bare) {
      if (WordTable::Hit end = Word(W::kZhWeekend, p); end.len > 0) return Set(m, InWeek(rel.value, end.value), p + end.len);
    }
    WordTable::Hit wd = Word(W::kZhWeekday, p);
    if (wd.len == 0 && IsDigit(p < s_.size() ? s_[p] : ' ')) {  // 周3
      Num n = ReadDigits(s_, p, 1);
      if (n.value >= 1 && n.value <= 7) wd = {n.value, n.len};
    }
    if (wd.len > 0 && Word(W::kZhWeekdayBlocker, p).len > 0) wd = {};  // 周一直卡
    if (wd.len > 0) {
      if (bare) return Set(m, today_.AddDays(-((Weekday(today_) - wd.value + 7) % 7)), p + wd.len);
      return Set(m, InWeek(rel.value, wd.value), p + wd.len);
    }
    if (bare || rel.value == 0) return false;
    return Set(m, today_.AddDays(7 * rel.value), p);  // 上周 alone
  }

  std::string_view s_;
  Date today_;
  DateOptions options_;
  const DateVocabulary& v_;
  std::optional<Date> anchor_;
  size_t rejected_end_ = 0;  // end of a date-shaped span whose date does not exist (2月30日)
  // One writer uses one numeric order in a message: when a date there can only be read one way
  // (28/02/2026), the message's ambiguous ones (02/03/2026) are read the same way.
  bool ambiguous_ = false;                  // the date just read has two numeric readings
  bool ambiguous_read_day_first_ = false;   // ... and was read day first
  std::optional<bool> forced_day_first_;    // a date of the message could only be read this way
  std::map<size_t, bool> ambiguous_found_;  // index in the result -> read day first
  bool yearless_ = false;    // the last month and day read took their year from today ("next 5/12")
};

}  // namespace

std::vector<DateMention> FindDates(std::string_view s, Date today, const DateOptions& options) {
  return Scanner(s, today, options).Run();
}

}  // namespace rd
