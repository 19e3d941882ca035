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

// Where a date was written in the (normalized) text, in byte offsets.
struct DateMention {
  Date date;
  size_t begin = 0;
  size_t end = 0;
};

// Every date written in `normalized` (see NormalizeForParsing), in order of appearance. A date without a
// year is the most recent such date not after `today`. Impossible dates (Feb 30) are not dates.
// Understood forms: 2026-11-05, 2026/11/5, 2026.11.5, 2026年11月5日 (号), 11月5日, Nov 5, 2026,
// November 5th 2026, 5 Nov 2026, 5th of November.
std::vector<DateMention> FindDates(std::string_view normalized, Date today);

}  // namespace rd
