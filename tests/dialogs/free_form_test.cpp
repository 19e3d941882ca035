// Whole claims given the way customers write them: 1–3 free-form messages, then contact and "yes".
// The filed claim's dates, problem categories, figures and evidence types are checked.
#include <catch2/catch.hpp>

#include <set>

#include "tests/dialogs/dialog_harness.h"

namespace rd::test {

namespace {

struct Expected {
  const char* payment;
  const char* activation;
  std::map<std::string, nlohmann::json> problems;  // category -> metrics that must be present
  std::set<std::string> evidence;
};

// Sends the messages, answers what is still asked (evidence "none", a contact), confirms, and returns
// the filed claim.
nlohmann::json FileClaim(Lang lang, const std::vector<std::string>& messages) {
  DialogHarness h(lang, Date{2026, 11, 27});
  for (const auto& m : messages) h.Say(m);
  for (int guard = 0; guard < 4 && h.state.state == "collecting"; ++guard) {
    INFO("stuck at " << h.state.pending << ": " << h.last.replies.back().text);
    if (h.state.pending == "evidence") h.Say(lang == Lang::kZh ? "没有" : "none");
    else if (h.state.pending == "contact") h.Say("ops@example.com");
    else FAIL("the bot still asks for " << h.state.pending);
  }
  REQUIRE(h.state.state == "confirming");
  h.Say(lang == Lang::kZh ? "确认" : "yes");
  const Effect* e = h.FindEffect(Effect::Kind::kFileTicket);
  REQUIRE(e);
  return e->claim;
}

void Check(const nlohmann::json& claim, const Expected& x) {
  INFO(claim.dump());
  CHECK(claim["payment_date"] == x.payment);
  CHECK(claim["activation_date"] == x.activation);
  std::set<std::string> categories, want_categories;
  for (const auto& p : claim["problems"]) categories.insert(p["category"]);
  for (const auto& [c, m] : x.problems) want_categories.insert(c);
  CHECK(categories == want_categories);
  for (const auto& p : claim["problems"]) {
    auto want = x.problems.find(p["category"]);
    if (want == x.problems.end()) continue;
    for (const auto& [k, v] : want->second.items()) CHECK(p["metrics"][k] == v);
  }
  std::set<std::string> evidence;
  for (const auto& e : claim["evidence"]) evidence.insert(e["type"]);
  CHECK(evidence == x.evidence);
}

}  // namespace

TEST_CASE("free-form claims in English", "[freeform]") {
  Check(FileClaim(Lang::kEn, {"we paid on the 3rd of last month but the line only went live a week later; "
                              "Singapore viewers can't connect at all"}),
        {"2026-10-03", "2026-10-10", {{"region_unreachable", {{"region", "Singapore"}}}}, {}});
  Check(FileClaim(Lang::kEn, {"Hi, I'd like a refund.",
                              "Paid Nov 2, activated Nov 4. Since then latency is 300-400ms and packet loss around 6%.",
                              "I have the contract, the invoice and our monitoring report."}),
        {"2026-11-02", "2026-11-04",
         {{"latency", {{"latency_ms", 400}}}, {"packet_loss", {{"packet_loss_pct", 6}}}},
         {"contract", "payment_receipt", "test_report"}});
  Check(FileClaim(Lang::kEn, {"The line was activated yesterday, we paid last monday. Bandwidth is only 20 Mbps, "
                              "availability 97%. Screenshots attached."}),
        {"2026-11-23", "2026-11-26",
         {{"bandwidth", {{"bandwidth_mbps", 20}}}, {"availability", {{"availability_pct", 97}}}},
         {"screenshot"}});
  Check(FileClaim(Lang::kEn, {"latency has been terrible last week, ping 500", "we paid on 2026-11-10",
                              "it went live two days later"}),
        {"2026-11-10", "2026-11-12", {{"latency", {{"latency_ms", 500}}}}, {}});
  Check(FileClaim(Lang::kEn, {"paid 11/1/2026, activated 11/3/2026, support never replied and the promised "
                              "transcoding feature was not provided; I have email records"}),
        {"2026-11-01", "2026-11-03", {{"support_missing", {}}, {"feature_missing", {}}}, {"communication_records"}});
}

TEST_CASE("free-form claims in Chinese", "[freeform]") {
  Check(FileClaim(Lang::kZh, {"我是上个月15号付的款，20号才开通，这两周东南亚那边一直卡，延迟三四百毫秒"}),
        {"2026-10-15", "2026-10-20", {{"latency", {{"latency_ms", 400}, {"region", "东南亚"}}}}, {}});
  Check(FileClaim(Lang::kZh, {"你好，我要申请退款", "11月2日付的款，第二天开通的",
                              "丢包百分之八，可用性只有百分之九十五，我有合同和付款凭证"}),
        {"2026-11-02", "2026-11-03",
         {{"packet_loss", {{"packet_loss_pct", 8}}}, {"availability", {{"availability_pct", 95}}}},
         {"contract", "payment_receipt"}});
  Check(FileClaim(Lang::kZh, {"上周一付款，上周三开通，中东地区完全连不上，有聊天记录和测试报告"}),
        {"2026-11-16", "2026-11-18", {{"region_unreachable", {{"region", "中东"}}}},
         {"communication_records", "test_report"}});
  Check(FileClaim(Lang::kZh, {"開通是11月10號，付款是11月8號", "帶寬只有10兆，延遲500毫秒", "截圖"}),
        {"2026-11-08", "2026-11-10",
         {{"bandwidth", {{"bandwidth_mbps", 10}}}, {"latency", {{"latency_ms", 500}}}}, {"screenshot"}});
  Check(FileClaim(Lang::kZh, {"二〇二六年十一月一日付款，三天后开通，说好的转码功能一直没给"}),
        {"2026-11-01", "2026-11-04", {{"feature_missing", {}}}, {}});
}

TEST_CASE("a date about a problem is not taken for a payment date", "[engine]") {
  DialogHarness h(Lang::kEn, Date{2026, 11, 27});
  h.Say("latency was terrible last week, I want a refund");
  CHECK(!h.state.slots.contains("payment_date"));
  CHECK(h.state.slots["problems"][0]["category"] == "latency");
  CHECK(h.state.pending == "payment_date");
}

TEST_CASE("an ambiguous numeric date is asked about where the language's policy says so", "[engine]") {
  DialogHarness zh(Lang::kZh, Date{2026, 11, 27});
  zh.Say("你好");
  zh.Say("05/01/2026");
  CHECK(zh.state.awaiting == "date_choice");
  CHECK(zh.Said("question.date_choice"));
  CHECK(zh.last.replies.back().quick_replies == std::vector<std::string>{"2026-05-01", "2026-01-05"});
  CHECK(!zh.state.slots.contains("payment_date"));
  zh.Say("2026-01-05");  // the button
  CHECK(zh.state.slots["payment_date"] == "2026-01-05");
  CHECK(zh.state.pending == "activation_date");

  DialogHarness en(Lang::kEn, Date{2026, 11, 27});  // English: month first, no question
  en.Say("hi");
  en.Say("05/01/2026");
  CHECK(en.state.slots["payment_date"] == "2026-05-01");
}

TEST_CASE("an unknown question says so and offers the closest topics", "[engine]") {
  DialogHarness h(Lang::kEn, Date{2026, 11, 27});
  h.Say("hi");
  h.Say("what is the weather like in Paris?");
  CHECK(h.Said("faq.not_sure"));
  CHECK(h.last.faq_id.empty());
  CHECK(h.state.failures.empty());
  CHECK(h.Said("ask.payment_date"));
}

TEST_CASE("a question mid-claim is a digression, not an answer or a failure", "[engine]") {
  for (Lang lang : {Lang::kEn, Lang::kZh}) {
    DialogHarness h(lang, Date{2026, 11, 27});
    h.Say(lang == Lang::kEn ? "hi" : "你好");
    h.Say(lang == Lang::kEn ? "paid on 2026-11-01" : "2026年11月1日付款");
    h.Say(lang == Lang::kEn ? "Do you charge a fee for refunds?" : "退款要扣手续费吗？");
    CHECK(h.last.faq_id == "fees.non_refundable");  // answered from the FAQ
    CHECK(h.Said("ask.activation_date"));
    CHECK(h.state.failures.empty());
    CHECK(h.state.slots["payment_date"] == "2026-11-01");
    h.Say(lang == Lang::kEn ? "I don't know when it was activated" : "没什么证据");
    CHECK(h.last.faq_id.empty());  // a statement, not a question
    CHECK(!h.Said("faq.not_sure"));
  }
}

}  // namespace rd::test

namespace rd::test {
// The corpus convention: a region is kept as the customer spelled it (staff read the customer's words).
TEST_CASE("regions are shown and stored as the customer spelled them", "[engine]") {
  DialogHarness h(Lang::kZh, Date{2026, 11, 27});
  h.Say("你好");
  h.Say("2026年11月1日付款，11月5日开通，东南亚延迟400毫秒");
  CHECK(h.last.replies[0].text.find("地区 东南亚") != std::string::npos);
  CHECK(h.state.slots["problems"][0]["metrics"]["region"] == "东南亚");
}
}  // namespace rd::test
