// Calendar dates and finding them in customer text. Pure: "today" is always passed in, and every word
// the parser understands comes from a DateVocabulary (knowledge/dates.json) the caller passes in.
// Thread-safety: Date and the functions are pure; a DateVocabulary is immutable after
// ParseDateVocabulary and may be shared by any number of threads.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
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

// Words or phrases with a value each. Match finds the longest entry at a position; an entry whose last
// byte is an ASCII letter or digit matches only where a word ends ("mar" is not in "march").
class WordTable {
 public:
  struct Hit {
    int value = 0;
    size_t len = 0;  // 0: no entry here
  };
  void Add(std::string word, int value);
  Hit Match(std::string_view s, size_t pos) const;
  // True when an entry ends exactly at `pos` (the text just before it): 两周 has a count before 周. An
  // entry starting with an ASCII letter or digit must start a word there.
  bool EndsAt(std::string_view s, size_t pos) const;
  const std::vector<std::pair<std::string, int>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, int>> entries_;   // longest first
  std::array<std::vector<uint16_t>, 256> by_first_{};  // entry indices by first byte, longest first
};

// The tables of knowledge/dates.json "words", by role (see the comments there).
enum class DateWord {
  kMonthName, kWeekdayName, kOrdinal, kOrdinalLast, kOrdinalSuffix, kCardinal, kCount, kZhDigit, kZhUnit, kZhWeekday, kZhWeek,
  kZhWeekdayBlocker, kZhWeekCount, kZhWeekend, kDay, kDayAfterMention, kSameDay, kDayAfterDate, kRelativeWeek,
  kRelativeMonth, kRelativeYear, kMonthPart, kWeekdayModifier, kDirection, kZhPassed, kUnit, kSpan, kThe, kOf,
  kOn, kIn, kZhYear, kZhMonth, kZhDay, kZhOf, kZhDayBlocker, kFigureUnit, kCurrency, kNumberLabel, kNotDate, kLunarMarker,
  kLunarMonth, kLunarDayPrefix, kCount_
};

// A holiday: one date a year. kFixed: month/day; kNthWeekday: the nth `weekday` of `month` (nth -1: the
// last); kLunar: lunar month/day. Then `offset` days more.
struct Holiday {
  enum class Kind { kFixed, kNthWeekday, kLunar } kind = Kind::kFixed;
  int month = 1, day = 1, weekday = 1, nth = 1, offset = 0;
};

struct DateVocabulary {
  std::array<WordTable, static_cast<size_t>(DateWord::kCount_)> words;
  WordTable holiday_names;        // name -> index into `holidays`
  std::vector<Holiday> holidays;
  int two_digit_year_ahead = 20;  // 20yy if at most this many years after today, else 19yy
  struct Language {
    bool ambiguous_day_first = false;  // 05/01/2026 when the vocabulary says "ask"
    bool year_first = false;           // 12-11-10 is 2012-11-10
  };
  std::map<std::string, Language> languages;
  // The lunar calendar: per lunar year from `lunar_first_year`, its months' lengths (see dates.json) and
  // the day number of its new year.
  int lunar_first_year = 1900;
  // Whether a lunar month and day (农历十月初一, 正月十五) is converted to its Gregorian date (true) or
  // read as that Gregorian month and day, as Recognizers-Text does (false). Holidays always convert.
  bool convert_lunar_dates = true;
  std::vector<uint32_t> lunar_years;
  std::vector<int64_t> lunar_new_year_days;
  // Where a form can start: first words of the English entries, first characters of the others.
  std::unordered_set<std::string> english_starts;
  std::unordered_set<uint32_t> other_starts;

  const WordTable& operator[](DateWord w) const { return words[static_cast<size_t>(w)]; }
  // The Gregorian date of a lunar date (leap: the leap month of that number); nullopt outside the table
  // or for a day the month does not have.
  std::optional<Date> FromLunar(int lunar_year, int month, int day, bool leap = false) const;
  // The holiday's date in `year` (nullopt where it has none, e.g. outside the lunar table).
  std::optional<Date> HolidayIn(const Holiday& h, int year) const;
};

// Parses knowledge/dates.json. On a malformed document returns nullptr and says why in `error`.
std::shared_ptr<const DateVocabulary> ParseDateVocabulary(const nlohmann::json& doc, std::string* error);

// How to read an all-numeric date such as 05/01/2026 when both readings are valid.
enum class NumericOrder { kMonthFirst, kDayFirst };

struct DateOptions {
  NumericOrder numeric_order = NumericOrder::kMonthFirst;
  // Read 12-11-10 as year-month-day when that is a date (Chinese customers write the year first).
  bool year_first = false;
  // The date the conversation mentioned last, for "two days later" or "20号" in the next message.
  std::optional<Date> anchor;
  // The words to understand. Without one only numeric dates (2026-11-05, 11/5/2026) are found.
  const DateVocabulary* vocabulary = nullptr;
};

// Options for a customer writing `lang` ("zh" | "en"), given the vocabulary's numeric policy for it
// ("month_first" | "day_first" | "ask"; "ask" takes the language's usual reading from `v`).
DateOptions DateOptionsFor(const DateVocabulary& v, std::string_view lang, std::string_view numeric_policy);

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
// against `today`, in Chinese and English: numeric forms (2026-11-05, 11/5/2026, 22/04, 5.11.2026,
// Sep-23-2020, 05/05/71), month names and ordinals (Nov 5th, second of Aug, May twenty one, the 27),
// Chinese dates (2026年11月5日, 两千零四年八月十五, 5号), relative dates (yesterday, 三天前, last Monday,
// this week Friday, second Sunday, 上个月15号, 去年本月十日, two days from tomorrow), lunar dates
// (农历十月初一, 正月十五) and holidays (双十一, Black Friday, 春节), with the words of
// `options.vocabulary`.
// Conventions: a date without a year is the most recent such date not after today; a bare day ("20号",
// "the 5th") is in this month if not after today, else the previous month; right after another date a
// bare day takes that date's month when that keeps the order. Impossible dates (Feb 30) are no dates.
// Future dates are reported: refusing them is the dialog's business.
std::vector<DateMention> FindDates(std::string_view normalized, Date today, const DateOptions& options = {});

// ISO weekday of a date: Monday = 1 ... Sunday = 7.
int Weekday(const Date& d);

}  // namespace rd
