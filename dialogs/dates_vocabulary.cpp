// The date vocabulary: word tables, holidays and the lunar calendar from knowledge/dates.json.
#include <algorithm>

#include "dialogs/dates.h"

namespace rd {

namespace {

bool IsWordByte(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'); }

constexpr const char* kWordKeys[] = {
    "month_name", "weekday_name", "ordinal", "ordinal_last", "ordinal_suffix", "cardinal", "count", "zh_digit", "zh_unit", "zh_weekday", "zh_week",
    "zh_weekday_blocker", "zh_week_count", "zh_weekend", "day", "day_after_mention", "same_day", "day_after_date",
    "relative_week", "relative_month", "relative_year", "month_part", "weekday_modifier", "direction", "zh_passed",
    "unit", "span", "the", "of", "on", "in", "zh_year", "zh_month", "zh_day", "zh_of", "zh_day_blocker",
    "figure_unit", "currency", "number_label", "not_date", "lunar_marker", "lunar_month", "lunar_day_prefix"};
static_assert(std::size(kWordKeys) == static_cast<size_t>(DateWord::kCount_));

uint32_t FirstChar(std::string_view w) {
  uint32_t c = 0;
  size_t n = static_cast<unsigned char>(w[0]) >= 0xF0 ? 4 : static_cast<unsigned char>(w[0]) >= 0xE0 ? 3 : 2;
  for (size_t i = 0; i < n && i < w.size(); ++i) c = c << 8 | static_cast<unsigned char>(w[i]);
  return c;
}

// Where a form can start: the English words (letters before the first space, hyphen or apostrophe) and
// the first character of every other entry.
void AddStart(std::string_view w, DateVocabulary* v) {
  if (w.empty()) return;
  if (w[0] >= 'a' && w[0] <= 'z') {
    size_t end = 0;
    while (end < w.size() && w[end] >= 'a' && w[end] <= 'z') ++end;
    v->english_starts.insert(std::string(w.substr(0, end)));
  } else if (static_cast<unsigned char>(w[0]) >= 0x80) {
    v->other_starts.insert(FirstChar(w));
  } else {
    v->other_starts.insert(static_cast<unsigned char>(w[0]));
  }
}

bool ParseHoliday(const nlohmann::json& h, size_t index, DateVocabulary* v, std::string* error) {
  Holiday out;
  std::string kind = h.value("kind", "");
  if (kind == "fixed") out.kind = Holiday::Kind::kFixed;
  else if (kind == "nth_weekday") out.kind = Holiday::Kind::kNthWeekday;
  else if (kind == "lunar") out.kind = Holiday::Kind::kLunar;
  else { *error = "holiday " + std::to_string(index) + ": kind must be fixed, nth_weekday or lunar"; return false; }
  out.month = h.value("month", 0);
  out.day = h.value("day", 1);
  out.weekday = h.value("weekday", 1);
  out.nth = h.value("nth", 1);
  out.offset = h.value("offset", 0);
  bool ok = out.month >= 1 && out.month <= 12 && out.day >= 1 && out.day <= 31 && out.weekday >= 1 &&
            out.weekday <= 7 && out.nth >= -1 && out.nth <= 5 && out.nth != 0;
  if (!ok || (out.kind == Holiday::Kind::kFixed && !Date::IsValid(2000, out.month, out.day))) {
    *error = "holiday " + std::to_string(index) + ": month, day, weekday or nth out of range";
    return false;
  }
  const auto& names = h.value("names", nlohmann::json::array());
  if (!names.is_array() || names.empty()) { *error = "holiday " + std::to_string(index) + ": needs names"; return false; }
  for (const auto& n : names) {
    if (!n.is_string() || n.get<std::string>().empty()) { *error = "holiday " + std::to_string(index) + ": names must be strings"; return false; }
    v->holiday_names.Add(n.get<std::string>(), static_cast<int>(v->holidays.size()));
    AddStart(n.get<std::string>(), v);
  }
  v->holidays.push_back(out);
  return true;
}

// The values a table's entries may have (a month 1-12, a weekday 1-7, a day offset ...).
std::pair<int, int> ValueRange(DateWord w) {
  switch (w) {
    case DateWord::kMonthName: case DateWord::kLunarMonth: return {1, 12};
    case DateWord::kWeekdayName: case DateWord::kZhWeekday: case DateWord::kZhWeekend: return {1, 7};
    case DateWord::kOrdinal: case DateWord::kCardinal: return {1, 31};
    case DateWord::kZhDigit: return {0, 9};
    case DateWord::kZhUnit: return {10, 1000};
    case DateWord::kCount: return {1, 100};
    case DateWord::kMonthPart: return {1, 31};
    case DateWord::kWeekdayModifier: return {-1, 3};
    case DateWord::kOrdinalLast: return {-1, -1};
    case DateWord::kDirection: return {-2, 1};
    case DateWord::kUnit: case DateWord::kSpan: return {1, 365};
    case DateWord::kDay: case DateWord::kDayAfterMention: case DateWord::kDayAfterDate: return {-31, 31};
    case DateWord::kRelativeWeek: case DateWord::kRelativeMonth: case DateWord::kRelativeYear: return {-12, 12};
    default: return {0, 0};  // markers and blockers: the value is unused
  }
}

int LunarMonthDays(uint32_t info, int month) { return info & (0x10000u >> month) ? 30 : 29; }
int LunarLeapDays(uint32_t info) { return (info & 0xf) == 0 ? 0 : (info & 0x10000 ? 30 : 29); }
int LunarYearDays(uint32_t info) {
  int sum = LunarLeapDays(info);
  for (int m = 1; m <= 12; ++m) sum += LunarMonthDays(info, m);
  return sum;
}

bool ParseLunar(const nlohmann::json& doc, DateVocabulary* v, std::string* error) {
  const auto& l = doc.at("lunar");
  v->lunar_first_year = l.at("first_year").get<int>();
  v->convert_lunar_dates = l.value("convert_dates", true);
  auto first = Date::FromIso(l.at("first_new_year").get<std::string>());
  if (!first) { *error = "lunar.first_new_year must be YYYY-MM-DD"; return false; }
  int64_t day = first->ToDays();
  for (const auto& y : l.at("years")) {
    uint32_t info = static_cast<uint32_t>(std::stoul(y.get<std::string>(), nullptr, 16));
    if (info > 0x1ffff || (info & 0xf) > 12) { *error = "lunar.years: " + y.get<std::string>() + " is no year"; return false; }
    v->lunar_years.push_back(info);
    v->lunar_new_year_days.push_back(day);
    day += LunarYearDays(info);
  }
  return true;
}

}  // namespace

void WordTable::Add(std::string word, int value) {
  if (word.empty()) return;
  entries_.emplace_back(std::move(word), value);
  std::stable_sort(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  for (auto& v : by_first_) v.clear();
  for (size_t i = 0; i < entries_.size(); ++i) {
    by_first_[static_cast<unsigned char>(entries_[i].first[0])].push_back(static_cast<uint16_t>(i));
  }
}

WordTable::Hit WordTable::Match(std::string_view s, size_t pos) const {
  if (pos >= s.size()) return {};
  for (uint16_t i : by_first_[static_cast<unsigned char>(s[pos])]) {
    const std::string& w = entries_[i].first;
    if (s.size() - pos < w.size() || s.compare(pos, w.size(), w) != 0) continue;
    size_t end = pos + w.size();
    if (IsWordByte(w.back()) && end < s.size() && IsWordByte(s[end])) continue;
    return {entries_[i].second, w.size()};
  }
  return {};
}

bool WordTable::EndsAt(std::string_view s, size_t pos) const {
  for (const auto& [w, value] : entries_) {
    if (w.size() > pos || s.compare(pos - w.size(), w.size(), w) != 0) continue;
    size_t start = pos - w.size();
    if (IsWordByte(w.front()) && start > 0 && IsWordByte(s[start - 1])) continue;  // "ver" is not in "never"
    return true;
  }
  return false;
}

std::optional<Date> DateVocabulary::FromLunar(int lunar_year, int month, int day, bool leap) const {
  int index = lunar_year - lunar_first_year;
  if (index < 0 || index >= static_cast<int>(lunar_years.size()) || month < 1 || month > 12 || day < 1) return std::nullopt;
  uint32_t info = lunar_years[static_cast<size_t>(index)];
  int leap_month = static_cast<int>(info & 0xf);
  if (leap && leap_month != month) return std::nullopt;
  int64_t days = lunar_new_year_days[static_cast<size_t>(index)];
  for (int m = 1; m < month; ++m) {
    days += LunarMonthDays(info, m);
    if (m == leap_month) days += LunarLeapDays(info);
  }
  if (leap) days += LunarMonthDays(info, month);
  int length = leap ? LunarLeapDays(info) : LunarMonthDays(info, month);
  if (day > length) return std::nullopt;
  return Date::FromDays(days + day - 1);
}

std::optional<Date> DateVocabulary::HolidayIn(const Holiday& h, int year) const {
  std::optional<Date> base;
  switch (h.kind) {
    case Holiday::Kind::kFixed:
      if (Date::IsValid(year, h.month, h.day)) base = Date{year, h.month, h.day};
      break;
    case Holiday::Kind::kLunar:
      // Lunar year `year` mostly starts in Gregorian `year`; 除夕 (new year - 1) falls in the one before.
      for (int lunar_year : {year, year - 1}) {
        auto d = FromLunar(lunar_year, h.month, h.day);
        if (d && d->AddDays(h.offset).year == year) return d->AddDays(h.offset);
      }
      return std::nullopt;
    case Holiday::Kind::kNthWeekday: {
      Date first{year, h.month, 1};
      if (h.nth > 0) {
        Date d = first.AddDays((h.weekday - Weekday(first) + 7) % 7 + 7 * (h.nth - 1));
        if (d.month == h.month) base = d;
      } else {
        int last = 31;
        while (!Date::IsValid(year, h.month, last)) --last;
        Date end{year, h.month, last};
        base = end.AddDays(-((Weekday(end) - h.weekday + 7) % 7));
      }
      break;
    }
  }
  if (!base) return std::nullopt;
  Date d = base->AddDays(h.offset);
  if (d.year != year) return std::nullopt;
  return d;
}

DateOptions DateOptionsFor(const DateVocabulary& v, std::string_view lang, std::string_view numeric_policy) {
  DateOptions o;
  o.vocabulary = &v;
  auto it = v.languages.find(std::string(lang));
  bool day_first = numeric_policy == "day_first" ||
                   (numeric_policy == "ask" && it != v.languages.end() && it->second.ambiguous_day_first);
  o.numeric_order = day_first ? NumericOrder::kDayFirst : NumericOrder::kMonthFirst;
  o.year_first = it != v.languages.end() && it->second.year_first;
  return o;
}

std::shared_ptr<const DateVocabulary> ParseDateVocabulary(const nlohmann::json& doc, std::string* error) {
  auto v = std::make_shared<DateVocabulary>();
  try {
    const auto& words = doc.at("words");
    for (size_t i = 0; i < std::size(kWordKeys); ++i) {
      if (!words.contains(kWordKeys[i]) || !words[kWordKeys[i]].is_object() || words[kWordKeys[i]].empty()) {
        *error = std::string("words.") + kWordKeys[i] + " is missing or empty";
        return nullptr;
      }
      auto [low, high] = ValueRange(static_cast<DateWord>(i));
      for (const auto& [word, value] : words[kWordKeys[i]].items()) {
        if (word.empty() || !value.is_number_integer() || value.get<int>() < low || value.get<int>() > high) {
          *error = std::string("words.") + kWordKeys[i] + ": \"" + word + "\" needs a whole number from " + std::to_string(low) + " to " + std::to_string(high);
          return nullptr;
        }
        v->words[i].Add(word, value.get<int>());
        // Blockers, markers and connectors never start a form on their own.
        static constexpr DateWord kNoStart[] = {DateWord::kZhWeekdayBlocker, DateWord::kZhWeekCount, DateWord::kZhDayBlocker,
                                                DateWord::kFigureUnit, DateWord::kCurrency, DateWord::kNumberLabel, DateWord::kDirection,
                                                DateWord::kUnit, DateWord::kZhYear, DateWord::kZhMonth, DateWord::kZhDay,
                                                DateWord::kZhOf, DateWord::kZhWeekend, DateWord::kOf, DateWord::kDayAfterDate,
                                                DateWord::kOrdinalSuffix};
        if (std::find(std::begin(kNoStart), std::end(kNoStart), static_cast<DateWord>(i)) == std::end(kNoStart)) {
          AddStart(word, v.get());
        }
      }
    }
    const auto& holidays = doc.at("holidays");
    for (size_t i = 0; i < holidays.size(); ++i) {
      if (!ParseHoliday(holidays[i], i, v.get(), error)) return nullptr;
    }
    v->two_digit_year_ahead = doc.value("two_digit_year_ahead", 20);
    for (const auto& [lang, l] : doc.at("languages").items()) {
      v->languages[lang] = {l.value("ambiguous", "month_first") == "day_first", l.value("year_first", false)};
    }
    if (!ParseLunar(doc, v.get(), error)) return nullptr;
  } catch (const std::exception& e) {
    *error = e.what();
    return nullptr;
  }
  return v;
}

}  // namespace rd
