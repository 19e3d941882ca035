// FAQ retrieval and answers during the claim. Questions here are written as customers ask them and are
// not copied from knowledge/faq.json.
#include <catch2/catch.hpp>

#include "dialogs/text.h"
#include "knowledge/faq.h"
#include "tests/dialogs/dialog_harness.h"

namespace rd::test {

namespace {

struct Q { const char* text; const char* id; };

const Q kQuestions[] = {
    {"退款的期限有几天？", "window.length"},
    {"我还能退吗，已经过了好几天了", "window.length"},
    {"退款期从开通那天开始算吗？", "window.start"},
    {"我1月1号付款，5号才开通，期限从哪天算？", "window.payment_vs_activation"},
    {"延迟太高了可以退钱吗", "grounds.quality"},
    {"说好的节点连不上，可以退款吗", "grounds.not_delivered"},
    {"要准备哪些资料？", "evidence.what_to_prepare"},
    {"退款要扣手续费吗？", "fees.non_refundable"},
    {"能全额退吗", "fees.calculation"},
    {"你们是按流量计费还是包月", "billing.models"},
    {"退款流程是怎样的", "process.how_to_apply"},
    {"审核一般要多久", "process.timeline"},
    {"怎么看我的工单进度", "process.status"},
    {"延迟用什么工具测比较好", "trial.testing_tips"},
    {"能不能找个真人客服", "handoff.human"},
    {"what's the deadline for asking for my money back?", "window.length"},
    {"does the refund period start when I pay or when the line goes live?", "window.start"},
    {"I paid on the 1st and it was only activated on the 5th, which date counts?", "window.payment_vs_activation"},
    {"can I get a refund if the latency is bad", "grounds.quality"},
    {"the region you promised can't be reached, do I qualify for a refund?", "grounds.not_delivered"},
    {"what documents should I send you?", "evidence.what_to_prepare"},
    {"do you guys take a cut when refunding?", "fees.non_refundable"},
    {"will I get a full refund?", "fees.calculation"},
    {"what payment plans do you offer", "billing.models"},
    {"how do I apply?", "process.how_to_apply"},
    {"how long until the money is back in my account?", "process.timeline"},
    {"how can I check the status of my claim?", "process.status"},
    {"how should I measure latency for a test report?", "trial.testing_tips"},
    {"can I speak to a human agent?", "handoff.human"},
};

const char* kOffTopic[] = {"what is the weather like in Paris?", "你们老板是谁？", "tell me a joke",
                           "今天股票怎么样", "who won the football match yesterday?", "推荐一家好吃的餐厅"};

}  // namespace

TEST_CASE("FAQ retrieval finds the right entry for customers' phrasings", "[faq]") {
  const FaqIndex& faq = ShippedKnowledge()->faq;
  int correct = 0;
  for (const Q& q : kQuestions) {
    auto m = faq.Search(NormalizeForParsing(q.text), 1);
    bool ok = !m.empty() && m[0].entry->id == q.id && m[0].confidence >= FaqIndex::kAnswerThreshold;
    if (!ok) UNSCOPED_INFO(q.text << " -> " << (m.empty() ? "nothing" : m[0].entry->id) << " "
                                  << (m.empty() ? 0 : m[0].confidence));
    correct += ok;
  }
  // Top-1 above the threshold for at least 90 %.
  CHECK(correct * 10 >= static_cast<int>(std::size(kQuestions)) * 9);
}

TEST_CASE("off-topic questions stay below the confidence threshold", "[faq]") {
  const FaqIndex& faq = ShippedKnowledge()->faq;
  for (const char* q : kOffTopic) {
    auto m = faq.Search(NormalizeForParsing(q), 1);
    INFO(q);
    CHECK((m.empty() || m[0].confidence < FaqIndex::kAnswerThreshold));
  }
}

TEST_CASE("the FAQ validator names each problem", "[faq]") {
  auto errors_of = [](const char* text) {
    FaqIndex index;
    std::vector<std::string> errors;
    index.Load(nlohmann::json::parse(text), {"provider", "window_days"}, &errors);
    std::string all;
    for (const auto& e : errors) all += e + "\n";
    return all;
  };
  std::string ok = R"({"id": "a", "questions": {"zh": ["问"], "en": ["q"]}, "answer": {"zh": "答{window_days}", "en": "a"}})";
  CHECK(errors_of((std::string(R"({"entries": [)") + ok + "]}").c_str()).empty());
  CHECK(errors_of((std::string(R"({"entries": [)") + ok + "," + ok + "]}").c_str()).find("duplicate id") != std::string::npos);
  CHECK(errors_of(R"({"entries": [{"id": "b", "questions": {"zh": ["问"], "en": ["q"]}, "answer": {"zh": "答", "en": "{fee_ratio}"}}]})")
            .find("unknown placeholder {fee_ratio}") != std::string::npos);
  CHECK(errors_of(R"({"entries": [{"id": "c", "questions": {"zh": ["问"]}, "answer": {"zh": "答"}}]})")
            .find("questions.en needs") != std::string::npos);
  CHECK(errors_of(R"({"entries": [{"id": "c", "questions": {"zh": ["问"], "en": ["q"]}, "answer": {"zh": "答"}}]})")
            .find("answer.en is missing") != std::string::npos);
}

TEST_CASE("answers quote the loaded policy", "[faq]") {
  auto k = ShippedKnowledge();
  const FaqEntry* e = k->faq.Find("window.length");
  REQUIRE(e);
  std::string en = RenderTemplate(e->answer_en, k->PolicyParams(Lang::kEn));
  CHECK(en.find(std::to_string(k->policy.window_days) + " days") != std::string::npos);
  CHECK(en.find('{') == std::string::npos);
  std::string zh = RenderTemplate(e->answer_zh, k->PolicyParams(Lang::kZh));
  CHECK(zh.find(k->messages.Render("policy.window_start.activation", Lang::kZh)) != std::string::npos);
}

TEST_CASE("a question in every state of the claim is answered and the claim goes on", "[faq][engine]") {
  for (Lang lang : {Lang::kEn, Lang::kZh}) {
    const std::string question = lang == Lang::kEn ? "is there a fee for refunds?" : "退款要扣手续费吗？";
    const std::vector<std::string> steps = lang == Lang::kEn
        ? std::vector<std::string>{"hi", "paid on 2026-11-01", "activated on 2026-11-05", "latency 300ms",
                                   "contract", "ops@example.com"}
        : std::vector<std::string>{"你好", "2026年11月1日付款", "2026年11月5日开通", "延迟300毫秒", "合同",
                                   "ops@example.com"};
    const std::vector<std::string> pending = {"payment_date", "activation_date", "problems", "evidence", "contact",
                                              "confirmation"};
    // At start: greeting, answer, first question.
    DialogHarness start(lang, Date{2026, 11, 27});
    start.Say(question);
    CHECK(start.last.faq_id == "fees.non_refundable");
    CHECK(start.state.pending == "payment_date");
    for (size_t i = 0; i < steps.size(); ++i) {
      DialogHarness h(lang, Date{2026, 11, 27});
      for (size_t j = 0; j <= i; ++j) h.Say(steps[j]);
      REQUIRE(h.state.pending == pending[i]);
      nlohmann::json slots_before = h.state.slots;
      h.Say(question);
      INFO("asked while pending " << pending[i]);
      CHECK(h.last.faq_id == "fees.non_refundable");
      CHECK(h.state.pending == pending[i]);       // the same question is asked again
      CHECK(h.state.slots == slots_before);       // nothing forgotten, nothing guessed
      CHECK(h.state.failures.empty());
      CHECK(h.last.replies.size() >= 2);
    }
    DialogHarness filed(lang, Date{2026, 11, 27});
    for (const auto& s : steps) filed.Say(s);
    filed.Say(lang == Lang::kEn ? "yes" : "确认");
    REQUIRE(filed.state.state == "filed");
    filed.Say(question);
    CHECK(filed.last.faq_id == "fees.non_refundable");
    CHECK(filed.state.state == "filed");
  }
}

}  // namespace rd::test
