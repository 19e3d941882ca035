// Calendar dates and finding them in customer text. Pure: "today" is always passed in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rd {

// A proleptic Gregorian calendar date. Only valid dates are ever constructed by the parsers.
struct Date {
  int year = 1970;
  int month = 1;
  int day = 1;

  static bool IsValid(int year, int month, int day);
  static Date FromDays(int64_t days_since_epoch);
  // "YYYY-MM-DD" exactly (the storage and API form); nullopt for anything else or an impossible date.
  static std::optional<Date> FromIso(std::string_view iso);

  int64_t ToDays() const;  // days since 1970-01-01
  std::string Iso() const;
  Date AddDays(int64_t n) const { return FromDays(ToDays() + n); }

  friend auto operator<=>(const Date&, const Date&) = default;
};

// How to read an all-numeric date such as 05/01/2026 when both readings are valid.
enum class NumericOrder { kMonthFirst, kDayFirst };

struct DateOptions {
  NumericOrder numeric_order = NumericOrder::kMonthFirst;
  // The date the conversation mentioned last, for "two days later" or "20号" in the next message.
  std::optional<Date> anchor;
};

// Where a date was written in the (normalized) text, in byte offsets.
struct DateMention {
  Date date;
  size_t begin = 0;
  size_t end = 0;
  // For an all-numeric date with both readings valid (05/01/2026): the other reading. The dialog may
  // ask which one the customer meant.
  std::optional<Date> alternative;
};

// Every date written in `normalized` (see NormalizeForParsing), in order of appearance, resolved
// against `today`. Understood, in Chinese and English:
//  - absolute: 2026-11-05, 2026/11/5, 2026.11.5, 11/5/2026 and 5/11/2026 (by `options`), 5.11.2026
//    (day first), 2026年11月5日, 11月5日/号, 5号, Nov 5, 5 November 2026, November 5th, the 5th,
//    Chinese numerals (十一月二十号, 二〇二六年一月五日);
//  - relative: today/今天, yesterday/昨天/前天, tomorrow/明天, 3 days ago/三天前, a week ago/一周前,
//    last Monday/上周一/上个星期一, on Monday/周一, last week/上周, last month/上个月 (+ day: 上个月15号,
//    the 15th of last month, 上个月底), 去年12月5日, and "a week later"/"一周后"/"第二天" counted from
//    the date mentioned just before (or today).
// A date without a year is the most recent such date not after today; a bare day ("20号") right after
// another date takes that date's month when that keeps it in order. Impossible dates (Feb 30) are no
// dates. Future dates are reported: refusing them is the dialog's business.
std::vector<DateMention> FindDates(std::string_view normalized, Date today, const DateOptions& options = {});

// ISO weekday of a date: Monday = 1 ... Sunday = 7.
int Weekday(const Date& d);

}  // namespace rd
