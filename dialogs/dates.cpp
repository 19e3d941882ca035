#include "dialogs/dates.h"

#include <array>
#include <cstdio>

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

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads up to `max_len` digits at `pos`; returns the count read (0 when none) and the value.
size_t ReadNumber(std::string_view s, size_t pos, size_t max_len, int* value) {
  size_t n = 0;
  int v = 0;
  while (pos + n < s.size() && IsDigit(s[pos + n])) {
    if (n == max_len) return 0;  // longer than allowed: not this kind of number
    v = v * 10 + (s[pos + n] - '0');
    ++n;
  }
  *value = v;
  return n;
}

bool StartsWith(std::string_view s, size_t pos, std::string_view prefix) {
  return s.size() >= pos + prefix.size() && s.compare(pos, prefix.size(), prefix) == 0;
}

size_t SkipSpaces(std::string_view s, size_t pos) {
  while (pos < s.size() && s[pos] == ' ') ++pos;
  return pos;
}

// The most recent (month, day) not after today; nullopt when the day never exists (Feb 30).
std::optional<Date> MostRecent(int month, int day, Date today) {
  if (!Date::IsValid(2000, month, day)) return std::nullopt;  // 2000 is a leap year: widest calendar
  for (int y = today.year; y > today.year - 8; --y) {
    if (!Date::IsValid(y, month, day)) continue;
    Date d{y, month, day};
    if (d <= today) return d;
  }
  return std::nullopt;
}

struct MonthName { std::string_view name; int month; };
constexpr std::array<MonthName, 24> kMonths = {{
    {"january", 1}, {"february", 2}, {"march", 3}, {"april", 4}, {"may", 5}, {"june", 6},
    {"july", 7}, {"august", 8}, {"september", 9}, {"october", 10}, {"november", 11},
    {"december", 12}, {"sept", 9}, {"jan", 1}, {"feb", 2}, {"mar", 3}, {"apr", 4}, {"jun", 6},
    {"jul", 7}, {"aug", 8}, {"sep", 9}, {"oct", 10}, {"nov", 11}, {"dec", 12}}};

// A month name at `pos` on a word boundary (optionally followed by '.'); returns its length or 0.
size_t ReadMonthName(std::string_view s, size_t pos, int* month) {
  if (pos > 0 && IsAsciiAlnum(s[pos - 1])) return 0;
  for (const auto& m : kMonths) {
    if (!StartsWith(s, pos, m.name)) continue;
    size_t end = pos + m.name.size();
    if (end < s.size() && IsAsciiAlnum(s[end])) continue;
    *month = m.month;
    if (end < s.size() && s[end] == '.') ++end;
    return end - pos;
  }
  return 0;
}

// A day number with an optional English ordinal suffix: "5", "5th", "21st".
size_t ReadDay(std::string_view s, size_t pos, int* day) {
  size_t n = ReadNumber(s, pos, 2, day);
  if (n == 0) return 0;
  size_t end = pos + n;
  for (std::string_view suf : {"st", "nd", "rd", "th"}) {
    if (StartsWith(s, end, suf)) { end += 2; break; }
  }
  if (end < s.size() && IsAsciiAlnum(s[end])) return 0;
  return end - pos;
}

// ", 2026" / " 2026" after an English month-day; returns the length consumed (0 when no year).
size_t ReadTrailingYear(std::string_view s, size_t pos, int* year) {
  size_t p = pos;
  if (p < s.size() && s[p] == ',') ++p;
  p = SkipSpaces(s, p);
  size_t n = ReadNumber(s, p, 4, year);
  if (n != 4 || (p + n < s.size() && IsAsciiAlnum(s[p + n]))) return 0;
  return p + n - pos;
}

// Tries every form at `pos`; on success fills `out` and returns true.
bool MatchAt(std::string_view s, size_t pos, Date today, DateMention* out) {
  char c = s[pos];
  if (IsDigit(c)) {
    if (pos > 0 && IsDigit(s[pos - 1])) return false;
    int first = 0;
    size_t n = ReadNumber(s, pos, 4, &first);
    if (n == 0) return false;
    size_t p = pos + n;
    if (n == 4) {
      // 2026-11-05, 2026/11/5, 2026.11.5
      if (p < s.size() && (s[p] == '-' || s[p] == '/' || s[p] == '.')) {
        char sep = s[p];
        int month = 0, day = 0;
        size_t mn = ReadNumber(s, p + 1, 2, &month);
        if (mn == 0 || p + 1 + mn >= s.size() || s[p + 1 + mn] != sep) return false;
        size_t dn = ReadNumber(s, p + 2 + mn, 2, &day);
        if (dn == 0) return false;
        size_t end = p + 2 + mn + dn;
        if (end < s.size() && IsDigit(s[end])) return false;
        if (!Date::IsValid(first, month, day)) return false;
        *out = {Date{first, month, day}, pos, end};
        return true;
      }
      // 2026年11月5日 / 2026年11月5号
      if (StartsWith(s, p, "年")) {
        int month = 0, day = 0;
        size_t q = SkipSpaces(s, p + 3);
        size_t mn = ReadNumber(s, q, 2, &month);
        if (mn == 0 || !StartsWith(s, q + mn, "月")) return false;
        size_t r = SkipSpaces(s, q + mn + 3);
        size_t dn = ReadNumber(s, r, 2, &day);
        if (dn == 0) return false;
        size_t end = r + dn;
        if (StartsWith(s, end, "日") || StartsWith(s, end, "号")) end += 3;
        if (!Date::IsValid(first, month, day)) return false;
        *out = {Date{first, month, day}, pos, end};
        return true;
      }
      return false;
    }
    // 11月5日 / 11月5号 (no year)
    if (n <= 2 && StartsWith(s, p, "月")) {
      int day = 0;
      size_t r = SkipSpaces(s, p + 3);
      size_t dn = ReadNumber(s, r, 2, &day);
      if (dn == 0) return false;
      size_t end = r + dn;
      if (!StartsWith(s, end, "日") && !StartsWith(s, end, "号")) return false;
      auto d = MostRecent(first, day, today);
      if (!d) return false;
      *out = {*d, pos, end + 3};
      return true;
    }
    // 5 Nov 2026, 5th of November
    if (n <= 2) {
      int day = 0;
      size_t dl = ReadDay(s, pos, &day);
      if (dl == 0) return false;
      size_t q = SkipSpaces(s, pos + dl);
      if (StartsWith(s, q, "of ")) q += 3;
      int month = 0;
      size_t ml = ReadMonthName(s, q, &month);
      if (ml == 0) return false;
      int year = 0;
      size_t yl = ReadTrailingYear(s, q + ml, &year);
      if (yl > 0) {
        if (!Date::IsValid(year, month, day)) return false;
        *out = {Date{year, month, day}, pos, q + ml + yl};
        return true;
      }
      auto d = MostRecent(month, day, today);
      if (!d) return false;
      *out = {*d, pos, q + ml};
      return true;
    }
    return false;
  }
  // Nov 5, 2026 / November 5th 2026 / Nov 5
  int month = 0;
  size_t ml = ReadMonthName(s, pos, &month);
  if (ml == 0) return false;
  size_t q = SkipSpaces(s, pos + ml);
  if (StartsWith(s, q, "the ")) q += 4;
  int day = 0;
  size_t dl = ReadDay(s, q, &day);
  if (dl == 0) return false;
  int year = 0;
  size_t yl = ReadTrailingYear(s, q + dl, &year);
  if (yl > 0) {
    if (!Date::IsValid(year, month, day)) return false;
    *out = {Date{year, month, day}, pos, q + dl + yl};
    return true;
  }
  auto d = MostRecent(month, day, today);
  if (!d) return false;
  *out = {*d, pos, q + dl};
  return true;
}

}  // namespace

std::vector<DateMention> FindDates(std::string_view s, Date today) {
  std::vector<DateMention> found;
  for (size_t pos = 0; pos < s.size();) {
    char c = s[pos];
    bool candidate = IsDigit(c) || (c >= 'a' && c <= 'z');
    DateMention m;
    if (candidate && MatchAt(s, pos, today, &m)) {
      found.push_back(m);
      pos = m.end;
      continue;
    }
    // Skip the rest of a word or number so matches only start at a boundary.
    if (IsAsciiAlnum(c)) {
      while (pos < s.size() && IsAsciiAlnum(s[pos])) ++pos;
    } else {
      ++pos;
    }
  }
  return found;
}

}  // namespace rd
