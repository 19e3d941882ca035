// Drives the pure engine turn by turn with the shipped knowledge and a fixed "today".
#pragma once

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "dialogs/engine.h"
#include "knowledge/knowledge.h"

namespace rd::test {

inline std::shared_ptr<const Knowledge> ShippedKnowledge() {
  static std::shared_ptr<const Knowledge> k = [] {
    std::vector<std::string> errors;
    auto loaded = LoadKnowledge(RD_KNOWLEDGE_DIR, &errors);
    for (const auto& e : errors) UNSCOPED_INFO(e);
    REQUIRE(loaded);
    return loaded;
  }();
  return k;
}

class DialogHarness {
 public:
  explicit DialogHarness(Lang lang = Lang::kEn, Date today = Date{2026, 11, 10}) {
    ctx.knowledge = ShippedKnowledge().get();
    ctx.today = today;
    ctx.now = today.ToDays() * 86400 + 36000;
    ctx.default_lang = lang;
  }

  // Sends one message; returns the replies' texts joined by "\n".
  std::string Say(const std::string& text) {
    last = Step(state, text, ctx);
    state = last.state;
    std::string joined;
    for (const auto& r : last.replies) joined += (joined.empty() ? "" : "\n") + r.text;
    return joined;
  }
  // The text of message `key` in the conversation's language, up to its first placeholder — enough to
  // recognise that the bot said it without hard-coding any wording in the tests.
  std::string Expect(const std::string& key) const {
    std::string t = ctx.knowledge->messages.Render(key, state.lang);
    size_t brace = t.find('{');
    return brace == std::string::npos ? t : t.substr(0, brace);
  }
  bool Said(const std::string& key) const {
    std::string prefix = Expect(key);
    for (const auto& r : last.replies) if (r.text.find(prefix) != std::string::npos) return true;
    return false;
  }
  bool HasEffect(Effect::Kind kind) const {
    for (const auto& e : last.effects) if (e.kind == kind) return true;
    return false;
  }
  const Effect* FindEffect(Effect::Kind kind) const {
    for (const auto& e : last.effects) if (e.kind == kind) return &e;
    return nullptr;
  }
  void AdvanceDays(int days) { ctx.now += int64_t{days} * 86400; ctx.today = ctx.today.AddDays(days); }

  DialogContext ctx;
  DialogState state;
  StepResult last;
};

// One phrase per language for the steps of a claim, so each transition test runs in zh and en.
struct Phrases {
  Lang lang;
  std::string hello, paid, activated, both_dates, problems, evidence, none, contact, yes, no, cancel,
      restart, human, help, future_date, gibberish, correction, cont, start_new, thanks;
};

inline std::vector<Phrases> BothLanguages() {
  return {
      {Lang::kEn, "Hello, I want a refund for my line", "I paid on 2026-11-01", "it was activated on 2026-11-05",
       "I paid on 2026-11-01 and it was activated on 2026-11-05", "latency is over 300ms and packet loss 5%",
       "I have the contract and a monitoring report", "none", "my email is kim@example.com", "yes", "no",
       "cancel", "restart", "I want to talk to a human", "help", "I paid on 2026-12-25",
       "purple elephants dance", "no, activation was 2026-11-06", "continue", "start a new claim", "thanks"},
      {Lang::kZh, "你好，我想申请退款", "我是2026年11月1日付的款", "2026年11月5日开通的",
       "2026年11月1日付款，2026年11月5日开通", "延迟超过300毫秒，丢包5%", "我有合同和监控报告", "没有",
       "我的邮箱是 kim@example.com", "确认", "不对", "取消", "重新开始", "转人工", "帮助", "我是2026年12月25日付的款",
       "紫色大象在跳舞", "不对，开通是2026年11月6日", "继续", "重新申请", "谢谢"},
  };
}

}  // namespace rd::test
