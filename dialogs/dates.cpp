#include "dialogs/dates.h"

#include <algorithm>
#include <array>
#include <cstdio>
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

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLetter(char c) { return c >= 'a' && c <= 'z'; }

bool At(std::string_view s, size_t pos, std::string_view lit) {
  return pos <= s.size() && s.size() - pos >= lit.size() && s.compare(pos, lit.size(), lit) == 0;
}

// `lit` at pos as a whole English word (no letter or digit right after it).
bool WordAt(std::string_view s, size_t pos, std::string_view lit) {
  if (!At(s, pos, lit)) return false;
  size_t end = pos + lit.size();
  return end >= s.size() || !IsAsciiAlnum(s[end]);
}

size_t SkipSpaces(std::string_view s, size_t pos) {
  while (pos < s.size() && s[pos] == ' ') ++pos;
  return pos;
}

struct Num {
  int value = 0;
  size_t len = 0;  // 0: no number here
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
  return n;
}

// Chinese numerals: 五, 十一, 二十, 三十一, 廿三, 两, and digit-by-digit years 二〇二六 / 二零二六.
Num ReadChineseNumeral(std::string_view s, size_t pos) {
  static constexpr std::string_view kDigits[] = {"〇", "零", "一", "二", "两", "三", "四", "五", "六", "七", "八", "九"};
  static constexpr int kValues[] = {0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<int> digits;  // -1 marks 十, -2 廿 (20), -3 卅 (30)
  size_t i = pos;
  while (i < s.size() && digits.size() < 6) {
    bool found = false;
    for (size_t k = 0; k < 12; ++k) {
      if (At(s, i, kDigits[k])) { digits.push_back(kValues[k]); i += 3; found = true; break; }
    }
    if (found) continue;
    if (At(s, i, "十")) { digits.push_back(-1); i += 3; continue; }
    if (At(s, i, "廿")) { digits.push_back(-2); i += 3; continue; }
    if (At(s, i, "卅")) { digits.push_back(-3); i += 3; continue; }
    break;
  }
  if (digits.empty()) return {};
  Num n;
  n.len = i - pos;
  auto tens = std::find_if(digits.begin(), digits.end(), [](int d) { return d < 0; });
  if (tens == digits.end()) {
    for (int d : digits) n.value = n.value * 10 + d;  // positional: 二〇二六, or a single digit
    return n;
  }
  if (std::count_if(digits.begin(), digits.end(), [](int d) { return d < 0; }) > 1) return {};
  size_t t = static_cast<size_t>(tens - digits.begin());
  int base = *tens == -1 ? 10 : (*tens == -2 ? 20 : 30);
  if (*tens == -1) {
    if (t > 1) return {};
    base = t == 1 ? digits[0] * 10 : 10;
  } else if (t != 0) {
    return {};
  }
  if (digits.size() > t + 2) return {};
  n.value = base + (digits.size() == t + 2 ? digits[t + 1] : 0);
  return n;
}

struct Word { std::string_view text; int value; };
constexpr Word kCardinals[] = {
    {"thirty one", 31}, {"thirty-one", 31}, {"thirty", 30}, {"twenty one", 21}, {"twenty-one", 21},
    {"twenty two", 22}, {"twenty-two", 22}, {"twenty three", 23}, {"twenty-three", 23}, {"twenty four", 24},
    {"twenty-four", 24}, {"twenty five", 25}, {"twenty-five", 25}, {"twenty six", 26}, {"twenty-six", 26},
    {"twenty seven", 27}, {"twenty-seven", 27}, {"twenty eight", 28}, {"twenty-eight", 28},
    {"twenty nine", 29}, {"twenty-nine", 29}, {"twenty", 20}, {"nineteen", 19}, {"eighteen", 18},
    {"seventeen", 17}, {"sixteen", 16}, {"fifteen", 15}, {"fourteen", 14}, {"thirteen", 13}, {"twelve", 12},
    {"eleven", 11}, {"ten", 10}, {"nine", 9}, {"eight", 8}, {"seven", 7}, {"six", 6}, {"five", 5},
    {"four", 4}, {"three", 3}, {"two", 2}, {"one", 1}, {"a couple of", 2}, {"couple of", 2}, {"a few", 3},
    {"an", 1}, {"a", 1}};
constexpr Word kOrdinals[] = {
    {"thirty-first", 31}, {"thirty first", 31}, {"thirtieth", 30}, {"twenty-first", 21}, {"twenty first", 21},
    {"twenty-second", 22}, {"twenty second", 22}, {"twenty-third", 23}, {"twenty third", 23},
    {"twenty-fourth", 24}, {"twenty fourth", 24}, {"twenty-fifth", 25}, {"twenty fifth", 25},
    {"twenty-sixth", 26}, {"twenty sixth", 26}, {"twenty-seventh", 27}, {"twenty seventh", 27},
    {"twenty-eighth", 28}, {"twenty eighth", 28}, {"twenty-ninth", 29}, {"twenty ninth", 29},
    {"twentieth", 20}, {"nineteenth", 19}, {"eighteenth", 18}, {"seventeenth", 17}, {"sixteenth", 16},
    {"fifteenth", 15}, {"fourteenth", 14}, {"thirteenth", 13}, {"twelfth", 12}, {"eleventh", 11},
    {"tenth", 10}, {"ninth", 9}, {"eighth", 8}, {"seventh", 7}, {"sixth", 6}, {"fifth", 5}, {"fourth", 4},
    {"third", 3}, {"second", 2}, {"first", 1}};

Num ReadWord(std::string_view s, size_t pos, const Word* words, size_t count) {
  if (pos > 0 && IsAsciiAlnum(s[pos - 1])) return {};
  for (size_t i = 0; i < count; ++i) {
    if (WordAt(s, pos, words[i].text)) return {words[i].value, words[i].text.size()};
  }
  return {};
}

// A count for "3 days ago": digits, an English number word or a Chinese numeral.
Num ReadCount(std::string_view s, size_t pos) {
  if (pos < s.size() && IsDigit(s[pos])) {
    if (pos > 0 && IsDigit(s[pos - 1])) return {};
    return ReadDigits(s, pos, 3);
  }
  if (pos < s.size() && IsLetter(s[pos])) return ReadWord(s, pos, kCardinals, std::size(kCardinals));
  return ReadChineseNumeral(s, pos);
}

// A day of the month: "5", "5th", "fifth", "21st".
Num ReadEnglishDay(std::string_view s, size_t pos) {
  if (pos < s.size() && IsDigit(s[pos])) {
    if (pos > 0 && IsDigit(s[pos - 1])) return {};
    Num n = ReadDigits(s, pos, 2);
    if (n.len == 0) return {};
    size_t end = pos + n.len;
    for (std::string_view suf : {"st", "nd", "rd", "th"}) {
      if (At(s, end, suf)) { end += 2; break; }
    }
    if (end < s.size() && IsAsciiAlnum(s[end])) return {};
    n.len = end - pos;
    return n;
  }
  return ReadWord(s, pos, kOrdinals, std::size(kOrdinals));
}

struct MonthName { std::string_view name; int month; };
constexpr MonthName kMonths[] = {
    {"january", 1}, {"february", 2}, {"march", 3}, {"april", 4}, {"june", 6}, {"july", 7}, {"august", 8},
    {"september", 9}, {"october", 10}, {"november", 11}, {"december", 12}, {"sept", 9}, {"jan", 1},
    {"feb", 2}, {"mar", 3}, {"apr", 4}, {"may", 5}, {"jun", 6}, {"jul", 7}, {"aug", 8}, {"sep", 9},
    {"oct", 10}, {"nov", 11}, {"dec", 12}};

size_t ReadMonthName(std::string_view s, size_t pos, int* month) {
  if (pos > 0 && IsAsciiAlnum(s[pos - 1])) return 0;
  for (const auto& m : kMonths) {
    if (!WordAt(s, pos, m.name)) continue;
    *month = m.month;
    size_t end = pos + m.name.size();
    if (end < s.size() && s[end] == '.') ++end;
    return end - pos;
  }
  return 0;
}

struct WeekdayName { std::string_view name; int day; };
constexpr WeekdayName kWeekdays[] = {
    {"monday", 1}, {"tuesday", 2}, {"wednesday", 3}, {"thursday", 4}, {"friday", 5}, {"saturday", 6},
    {"sunday", 7}, {"mon", 1}, {"tues", 2}, {"tue", 2}, {"wed", 3}, {"thurs", 4}, {"thu", 4}, {"fri", 5},
    {"sat", 6}, {"sun", 7}};

size_t ReadWeekdayName(std::string_view s, size_t pos, int* day) {
  for (const auto& w : kWeekdays) {
    if (WordAt(s, pos, w.name)) { *day = w.day; return w.name.size(); }
  }
  return 0;
}

// 一..六, 日/天/七 after 周/星期/礼拜; also digits 1..7.
size_t ReadChineseWeekday(std::string_view s, size_t pos, int* day) {
  static constexpr std::string_view kNames[] = {"一", "二", "三", "四", "五", "六", "日", "天", "七"};
  static constexpr int kDays[] = {1, 2, 3, 4, 5, 6, 7, 7, 7};
  for (size_t i = 0; i < std::size(kNames); ++i) {
    if (At(s, pos, kNames[i])) { *day = kDays[i]; return 3; }
  }
  if (pos < s.size() && s[pos] >= '1' && s[pos] <= '7' && (pos + 1 >= s.size() || !IsDigit(s[pos + 1]))) {
    *day = s[pos] - '0';
    return 1;
  }
  return 0;
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

enum class Unit { kDay, kWeek, kMonth, kYear };

Date Shift(Date d, int n, Unit u) {
  switch (u) {
    case Unit::kDay: return d.AddDays(n);
    case Unit::kWeek: return d.AddDays(7 * int64_t{n});
    case Unit::kMonth: return AddMonths(d, n);
    case Unit::kYear: return AddMonths(d, 12 * n);
  }
  return d;
}

// "days", "week", "fortnight" -> unit and multiplier.
size_t ReadEnglishUnit(std::string_view s, size_t pos, Unit* unit, int* factor) {
  struct U { std::string_view w; Unit u; int f; };
  static constexpr U kUnits[] = {{"days", Unit::kDay, 1}, {"day", Unit::kDay, 1}, {"weeks", Unit::kWeek, 1},
                                 {"week", Unit::kWeek, 1}, {"fortnight", Unit::kDay, 14},
                                 {"months", Unit::kMonth, 1}, {"month", Unit::kMonth, 1},
                                 {"years", Unit::kYear, 1}, {"year", Unit::kYear, 1}};
  for (const auto& u : kUnits) {
    if (WordAt(s, pos, u.w)) { *unit = u.u; *factor = u.f; return u.w.size(); }
  }
  return 0;
}

size_t ReadChineseUnit(std::string_view s, size_t pos, Unit* unit) {
  struct U { std::string_view w; Unit u; };
  static constexpr U kUnits[] = {{"个星期", Unit::kWeek}, {"个礼拜", Unit::kWeek}, {"个月", Unit::kMonth},
                                 {"星期", Unit::kWeek}, {"礼拜", Unit::kWeek}, {"天", Unit::kDay},
                                 {"日", Unit::kDay}, {"周", Unit::kWeek}, {"年", Unit::kYear}};
  for (const auto& u : kUnits) {
    if (At(s, pos, u.w)) { *unit = u.u; return u.w.size(); }
  }
  return 0;
}

// Cheap filters so the scanner tries its forms only where one can start: most characters and words
// of a message start none (the forms themselves are a hundred literal comparisons).
bool CanStartChinese(std::string_view s, size_t pos) {
  static const std::unordered_set<std::string_view> kStarts = [] {
    std::unordered_set<std::string_view> set;
    static constexpr std::string_view kAll =
        "大前昨今明后第次隔转过当同上下这本星礼周去现一二三四五六七八九十〇零两廿卅半";
    for (size_t i = 0; i + 3 <= kAll.size(); i += 3) set.insert(kAll.substr(i, 3));
    return set;
  }();
  return pos + 3 <= s.size() && kStarts.count(s.substr(pos, 3)) > 0;
}

bool CanStartEnglish(std::string_view s, size_t pos) {
  static const std::unordered_set<std::string_view> kStarts = [] {
    std::unordered_set<std::string_view> set;
    for (const auto& m : kMonths) set.insert(m.name);
    for (const auto& w : kWeekdays) set.insert(w.name);
    for (const auto& c : kCardinals) set.insert(c.text.substr(0, c.text.find_first_of(" -")));
    for (std::string_view w : {"today", "yesterday", "tomorrow", "the", "day", "next", "same", "that", "last", "this",
                               "past", "on", "previous", "beginning", "start", "early", "end", "late", "in", "coming",
                               "right", "now", "tonight"}) {
      set.insert(w);
    }
    return set;
  }();
  size_t end = pos;
  while (end < s.size() && IsLetter(s[end])) ++end;
  return kStarts.count(s.substr(pos, end - pos)) > 0;
}

class Scanner {
 public:
  Scanner(std::string_view s, Date today, const DateOptions& options)
      : s_(s), today_(today), options_(options), anchor_(options.anchor) {}

  std::vector<DateMention> Run() {
    std::vector<DateMention> found;
    for (size_t pos = 0; pos < s_.size();) {
      char c = s_[pos];
      bool ascii_start = IsAsciiAlnum(c) && (pos == 0 || !IsAsciiAlnum(s_[pos - 1])) &&
                         (IsDigit(c) || CanStartEnglish(s_, pos));
      bool cjk_start = static_cast<unsigned char>(c) >= 0xE0 && CanStartChinese(s_, pos);
      DateMention m;
      rejected_end_ = 0;
      if ((ascii_start || cjk_start) && Match(pos, &m)) {
        m.begin = pos;
        found.push_back(m);
        anchor_ = m.date;
        pos = std::max(m.end, pos + 1);
        continue;
      }
      if (rejected_end_ > pos) {  // a date with an impossible day: none of its parts is a date either
        pos = rejected_end_;
        continue;
      }
      if (IsAsciiAlnum(c)) {
        while (pos < s_.size() && IsAsciiAlnum(s_[pos])) ++pos;  // matches start only at word starts
      } else {
        unsigned char u = static_cast<unsigned char>(c);
        pos += u < 0x80 ? 1 : (u >= 0xF0 ? 4 : (u >= 0xE0 ? 3 : 2));
      }
    }
    return found;
  }

 private:
  bool Match(size_t pos, DateMention* m) {
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

  // The most recent (month, day) not after today — or, right after another date, the first one from
  // that date on (so "Dec 28 ... Jan 3" crosses the year the customer meant).
  std::optional<Date> YearFor(int month, int day) {
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
  // keeps the order, else the most recent such day not after today.
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

  // ---- Forms that start with a digit ----
  bool Numeric(size_t pos, DateMention* m) {
    if (pos > 0 && (s_[pos - 1] == '.' || s_[pos - 1] == '/' || s_[pos - 1] == '-')) return false;
    Num first = ReadDigits(s_, pos, 4);
    if (first.len == 0) return false;
    size_t p = pos + first.len;
    if (first.len == 4) return YearFirst(first.value, p, m);
    if (first.len > 2) return false;
    // 11/5/2026, 5.11.2026, 11/5, 11-05-2026
    if (p < s_.size() && (s_[p] == '/' || s_[p] == '.' || s_[p] == '-')) return NumericDayMonth(first.value, p, m);
    p = SkipSpaces(s_, p);  // "11 月 5 日"
    // 11月5日
    if (At(s_, p, "月")) {
      size_t q = SkipSpaces(s_, p + 3);
      Num day = IsDigit(q < s_.size() ? s_[q] : ' ') ? ReadDigits(s_, q, 2) : ReadChineseNumeral(s_, q);
      if (day.len == 0) return false;
      size_t end = q + day.len;
      size_t unit = SkipSpaces(s_, end);
      if (At(s_, unit, "日") || At(s_, unit, "号")) end = unit + 3;
      auto d = YearFor(first.value, day.value);
      return d ? Set(m, *d, end) : Reject(end);
    }
    // 5号 / 5日 (bare day), but not 5号线, 5日内 ...
    if (At(s_, p, "号") || At(s_, p, "日")) {
      size_t end = p + 3;
      for (std::string_view no : {"线", "楼", "机", "房", "码", "内", "以内", "之内", "起"}) {
        if (At(s_, end, no)) return false;
      }
      auto d = MonthFor(first.value);
      return d && Set(m, *d, end);
    }
    // 5 Nov 2026, 5th of November, 15th of last month
    Num day = ReadEnglishDay(s_, pos);
    if (day.len > 0) return DayThenMonth(day.value, pos + day.len, m);
    return false;
  }

  bool YearFirst(int year, size_t p, DateMention* m) {
    if (p < s_.size() && (s_[p] == '-' || s_[p] == '/' || s_[p] == '.')) {
      char sep = s_[p];
      Num month = ReadDigits(s_, p + 1, 2);
      if (month.len == 0 || p + 1 + month.len >= s_.size() || s_[p + 1 + month.len] != sep) return false;
      Num day = ReadDigits(s_, p + 2 + month.len, 2);
      if (day.len == 0) return false;
      size_t end = p + 2 + month.len + day.len;
      if (!Date::IsValid(year, month.value, day.value)) return false;
      return Set(m, Date{year, month.value, day.value}, end);
    }
    if (At(s_, p, "年")) return ChineseYearMonthDay(year, p + 3, m);
    return false;
  }

  // After "2026年": 11月5日, 十一月五号.
  bool ChineseYearMonthDay(int year, size_t q, DateMention* m) {
    q = SkipSpaces(s_, q);
    Num month = q < s_.size() && IsDigit(s_[q]) ? ReadDigits(s_, q, 2) : ReadChineseNumeral(s_, q);
    size_t month_unit = SkipSpaces(s_, q + month.len);
    if (month.len == 0 || !At(s_, month_unit, "月")) return false;
    if (month.value < 1 || month.value > 12) {  // 2026年13月1日: skip the whole thing
      size_t r = SkipSpaces(s_, month_unit + 3);
      Num day = r < s_.size() && IsDigit(s_[r]) ? ReadDigits(s_, r, 2) : ReadChineseNumeral(s_, r);
      size_t end = r + day.len;
      if (At(s_, end, "日") || At(s_, end, "号")) end += 3;
      return Reject(end);
    }
    size_t r = SkipSpaces(s_, month_unit + 3);
    Num day = r < s_.size() && IsDigit(s_[r]) ? ReadDigits(s_, r, 2) : ReadChineseNumeral(s_, r);
    if (day.len == 0) return false;
    size_t end = r + day.len;
    size_t day_unit = SkipSpaces(s_, end);
    if (At(s_, day_unit, "日") || At(s_, day_unit, "号")) end = day_unit + 3;
    if (!Date::IsValid(year, month.value, day.value)) return Reject(end);
    return Set(m, Date{year, month.value, day.value}, end);
  }

  bool NumericDayMonth(int first, size_t p, DateMention* m) {
    char sep = s_[p];
    Num second = ReadDigits(s_, p + 1, 2);
    if (second.len == 0) return false;
    size_t q = p + 1 + second.len;
    int year = 0;
    size_t end = q;
    bool has_year = false;
    if (q < s_.size() && s_[q] == sep) {
      Num y = ReadDigits(s_, q + 1, 4);
      if (y.len != 4 && y.len != 2) return false;
      year = y.len == 2 ? 2000 + y.value : y.value;
      end = q + 1 + y.len;
      has_year = true;
    } else if (sep != '/') {
      return false;  // "11-05" or "5.11" without a year is too often something else
    }
    if (end < s_.size() && (IsAsciiAlnum(s_[end]) || s_[end] == '%' || s_[end] == '/')) return false;
    if (!has_year) {  // 11/5: month first in both languages
      auto d = YearFor(first, second.value);
      return d && Set(m, *d, end);
    }
    bool day_first = sep == '.' || options_.numeric_order == NumericOrder::kDayFirst;
    bool md = Date::IsValid(year, first, second.value), dm = Date::IsValid(year, second.value, first);
    if (!md && !dm) return false;
    Date primary = day_first ? (dm ? Date{year, second.value, first} : Date{year, first, second.value})
                             : (md ? Date{year, first, second.value} : Date{year, second.value, first});
    Set(m, primary, end);
    if (md && dm && first != second.value && sep != '.') {
      m->alternative = day_first ? Date{year, first, second.value} : Date{year, second.value, first};
    }
    return true;
  }

  // After a day number: "Nov 2026", "of November", "of last month", "of this month".
  bool DayThenMonth(int day, size_t p, DateMention* m) {
    size_t q = SkipSpaces(s_, p);
    if (WordAt(s_, q, "of")) q = SkipSpaces(s_, q + 2);
    if (WordAt(s_, q, "last month") || WordAt(s_, q, "previous month")) {
      Date base = AddMonths(Date{today_.year, today_.month, 1}, -1);
      if (!Date::IsValid(base.year, base.month, day)) return false;
      return Set(m, Date{base.year, base.month, day}, q + (At(s_, q, "last") ? 10 : 14));
    }
    if (WordAt(s_, q, "this month")) {
      if (!Date::IsValid(today_.year, today_.month, day)) return false;
      return Set(m, Date{today_.year, today_.month, day}, q + 10);
    }
    int month = 0;
    size_t ml = ReadMonthName(s_, q, &month);
    if (ml == 0) return false;
    return MonthDayYear(month, day, q + ml, m);
  }

  // ", 2026" / " 2026" after a month and day; resolves the year.
  bool MonthDayYear(int month, int day, size_t p, DateMention* m) {
    size_t q = p;
    if (q < s_.size() && s_[q] == ',') ++q;
    q = SkipSpaces(s_, q);
    Num year = q < s_.size() && IsDigit(s_[q]) ? ReadDigits(s_, q, 4) : Num{};
    if (year.len == 4 && (q + 4 >= s_.size() || !IsAsciiAlnum(s_[q + 4]))) {
      if (!Date::IsValid(year.value, month, day)) return false;
      return Set(m, Date{year.value, month, day}, q + 4);
    }
    auto d = YearFor(month, day);
    return d && Set(m, *d, p);
  }

  // ---- Forms that start with a letter ----
  bool English(size_t pos, DateMention* m) {
    // Nov 5, 2026 / November the 5th / January fifth
    int month = 0;
    if (size_t ml = ReadMonthName(s_, pos, &month)) {
      size_t q = SkipSpaces(s_, pos + ml);
      if (WordAt(s_, q, "the")) q = SkipSpaces(s_, q + 3);
      Num day = ReadEnglishDay(s_, q);
      if (day.len == 0) return false;
      // A day is required, so "may i ask" or "march on" never become dates.
      return MonthDayYear(month, day.value, q + day.len, m);
    }
    if (WordAt(s_, pos, "today")) return Set(m, today_, pos + 5);
    if (WordAt(s_, pos, "yesterday")) return Set(m, today_.AddDays(-1), pos + 9);
    if (WordAt(s_, pos, "tomorrow")) return Set(m, today_.AddDays(1), pos + 8);
    for (std::string_view dby : {"the day before yesterday", "day before yesterday"}) {
      if (WordAt(s_, pos, dby)) return Set(m, today_.AddDays(-2), pos + dby.size());
    }
    for (std::string_view dat : {"the day after tomorrow", "day after tomorrow"}) {
      if (WordAt(s_, pos, dat)) return Set(m, today_.AddDays(2), pos + dat.size());
    }
    for (std::string_view now : {"right now", "now", "tonight", "this morning", "this afternoon", "this evening"}) {
      if (WordAt(s_, pos, now)) return Set(m, today_, pos + now.size());
    }
    if (WordAt(s_, pos, "last night")) return Set(m, today_.AddDays(-1), pos + 10);
    // in 3 days / in a week / in two months
    if (WordAt(s_, pos, "in")) {
      size_t q = SkipSpaces(s_, pos + 2);
      Num count = ReadCount(s_, q);
      if (count.len > 0) {
        Unit unit;
        int factor = 1;
        size_t r = SkipSpaces(s_, q + count.len);
        if (size_t ul = ReadEnglishUnit(s_, r, &unit, &factor)) {
          return Set(m, Shift(today_, count.value * factor, unit), r + ul);
        }
      }
    }
    for (std::string_view next : {"the next day", "the following day", "the day after", "next day"}) {
      if (WordAt(s_, pos, next)) return Set(m, Anchor().AddDays(1), pos + next.size());
    }
    for (std::string_view same : {"the same day", "that same day", "same day"}) {
      if (WordAt(s_, pos, same) && anchor_) return Set(m, *anchor_, pos + same.size());
    }
    // the 5th [of November | of last month]
    if (WordAt(s_, pos, "the")) {
      size_t q = SkipSpaces(s_, pos + 3);
      Num day = ReadEnglishDay(s_, q);
      if (day.len == 0) return false;
      if (IsDigit(s_[q]) && day.len == ReadDigits(s_, q, 2).len) return false;  // "the 5" needs "5th"
      DateMention tmp;
      if (DayThenMonth(day.value, q + day.len, &tmp)) return Set(m, tmp.date, tmp.end);
      if (!IsDigit(s_[q])) return false;  // "the first time" is no date; "the first of May" is
      auto d = MonthFor(day.value);
      return d && Set(m, *d, q + day.len);
    }
    // next monday (Monday of next week), next week, next month
    if (WordAt(s_, pos, "next") || WordAt(s_, pos, "coming") || WordAt(s_, pos, "the coming")) {
      size_t q = SkipSpaces(s_, pos + (At(s_, pos, "the coming") ? 10 : (At(s_, pos, "next") ? 4 : 6)));
      int wd = 0;
      if (size_t wl = ReadWeekdayName(s_, q, &wd)) {
        if (At(s_, pos, "next")) return Set(m, today_.AddDays(-(Weekday(today_) - 1) + 7 + (wd - 1)), q + wl);
        int ahead = (wd - Weekday(today_) + 7) % 7;  // the coming Friday: the next one, today excluded
        return Set(m, today_.AddDays(ahead == 0 ? 7 : ahead), q + wl);
      }
      if (WordAt(s_, q, "week")) return Set(m, today_.AddDays(7), q + 4);
      if (WordAt(s_, q, "month")) return Set(m, AddMonths(today_, 1), q + 5);
    }
    // last/this/past/on + weekday; last week; last month
    for (std::string_view mod : {"last", "this", "past", "on", "previous"}) {
      if (!WordAt(s_, pos, mod)) continue;
      size_t q = SkipSpaces(s_, pos + mod.size());
      int wd = 0;
      if (size_t wl = ReadWeekdayName(s_, q, &wd)) {
        if (mod == "this") return Set(m, today_.AddDays(wd - Weekday(today_)), q + wl);
        int back = (Weekday(today_) - wd + 7) % 7;
        if (mod != "on" && back == 0) back = 7;  // "last monday" on a Monday is a week ago
        Date d = today_.AddDays(-back);
        size_t end = q + wl;
        // "monday last week"
        size_t r = SkipSpaces(s_, end);
        if (mod == "on" && WordAt(s_, r, "last week")) {
          d = today_.AddDays(-(Weekday(today_) - 1) - 7 + (wd - 1));
          end = r + 9;
        }
        return Set(m, d, end);
      }
      if (mod == "last" || mod == "past" || mod == "previous") {
        if (WordAt(s_, q, "week")) return Set(m, today_.AddDays(-7), q + 4);
        if (WordAt(s_, q, "month")) return Set(m, AddMonths(today_, -1), q + 5);
      }
    }
    // monday last week / monday of last week
    int wd = 0;
    if (size_t wl = ReadWeekdayName(s_, pos, &wd)) {
      size_t q = SkipSpaces(s_, pos + wl);
      if (WordAt(s_, q, "of")) q = SkipSpaces(s_, q + 2);
      if (WordAt(s_, q, "last week")) {
        return Set(m, today_.AddDays(-(Weekday(today_) - 1) - 7 + (wd - 1)), q + 9);
      }
      return false;
    }
    // beginning / end of last month
    for (std::string_view edge : {"the beginning of last month", "beginning of last month", "the start of last month",
                                  "start of last month", "early last month"}) {
      if (WordAt(s_, pos, edge)) {
        Date b = AddMonths(Date{today_.year, today_.month, 1}, -1);
        return Set(m, b, pos + edge.size());
      }
    }
    for (std::string_view edge : {"the end of last month", "end of last month", "late last month"}) {
      if (WordAt(s_, pos, edge)) {
        Date b = AddMonths(Date{today_.year, today_.month, 1}, -1);
        return Set(m, LastDayOfMonth(b.year, b.month), pos + edge.size());
      }
    }
    return false;
  }

  Date Anchor() const { return anchor_ ? *anchor_ : today_; }

  // ---- "3 days ago", "a week later", "三天前", "一周后", "两个星期以前" ----
  bool Relative(size_t pos, DateMention* m) {
    Num count;
    size_t p = pos;
    bool half = false;
    if (At(s_, p, "半个月")) { half = true; count = {15, 0}; }
    else count = ReadCount(s_, p);
    if (!half && count.len == 0) return false;
    p += count.len;
    Unit unit = Unit::kDay;
    int factor = 1;
    if (half) {
      p += std::string_view("半个月").size();
    } else if (IsLetter(s_[pos]) || IsDigit(s_[pos])) {
      size_t q = SkipSpaces(s_, p);
      size_t ul = ReadEnglishUnit(s_, q, &unit, &factor);
      if (ul > 0) {
        p = q + ul;
      } else if (IsDigit(s_[pos])) {
        ul = ReadChineseUnit(s_, q, &unit);
        if (ul == 0) return false;
        p = q + ul;
      } else {
        return false;
      }
    } else {
      size_t ul = ReadChineseUnit(s_, p, &unit);
      if (ul == 0) return false;
      p += ul;
    }
    int n = count.value * factor;
    size_t q = SkipSpaces(s_, p);
    for (std::string_view back : {"ago", "before", "earlier", "以前", "之前", "前"}) {
      if (back.front() & 0x80 ? At(s_, p, back) : WordAt(s_, q, back)) {
        size_t end = (back.front() & 0x80 ? p : q) + back.size();
        return Set(m, Shift(today_, -n, unit), end);
      }
    }
    if (WordAt(s_, q, "from now") || WordAt(s_, q, "from today")) return Set(m, Shift(today_, n, unit), q + 8 + (At(s_, q + 5, "today") ? 2 : 0));
    for (std::string_view fwd : {"later", "after that", "afterwards", "after", "以后", "之后", "后"}) {
      if (fwd.front() & 0x80 ? At(s_, p, fwd) : WordAt(s_, q, fwd)) {
        size_t end = (fwd.front() & 0x80 ? p : q) + fwd.size();
        return Set(m, Shift(Anchor(), n, unit), end);
      }
    }
    return false;
  }

  // ---- Forms that start with a Chinese character ----
  bool Chinese(size_t pos, DateMention* m) {
    struct Day { std::string_view w; int offset; };
    static constexpr Day kDays[] = {{"大前天", -3}, {"前天", -2}, {"昨天", -1}, {"昨日", -1}, {"昨晚", -1},
                                    {"今天", 0}, {"今日", 0}, {"今晚", 0}, {"今早", 0}, {"现在", 0}, {"明天", 1},
                                    {"明日", 1}, {"大后天", 3}, {"后天", 2}};
    for (const auto& d : kDays) {
      if (At(s_, pos, d.w)) return Set(m, today_.AddDays(d.offset), pos + d.w.size());
    }
    for (std::string_view next : {"第二天", "第二日", "次日", "隔天", "转天"}) {
      if (At(s_, pos, next)) return Set(m, Anchor().AddDays(1), pos + next.size());
    }
    // 过了一周 / 过了三天: counted from the date just mentioned
    if (At(s_, pos, "过了")) {
      size_t q = pos + 6;
      Num count = ReadCount(s_, q);
      Unit unit;
      size_t ul = count.len ? ReadChineseUnit(s_, q + count.len, &unit) : 0;
      if (ul > 0) return Set(m, Shift(Anchor(), count.value, unit), q + count.len + ul);
    }
    for (std::string_view same : {"当天", "同一天", "同天"}) {
      if (At(s_, pos, same) && anchor_) return Set(m, *anchor_, pos + same.size());
    }
    // Weeks: 上上周三, 上周一, 上个星期五, 本周二, 这周一, 周三, 星期天
    // weeks back from this week; two markers: a bare 周/星期 (the most recent such day) and next week.
    constexpr int kNone = -1, kBare = -2, kNextWeek = -3;
    int weeks_back = kNone;
    size_t p = pos;
    struct W { std::string_view w; int back; };
    static constexpr W kWeekPrefixes[] = {{"上上个星期", 2}, {"上上星期", 2}, {"上上周", 2}, {"上上礼拜", 2},
                                          {"上个星期", 1}, {"上个礼拜", 1}, {"上星期", 1}, {"上礼拜", 1},
                                          {"上周", 1}, {"下个星期", kNextWeek}, {"下个礼拜", kNextWeek},
                                          {"下星期", kNextWeek}, {"下礼拜", kNextWeek}, {"下周", kNextWeek},
                                          {"这个星期", 0}, {"这星期", 0}, {"这周", 0}, {"本周", 0}, {"这礼拜", 0},
                                          {"星期", kBare}, {"礼拜", kBare}, {"周", kBare}};
    for (const auto& w : kWeekPrefixes) {
      if (At(s_, pos, w.w)) { weeks_back = w.back; p = pos + w.w.size(); break; }
    }
    if (weeks_back == kBare && pos >= 3) {
      // 两周 / 每周 / 几个星期: a count of weeks, not a weekday ("这两周一直卡")
      for (std::string_view count : {"一", "二", "两", "三", "四", "五", "六", "七", "八", "九", "十", "几", "每",
                                     "多", "个", "半", "本", "上", "下", "这"}) {
        if (pos >= count.size() && s_.compare(pos - count.size(), count.size(), count) == 0) return false;
      }
    }
    // 上周末 / 这周末 / 下周末: a weekend as one date is its Saturday
    if (weeks_back != kNone && weeks_back != kBare && At(s_, p, "末")) {
      int offset = weeks_back == kNextWeek ? 1 : -weeks_back;
      return Set(m, today_.AddDays(-(Weekday(today_) - 1) + 7 * offset + 5), p + 3);
    }
    if (weeks_back == kNextWeek) {
      int wd = 0;
      size_t wl = ReadChineseWeekday(s_, p, &wd);
      Date monday = today_.AddDays(-(Weekday(today_) - 1) + 7);
      if (wl > 0) return Set(m, monday.AddDays(wd - 1), p + wl);
      return Set(m, today_.AddDays(7), p);  // 下周 alone
    }
    if (weeks_back != kNone) {
      int wd = 0;
      size_t wl = ReadChineseWeekday(s_, p, &wd);
      // 周一直 / 星期一样: words that start with 一, not Monday
      if (wl == 3 && wd == 1) {
        for (std::string_view word : {"直", "样", "起", "般", "定", "些", "次", "切", "共", "致", "律", "向"}) {
          if (At(s_, p + 3, word)) wl = 0;
        }
      }
      if (wl > 0) {
        if (weeks_back == kBare) {  // 周三 alone: the most recent one, today included
          return Set(m, today_.AddDays(-((Weekday(today_) - wd + 7) % 7)), p + wl);
        }
        Date monday = today_.AddDays(-(Weekday(today_) - 1) - 7 * weeks_back);
        return Set(m, monday.AddDays(wd - 1), p + wl);
      }
      if (weeks_back >= 1) return Set(m, today_.AddDays(-7 * weeks_back), p);  // 上周 alone
      return false;
    }
    // Months: 上个月15号, 上月底, 上上个月, 这个月3号, 本月初
    struct M { std::string_view w; int back; };
    static constexpr M kMonthPrefixes[] = {{"上上个月", 2}, {"上上月", 2}, {"上个月", 1}, {"上月", 1},
                                           {"这个月", 0}, {"本月", 0}, {"这月", 0}, {"下个月", -1}, {"下月", -1}};
    for (const auto& mp : kMonthPrefixes) {
      if (!At(s_, pos, mp.w)) continue;
      Date first = AddMonths(Date{today_.year, today_.month, 1}, -mp.back);
      size_t q = SkipSpaces(s_, pos + mp.w.size());
      if (At(s_, q, "的")) q += 3;
      for (std::string_view end_word : {"月底", "月末", "底", "末"}) {
        if (At(s_, q, end_word)) return Set(m, LastDayOfMonth(first.year, first.month), q + end_word.size());
      }
      for (std::string_view start_word : {"月初", "初"}) {
        if (At(s_, q, start_word)) return Set(m, first, q + start_word.size());
      }
      for (std::string_view mid : {"中旬", "中"}) {
        if (At(s_, q, mid)) return Set(m, Date{first.year, first.month, 15}, q + mid.size());
      }
      Num day = q < s_.size() && IsDigit(s_[q]) ? ReadDigits(s_, q, 2) : ReadChineseNumeral(s_, q);
      if (day.len > 0 && (At(s_, q + day.len, "号") || At(s_, q + day.len, "日"))) {
        if (!Date::IsValid(first.year, first.month, day.value)) return false;
        return Set(m, Date{first.year, first.month, day.value}, q + day.len + 3);
      }
      if (mp.back == 0) return false;
      Date d = AddMonths(today_, -mp.back);  // 上个月 / 下个月 alone: the same day that month
      return Set(m, d, pos + mp.w.size());
    }
    // Years: 去年12月5日, 前年三月一号, 今年1月5日
    struct Y { std::string_view w; int back; };
    static constexpr Y kYears[] = {{"去年", 1}, {"前年", 2}, {"今年", 0}, {"明年", -1}};
    for (const auto& y : kYears) {
      if (At(s_, pos, y.w)) return ChineseYearMonthDay(today_.year - y.back, pos + y.w.size(), m);
    }
    // Chinese-numeral dates: 二〇二六年十一月五日, 十一月二十号, 二十号
    Num n = ReadChineseNumeral(s_, pos);
    if (n.len == 0) return false;
    size_t q = pos + n.len;
    if (At(s_, q, "年") && n.len >= 12) return ChineseYearMonthDay(n.value, q + 3, m);  // four numerals
    if (At(s_, q, "月") && n.value >= 1 && n.value <= 12) {
      size_t r = SkipSpaces(s_, q + 3);
      Num day = r < s_.size() && IsDigit(s_[r]) ? ReadDigits(s_, r, 2) : ReadChineseNumeral(s_, r);
      if (day.len == 0) return false;
      size_t end = r + day.len;
      if (!At(s_, end, "日") && !At(s_, end, "号")) return false;
      auto d = YearFor(n.value, day.value);
      return d ? Set(m, *d, end + 3) : Reject(end + 3);
    }
    if ((At(s_, q, "号") || At(s_, q, "日")) && n.value >= 1 && n.value <= 31) {
      auto d = MonthFor(n.value);
      return d && Set(m, *d, q + 3);
    }
    return false;
  }

  std::string_view s_;
  Date today_;
  DateOptions options_;
  std::optional<Date> anchor_;
  size_t rejected_end_ = 0;  // end of a date-shaped span whose date does not exist (2月30日)
};

}  // namespace

std::vector<DateMention> FindDates(std::string_view s, Date today, const DateOptions& options) {
  return Scanner(s, today, options).Run();
}

}  // namespace rd
