#include <catch2/catch.hpp>

#include "dialogs/text.h"
#include "dialogs/understanding.h"
#include "tests/dialogs/dialog_harness.h"

namespace rd::test {

namespace {
Understanding U(const std::string& text, const std::string& pending = "") {
  return Understand(text, NormalizeForParsing(text), Date{2026, 11, 27}, ShippedKnowledge()->vocab, pending);
}
const Problem* Find(const Understanding& u, const std::string& category) {
  for (const auto& p : u.problems) if (p.category == category) return &p;
  return nullptr;
}
}  // namespace

TEST_CASE("text normalisation and validation", "[text]") {
  CHECK(NormalizeForParsing("  Paid   ON\t2026 ") == "paid on 2026");
  CHECK(NormalizeForParsing("１１月５日，ＯＫ。") == "11月5日,ok.");
  CHECK(IsValidUtf8("plain ascii"));
  CHECK(IsValidUtf8("中文 ✓"));
  CHECK(!IsValidUtf8(std::string("\xff\xfe")));
  CHECK(!IsValidUtf8(std::string("\xe4\xb8")));          // truncated
  CHECK(!IsValidUtf8(std::string("\xc0\xaf")));          // overlong '/'
  CHECK(!IsValidUtf8(std::string("\xed\xa0\x80")));      // surrogate
  CHECK(DetectLanguage("ok", Lang::kZh) == Lang::kZh);
  CHECK(DetectLanguage("2026-11-05", Lang::kEn) == Lang::kEn);
  CHECK(DetectLanguage("我要退款", Lang::kEn) == Lang::kZh);
  CHECK(DetectLanguage("i want a refund", Lang::kZh) == Lang::kEn);
  CHECK(FindWord("no, not now", "not") == 4);
  CHECK(FindWord("nothing", "no") == std::string::npos);
}

TEST_CASE("date roles follow the nearest cue word", "[understanding]") {
  auto u = U("we paid on 2026-11-01 but the line went live on 2026-11-08");
  REQUIRE(u.dates.size() == 2);
  CHECK(u.dates[0].role == "payment_date");
  CHECK(u.dates[1].role == "activation_date");
  u = U("开通是2026年11月8日，付款是2026年11月1日");
  REQUIRE(u.dates.size() == 2);
  CHECK(u.dates[0].role == "activation_date");
  CHECK(u.dates[1].role == "payment_date");
  u = U("2026-11-01");
  REQUIRE(u.dates.size() == 1);
  CHECK(u.dates[0].role.empty());
}

TEST_CASE("problems with figures", "[understanding]") {
  auto u = U("latency over 300ms and packet loss 5%");
  REQUIRE(Find(u, "latency"));
  CHECK(Find(u, "latency")->metrics["latency_ms"] == 300);
  REQUIRE(Find(u, "packet_loss"));
  CHECK(Find(u, "packet_loss")->metrics["packet_loss_pct"] == 5);
  u = U("availability was only 97.5% last week");
  REQUIRE(Find(u, "availability"));
  CHECK(Find(u, "availability")->metrics["availability_pct"] == 97.5);
  u = U("带宽只有20Mbps");
  REQUIRE(Find(u, "bandwidth"));
  CHECK(Find(u, "bandwidth")->metrics["bandwidth_mbps"] == 20);
  u = U("Singapore viewers can't connect at all");
  REQUIRE(Find(u, "region_unreachable"));
  CHECK(Find(u, "region_unreachable")->metrics["region"] == "Singapore");
  CHECK(Find(u, "region_unreachable")->description == "Singapore viewers can't connect at all");
  u = U("东南亚那边一直卡，延迟400毫秒");
  REQUIRE(Find(u, "latency"));
  CHECK(Find(u, "latency")->metrics["latency_ms"] == 400);
  CHECK(Find(u, "latency")->metrics["region"] == "东南亚");
  u = U("we paid by credit card");  // "卡"-like false friends must not count
  CHECK(u.problems.empty());
  CHECK(U("我用信用卡付的款").problems.empty());
}

TEST_CASE("absurd figures are ignored, not overflowed (found by the fuzzer)", "[understanding]") {
  auto u = U("latency 222222222222222222222222222222222222222222400ms, loss 5%");
  REQUIRE(!u.problems.empty());
  for (const auto& p : u.problems) CHECK(!p.metrics.contains("latency_ms"));
}

TEST_CASE("evidence, contact and intents", "[understanding]") {
  auto u = U("I have the contract, the invoice and a speed test");
  std::vector<std::string> types;
  for (const auto& e : u.evidence) types.push_back(e.type);
  CHECK(types == std::vector<std::string>{"contract", "payment_receipt", "test_report"});
  CHECK(*U("mail me at Kim.Lee+rd@example.co.uk please").email == "Kim.Lee+rd@example.co.uk");  // as written
  CHECK(*U("订单号：LL-88123").account == "LL-88123");
  CHECK(*U("my order number is 991234").account == "991234");
  CHECK(*U("A1B2C3D4", "contact").account == "A1B2C3D4");
  CHECK(!U("A1B2C3D4").account);  // a bare token only counts when contact is asked
  CHECK(!U("I ordered it").account);
  CHECK(U("Yes, file it").Has("yes"));
  CHECK(U("no, activation was 2026-11-06").Has("no"));
  CHECK(!U("I know nothing").Has("no"));
  CHECK(U("取消").Has("cancel"));
  CHECK(U("算了").Has("cancel"));
  CHECK(!U("can I cancel the subscription and get a refund for the latency?").Has("cancel"));
  CHECK(U("I want to talk to a human").Has("human"));
  CHECK(U("转人工").Has("human"));
  CHECK(U("好的").Has("yes"));
  CHECK(U("status of RF-20261110-0003 please").ticket_ids == std::vector<std::string>{"RF-20261110-0003"});
  CHECK(U("rf-2026111-0003").ticket_ids.empty());
}

TEST_CASE("billing model, amount paid and traffic used, for the refund estimate", "[understanding][billing]") {
  struct Case { const char* text; const char* model; double amount; const char* currency; double used_pct; };
  const Case cases[] = {
      {"we paid 3,000 yuan for the monthly plan", "monthly", 3000, "CNY", -1},
      {"I'm on a monthly subscription, paid $450", "monthly", 450, "USD", -1},
      {"paid USD 1200 by the hour billing", "duration", 1200, "USD", -1},
      {"it's billed by traffic and we have used 40% of the traffic", "traffic", -1, "", 40},
      {"traffic plan, used 200 GB of 500 GB, paid 800 rmb", "traffic", 800, "CNY", 40},
      {"我们是包月的，付了3000元", "monthly", 3000, "CNY", -1},
      {"按流量计费，流量用了百分之二十五，一共交了五千块", "traffic", 5000, "CNY", 25},
      {"按时长计费，花了1.2万元", "duration", 12000, "CNY", -1},
      {"流量包用了300G，总共1T，付了2000港币", "traffic", 2000, "HKD", 30},
      {"paid 3k usd last month", "", 3000, "USD", -1},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto u = U(c.text);
    if (*c.model) {
      REQUIRE(u.billing_model);
      CHECK(*u.billing_model == c.model);
    } else {
      CHECK(!u.billing_model);
    }
    if (c.amount >= 0) {
      REQUIRE(u.amount_paid);
      CHECK(*u.amount_paid == Approx(c.amount));
      CHECK(u.currency.value_or("") == c.currency);
    } else {
      CHECK(!u.amount_paid);
    }
    if (c.used_pct >= 0) {
      REQUIRE(u.traffic_used_pct);
      CHECK(*u.traffic_used_pct == Approx(c.used_pct));
    } else {
      CHECK(!u.traffic_used_pct);
    }
  }
  // Figures that are not money stay what they are.
  auto u = U("latency 300ms and 5% packet loss since 2026-11-02");
  CHECK(!u.amount_paid);
  CHECK(!u.traffic_used_pct);
  CHECK(Find(u, "packet_loss") != nullptr);
  u = U("我们11月1日付款，延迟300毫秒");
  CHECK(!u.amount_paid);
}

}  // namespace rd::test
