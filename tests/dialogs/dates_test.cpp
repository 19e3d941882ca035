#include <catch2/catch.hpp>

#include "dialogs/dates.h"
#include "dialogs/text.h"
#include "tests/dialogs/date_harness.h"

namespace rd {

namespace {
std::vector<std::string> Dates(const std::string& text, Date today = Date{2026, 11, 27}) {
  std::vector<std::string> out;
  for (const auto& m : FindDates(NormalizeForParsing(text), today, WithWords())) out.push_back(m.date.Iso());
  return out;
}
using V = std::vector<std::string>;
}  // namespace

TEST_CASE("calendar arithmetic", "[dates]") {
  CHECK(Date{1970, 1, 1}.ToDays() == 0);
  CHECK(Date{2026, 1, 5}.AddDays(7).Iso() == "2026-01-12");
  CHECK(Date{2024, 2, 28}.AddDays(1).Iso() == "2024-02-29");
  CHECK(Date{2025, 12, 31}.AddDays(1).Iso() == "2026-01-01");
  CHECK(Date::FromDays(Date{1969, 12, 31}.ToDays()).Iso() == "1969-12-31");
  CHECK(Date::IsValid(2024, 2, 29));
  CHECK(!Date::IsValid(2019, 2, 29));
  CHECK(!Date::IsValid(1900, 2, 29));
  CHECK(Date::IsValid(2000, 2, 29));
  CHECK(!Date::IsValid(2026, 4, 31));
  CHECK(Date::FromIso("2026-11-05") == Date{2026, 11, 5});
  CHECK(!Date::FromIso("2026-02-30"));
  CHECK(!Date::FromIso("2026-1-5"));
  CHECK(!Date::FromIso("2026-11-05x"));
}

TEST_CASE("ISO and local forms", "[dates]") {
  CHECK(Dates("2026-11-05") == V{"2026-11-05"});
  CHECK(Dates("paid 2026/11/5 ok") == V{"2026-11-05"});
  CHECK(Dates("on 2026.1.5.") == V{"2026-01-05"});
  CHECK(Dates("2026年11月5日") == V{"2026-11-05"});
  CHECK(Dates("2026年1月15号开通") == V{"2026-01-15"});
  CHECK(Dates("２０２６年１１月５日") == V{"2026-11-05"});  // full-width digits
  CHECK(Dates("Nov 5, 2026") == V{"2026-11-05"});
  CHECK(Dates("November 5th 2026") == V{"2026-11-05"});
  CHECK(Dates("on 5 Nov 2026") == V{"2026-11-05"});
  CHECK(Dates("the 21st of September, 2025") == V{"2025-09-21"});
  CHECK(Dates("Sept. 3 2025") == V{"2025-09-03"});
}

TEST_CASE("a date without a year is the most recent one not after today", "[dates]") {
  CHECK(Dates("11月5日") == V{"2026-11-05"});
  CHECK(Dates("12月5日", Date{2026, 11, 27}) == V{"2025-12-05"});
  CHECK(Dates("Nov 27") == V{"2026-11-27"});
  CHECK(Dates("Nov 28") == V{"2025-11-28"});
  CHECK(Dates("2月29日") == V{"2024-02-29"});
}

TEST_CASE("impossible dates are no date at all", "[dates]") {
  CHECK(Dates("2026-02-30").empty());
  CHECK(Dates("2月30日").empty());
  CHECK(Dates("Feb 30").empty());
  CHECK(Dates("2019/2/29").empty());
  CHECK(Dates("2026-13-01").empty());
  CHECK(Dates("April 31, 2026").empty());
}

TEST_CASE("numbers that are not dates", "[dates]") {
  CHECK(Dates("latency 300ms, loss 5%").empty());
  CHECK(Dates("order 20261105").empty());
  CHECK(Dates("version 1.2.3").empty());
  CHECK(Dates("may I ask something").empty());
  CHECK(Dates("mar 300").empty());
}

TEST_CASE("several dates in order", "[dates]") {
  CHECK(Dates("paid 2026-11-01, activated 2026-11-05") == V{"2026-11-01", "2026-11-05"});
  CHECK(Dates("11月1日付款，11月5日开通") == V{"2026-11-01", "2026-11-05"});
}

}  // namespace rd

namespace rd {
TEST_CASE("an anchor from earlier in the conversation", "[dates]") {
  DateOptions o;
  o.anchor = Date{2026, 10, 15};
  auto ms = FindDates(NormalizeForParsing("20号才开通"), Date{2026, 11, 27}, WithWords(o));
  REQUIRE(ms.size() == 1);
  CHECK(ms[0].date.Iso() == "2026-10-20");
  ms = FindDates("it went live two days later", Date{2026, 11, 27}, WithWords(o));
  REQUIRE(ms.size() == 1);
  CHECK(ms[0].date.Iso() == "2026-10-17");
}
}  // namespace rd
