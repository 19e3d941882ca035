// Every transition of the refund claim flow, in Chinese and in English.
#include <catch2/catch.hpp>

#include "tests/dialogs/dialog_harness.h"

namespace rd::test {

namespace {

// Walks a fresh conversation to the confirmation step.
void ToConfirming(DialogHarness& h, const Phrases& p) {
  h.Say(p.hello);
  h.Say(p.both_dates);
  h.Say(p.problems);
  h.Say(p.evidence);
  h.Say(p.contact);
  REQUIRE(h.state.state == "confirming");
}

}  // namespace

TEST_CASE("start -> collecting: greets and asks for the payment date", "[engine]") {
  for (const auto& p : BothLanguages()) {
    DialogHarness h(p.lang);
    h.Say(p.hello);
    CHECK(h.state.state == "collecting");
    CHECK(h.state.pending == "payment_date");
    CHECK(h.state.lang == p.lang);
    CHECK(h.Said("greeting"));
    CHECK(h.Said("ask.payment_date"));
  }
}

TEST_CASE("slots are asked one after another and the claim reaches confirmation", "[engine]") {
  for (const auto& p : BothLanguages()) {
    DialogHarness h(p.lang);
    h.Say(p.hello);
    h.Say(p.paid);
    CHECK(h.state.slots["payment_date"] == "2026-11-01");
    CHECK(h.state.pending == "activation_date");
    CHECK(h.Said("ask.activation_date"));
    h.Say(p.activated);
    CHECK(h.state.slots["activation_date"] == "2026-11-05");
    CHECK(h.state.pending == "problems");
    h.Say(p.problems);
    CHECK(h.state.pending == "evidence");
    h.Say(p.evidence);
    CHECK(h.state.pending == "contact");
    h.Say(p.contact);
    CHECK(h.state.state == "confirming");
    CHECK(h.state.pending == "confirmation");
    CHECK(h.Said("confirm.summary"));
    // The summary shows every answer.
    std::string summary = h.last.replies.back().text;
    CHECK(summary.find("2026-11-01") != std::string::npos);
    CHECK(summary.find("2026-11-05") != std::string::npos);
    CHECK(summary.find("kim@example.com") != std::string::npos);
    CHECK(h.last.replies.back().quick_replies.size() == 2);
  }
}

TEST_CASE("several slots in one message, in any order", "[engine]") {
  for (const auto& p : BothLanguages()) {
    DialogHarness h(p.lang);
    h.Say(p.hello);
    h.Say(p.both_dates);
    CHECK(h.state.slots["payment_date"] == "2026-11-01");
    CHECK(h.state.slots["activation_date"] == "2026-11-05");
    CHECK(h.state.pending == "problems");
  }
  // Activation named first, payment second; all facts in one opening message.
  DialogHarness en;
  en.Say("The line was activated on 2026-11-05 although we paid on 2026-11-01; latency 350ms. Contract attached, email a@b.co");
  CHECK(en.state.slots["payment_date"] == "2026-11-01");
  CHECK(en.state.slots["activation_date"] == "2026-11-05");
  CHECK(en.state.slots["problems"][0]["category"] == "latency");
  CHECK(en.state.slots["problems"][0]["metrics"]["latency_ms"] == 350);
  CHECK(en.state.slots["evidence"][0]["type"] == "contract");
  CHECK(en.state.slots["contact"]["email"] == "a@b.co");
  CHECK(en.state.state == "confirming");
  DialogHarness zh(Lang::kZh);
  zh.Say("11月5日开通的，11月1日付的款");
  CHECK(zh.state.slots["payment_date"] == "2026-11-01");
  CHECK(zh.state.slots["activation_date"] == "2026-11-05");
}

TEST_CASE("corrections while collecting and at the confirmation step", "[engine]") {
  for (const auto& p : BothLanguages()) {
    DialogHarness h(p.lang);
    h.Say(p.hello);
    h.Say(p.both_dates);
    h.Say(p.correction);  // while the bot asks for problems
    CHECK(h.state.slots["activation_date"] == "2026-11-06");
    CHECK(h.state.pending == "problems");

    DialogHarness c(p.lang);
    ToConfirming(c, p);
    c.Say(p.correction);
    CHECK(c.state.state == "confirming");
    CHECK(c.state.slots["activation_date"] == "2026-11-06");
    CHECK(c.Said("confirm.updated"));
    CHECK(c.last.replies.back().text.find("2026-11-06") != std::string::npos);
  }
}

TEST_CASE("confirming -> filed on yes, with a ticket effect and an assessment", "[engine]") {
  for (const auto& p : BothLanguages()) {
    DialogHarness h(p.lang);
    ToConfirming(h, p);
    h.Say(p.yes);
    CHECK(h.state.state == "filed");
    CHECK(h.state.pending.empty());
    const Effect* e = h.FindEffect(Effect::Kind::kFileTicket);
    REQUIRE(e);
    CHECK(e->claim["payment_date"] == "2026-11-01");
    CHECK(e->claim["activation_date"] == "2026-11-05");
    CHECK(e->claim["problems"].size() == 2);
    CHECK(e->claim["evidence"].size() == 2);
    CHECK(e->claim["contact"]["email"] == "kim@example.com");
    CHECK(e->assessment["verdict"] == "likely_eligible");
    CHECK(h.Said("filed.done"));
    CHECK(h.last.replies[0].text.find(kTicketIdPlaceholder) != std::string::npos);
  }
}

TEST_CASE("confirming: no asks what to change; something else is not understood", "[engine]") {
  for (const auto& p : BothLanguages()) {
    DialogHarness h(p.lang);
    ToConfirming(h, p);
    h.Say(p.no);
    CHECK(h.state.state == "confirming");
    CHECK(h.Said("confirm.what_to_change"));
    h.Say(p.gibberish);
    CHECK(h.state.state == "confirming");
    CHECK(h.Said("confirm.not_understood"));
    CHECK(h.last.effects.empty());
  }
}

TEST_CASE("an invalid answer says what was wrong; the second sums up and offers help; the third moves on",
          "[engine]") {
  for (const auto& p : BothLanguages()) {
    DialogHarness h(p.lang);
    h.Say(p.hello);
    h.Say(p.gibberish);
    CHECK(h.Said("retry.payment_date"));
    CHECK(h.state.failures["payment_date"] == 1);
    h.Say(p.future_date);
    CHECK(h.Said("error.date_future"));
    CHECK(!h.state.slots.contains("payment_date"));
    // Second failure: what the bot has (nothing yet), the slot still needed, and a person as a button.
    CHECK(h.Said("retry.nothing_yet"));
    const std::string human = h.ctx.knowledge->messages.Render("qr.human", p.lang);
    REQUIRE(!h.last.replies.empty());
    const auto& buttons = h.last.replies.back().quick_replies;
    CHECK(std::find(buttons.begin(), buttons.end(), human) != buttons.end());
    CHECK(h.state.state == "collecting");

    // The button reaches a person.
    DialogHarness d = h;
    d.Say(human);
    CHECK(d.state.state == "handoff");
    CHECK(d.HasEffect(Effect::Kind::kHandOff));

    // Third failure: no loop — the payment date is left for staff and the claim goes on.
    h.Say(p.gibberish);
    CHECK(h.Said("giveup.left_for_staff"));
    CHECK(h.state.pending == "activation_date");
    CHECK(h.state.left_for_staff.count("payment_date") == 1);
    CHECK(ClaimOf(h.state)["left_for_staff"] == nlohmann::json::array({"payment_date"}));
  }
}

TEST_CASE("dates before the earliest allowed date are refused", "[engine]") {
  DialogHarness h;
  h.Say("hello");
  h.Say("I paid on 2009-03-01");
  CHECK(h.Said("error.date_too_early"));
  CHECK(!h.state.slots.contains("payment_date"));
}

TEST_CASE("activation before payment is questioned once, then the customer's word stands", "[engine]") {
  for (const auto& p : BothLanguages()) {
    DialogHarness keep(p.lang);
    keep.Say(p.hello);
    keep.Say(p.lang == Lang::kEn ? "paid on 2026-11-05, activated on 2026-11-01" : "2026年11月5日付款，2026年11月1日开通");
    CHECK(keep.Said("question.activation_before_payment"));
    CHECK(keep.state.awaiting == "order_question");
    keep.Say(p.yes);
    CHECK(keep.state.slots["activation_date"] == "2026-11-01");
    CHECK(keep.state.pending == "problems");
    // Asked once: a later change to another early date is accepted without asking again.
    keep.Say(p.lang == Lang::kEn ? "activation was 2026-11-02" : "开通是2026年11月2日");
    CHECK(keep.state.slots["activation_date"] == "2026-11-02");
    CHECK(!keep.Said("question.activation_before_payment"));

    DialogHarness redo(p.lang);
    redo.Say(p.hello);
    redo.Say(p.lang == Lang::kEn ? "paid on 2026-11-05, activated on 2026-11-01" : "2026年11月5日付款，2026年11月1日开通");
    redo.Say(p.no);
    CHECK(!redo.state.slots.contains("activation_date"));
    CHECK(redo.state.pending == "activation_date");
    CHECK(redo.Said("ask.activation_date"));
  }
}

TEST_CASE("cancel -> cancelled; restart -> collecting with nothing kept", "[engine]") {
  for (const auto& p : BothLanguages()) {
    DialogHarness h(p.lang);
    h.Say(p.hello);
    h.Say(p.both_dates);
    h.Say(p.cancel);
    CHECK(h.state.state == "cancelled");
    CHECK(h.Said("cancel.done"));
    h.Say(p.problems);
    CHECK(h.state.state == "cancelled");
    CHECK(h.Said("cancelled.info"));
    h.Say(p.restart);
    CHECK(h.state.state == "collecting");
    CHECK(h.state.slots.empty());
    CHECK(h.state.pending == "payment_date");
    CHECK(h.Said("restart.done"));

    DialogHarness c(p.lang);
    ToConfirming(c, p);
    c.Say(p.cancel);
    CHECK(c.state.state == "cancelled");
    DialogHarness f(p.lang);
    ToConfirming(f, p);
    f.Say(p.yes);
    f.Say(p.restart);
    CHECK(f.state.state == "collecting");
    CHECK(f.state.ticket_id.empty());
  }
}

TEST_CASE("human -> handoff from every state; the bot is then silent", "[engine]") {
  for (const auto& p : BothLanguages()) {
    DialogHarness start(p.lang);
    start.Say(p.human);
    CHECK(start.state.state == "handoff");
    CHECK(start.HasEffect(Effect::Kind::kHandOff));
    CHECK(start.last.effects[0].reason == "customer_asked");
    CHECK(start.Said("handoff.started"));
    start.Say(p.paid);
    CHECK(start.last.replies.empty());
    CHECK(start.state.state == "handoff");

    DialogHarness confirming(p.lang);
    ToConfirming(confirming, p);
    confirming.Say(p.human);
    CHECK(confirming.state.state == "handoff");
    CHECK(confirming.state.resume_state == "confirming");

    DialogHarness filed(p.lang);
    ToConfirming(filed, p);
    filed.Say(p.yes);
    filed.Say(p.human);
    CHECK(filed.state.state == "handoff");
  }
}

TEST_CASE("help explains, then asks the pending question again", "[engine]") {
  for (const auto& p : BothLanguages()) {
    DialogHarness h(p.lang);
    h.Say(p.hello);
    h.Say(p.both_dates);
    h.Say(p.help);
    CHECK(h.Said("help"));
    CHECK(h.Said("ask.problems"));
    CHECK(h.state.slots["payment_date"] == "2026-11-01");
    CHECK(h.state.failures.empty());
  }
}

TEST_CASE("ticket status questions", "[engine]") {
  for (const auto& p : BothLanguages()) {
    DialogHarness h(p.lang);
    ToConfirming(h, p);
    h.Say(p.yes);
    h.state.ticket_id = "RF-20261110-0001";
    h.ctx.ticket_statuses["RF-20261110-0001"] = "in_review";
    h.Say("RF-20261110-0001?");
    CHECK(h.Said("status.of"));
    CHECK(h.last.replies[0].text.find(h.ctx.knowledge->messages.Render("ticket_status.in_review", p.lang)) != std::string::npos);
    h.Say("rf-20261109-0042");
    CHECK(h.Said("status.unknown"));
    CHECK(h.last.replies[0].text.find("RF-20261109-0042") != std::string::npos);

    DialogHarness mid(p.lang);
    mid.Say(p.hello);
    mid.Say(p.lang == Lang::kEn ? "what is the ticket status?" : "我的退款进度怎么样了");
    CHECK(mid.Said("status.none"));
    CHECK(mid.Said("ask.payment_date"));  // and the claim goes on
  }
}

TEST_CASE("filed: further messages point to the ticket; thanks is answered", "[engine]") {
  for (const auto& p : BothLanguages()) {
    DialogHarness h(p.lang);
    ToConfirming(h, p);
    h.Say(p.yes);
    h.state.ticket_id = "RF-20261110-0007";
    h.Say(p.problems);
    CHECK(h.Said("filed.already"));
    CHECK(h.last.replies[0].text.find("RF-20261110-0007") != std::string::npos);
    CHECK(h.last.effects.empty());
    h.Say(p.thanks);
    CHECK(h.Said("smalltalk.welcome_filed"));
  }
}

TEST_CASE("evidence may be none; contact is skipped when the channel identifies the customer", "[engine]") {
  for (const auto& p : BothLanguages()) {
    DialogHarness h(p.lang);
    h.ctx.channel_identifies_customer = true;
    h.Say(p.hello);
    h.Say(p.both_dates);
    h.Say(p.problems);
    h.Say(p.none);
    CHECK(h.state.slots["evidence"].empty());
    CHECK(h.state.state == "confirming");  // no contact question
    h.Say(p.yes);
    const Effect* e = h.FindEffect(Effect::Kind::kFileTicket);
    REQUIRE(e);
    CHECK(e->claim["evidence"].empty());
    CHECK(e->assessment["verdict"] == "needs_review");  // grounds but no evidence
  }
}

TEST_CASE("billing and amount said along the way reach the ticket's refund estimate, never asked", "[engine][billing]") {
  struct Script { Lang lang; const char* opening; const char* rest; const char* problems; const char* evidence; };
  const Script scripts[] = {
      {Lang::kEn, "I want a refund, we paid 3,000 yuan for the monthly plan on 2026-11-01",
       "the line was activated on 2026-11-05", "latency 400 ms every evening", "I have the contract"},
      {Lang::kZh, "我要退款，11月1号付的款，包月套餐付了3000元", "11月5号开通的", "晚上延迟400毫秒", "有合同"},
  };
  for (const Script& sc : scripts) {
    DialogHarness h(sc.lang, Date{2026, 11, 17});
    h.ctx.channel_identifies_customer = true;
    h.Say(sc.opening);
    CHECK(h.state.slots["billing"]["billing_model"] == "monthly");
    CHECK(h.state.pending == "activation_date");  // billing is taken, never asked for
    h.Say(sc.rest);
    h.Say(sc.problems);
    h.Say(sc.evidence);
    REQUIRE(h.state.state == "confirming");
    // The summary shows what the estimate will use.
    CHECK(h.last.replies.back().text.find(h.ctx.knowledge->messages.Render("billing.monthly", sc.lang)) != std::string::npos);
    h.Say(sc.lang == Lang::kEn ? "yes" : "对");
    const Effect* e = h.FindEffect(Effect::Kind::kFileTicket);
    REQUIRE(e);
    CHECK(e->claim["billing_model"] == "monthly");
    CHECK(e->claim["amount_paid"] == 3000);
    CHECK(e->assessment["estimate"]["refund"].get<double>() == Approx(1800));  // 12 of 30 days used
  }
}

TEST_CASE("language is detected, kept, and switched when the customer switches", "[engine]") {
  DialogHarness h(Lang::kEn);
  h.Say("你好，我要退款");
  CHECK(h.state.lang == Lang::kZh);
  h.Say("2026-11-01");  // a bare date says nothing about language
  CHECK(h.state.lang == Lang::kZh);
  CHECK(h.Said("ask.activation_date"));
  h.Say("sorry, I prefer English: it was activated on 2026-11-05");
  CHECK(h.state.lang == Lang::kEn);
  CHECK(h.Said("ask.problems"));
  CHECK(h.last.replies.back().text == h.ctx.knowledge->messages.Render("ask.problems", Lang::kEn));
}

TEST_CASE("idle claims expire; the customer continues or starts anew", "[engine]") {
  for (const auto& p : BothLanguages()) {
    DialogHarness h(p.lang);
    h.Say(p.hello);
    h.Say(p.both_dates);
    h.AdvanceDays(8);
    h.Say(p.problems);
    CHECK(h.state.state == "expired");
    CHECK(h.Said("expired.offer"));
    CHECK(h.last.replies[0].quick_replies.size() == 2);
    DialogHarness fresh = h;
    h.Say(p.cont);
    CHECK(h.state.state == "collecting");
    CHECK(h.state.slots["payment_date"] == "2026-11-01");
    CHECK(h.Said("ask.problems"));
    fresh.Say(p.start_new);
    CHECK(fresh.state.state == "collecting");
    CHECK(fresh.state.slots.empty());
    CHECK(fresh.Said("ask.payment_date"));

    // Not idle long enough: no expiry.
    DialogHarness recent(p.lang);
    recent.Say(p.hello);
    recent.AdvanceDays(6);
    recent.Say(p.paid);
    CHECK(recent.state.state == "collecting");
  }
}

TEST_CASE("quick replies are understood when clicked", "[engine]") {
  for (Lang lang : {Lang::kEn, Lang::kZh}) {
    DialogHarness h(lang);
    h.Say(lang == Lang::kEn ? "hi" : "你好");
    h.Say("2026-11-01");
    h.Say("2026-11-05");
    std::vector<std::string> categories = h.last.replies.back().quick_replies;
    REQUIRE(categories.size() == 6);
    for (const auto& label : categories) {
      DialogHarness c = h;
      c.Say(label);
      CHECK(c.state.pending == "evidence");
    }
    h.Say(categories[0]);
    for (const auto& label : h.last.replies.back().quick_replies) {
      DialogHarness c = h;
      c.Say(label);
      CHECK(c.state.pending == "contact");
    }
    h.Say(h.last.replies.back().quick_replies.back());  // "None"
    h.Say("order 778812");
    REQUIRE(h.state.state == "confirming");
    auto confirm = h.last.replies.back().quick_replies;
    DialogHarness change = h;
    change.Say(confirm[1]);
    CHECK(change.Said("confirm.what_to_change"));
    h.Say(confirm[0]);
    CHECK(h.state.state == "filed");
  }
}

TEST_CASE("dialog state survives a JSON round trip", "[engine]") {
  DialogHarness h(Lang::kZh);
  h.Say("你好");
  h.Say("2026年11月1日付款");
  h.Say("紫色大象");
  DialogState back = DialogStateFromJson(ToJson(h.state));
  CHECK(ToJson(back) == ToJson(h.state));
  CHECK(back.failures.at("activation_date") == 1);
  CHECK(back.lang == Lang::kZh);

  // Members at their default are not stored (the state is written on every turn) and come back.
  const nlohmann::json fresh = ToJson(DialogState{});
  CHECK_FALSE(fresh.contains("asked_once"));
  CHECK_FALSE(fresh.contains("failures"));
  CHECK(ToJson(DialogStateFromJson(fresh)) == fresh);

  DialogState every;  // each member set, so none is dropped on the way
  every.state = kHandoff;
  every.lang = Lang::kZh;
  every.lang_known = true;
  every.slots = {{"payment_date", "2026-11-01"}, {"problems", {{{"category", "latency"}}}}};
  every.pending = "activation_date";
  every.failures = {{"activation_date", 2}, {"evidence", 1}};
  every.awaiting = "date_choice";
  every.asked_once = {"billing", "contact"};
  every.resume_state = kCollecting;
  every.ticket_id = "RF-20261110-0001";
  every.date_choices = {"2026-03-04", "2026-04-03"};
  every.last_date = "2026-11-01";
  every.last_active = 1790000000;
  DialogState copy = DialogStateFromJson(nlohmann::json::parse(ToJson(every).dump()));
  CHECK(ToJson(copy) == ToJson(every));
  CHECK(copy.asked_once == every.asked_once);
  CHECK(copy.date_choices == every.date_choices);
  CHECK(copy.failures == every.failures);
  CHECK(copy.slots == every.slots);
  CHECK(copy.last_active == every.last_active);
  // Something that is not a dialog state (a damaged row) reads as a fresh one, not a crash.
  CHECK(DialogStateFromJson(nlohmann::json::array()).state == kStart);
}

TEST_CASE("a claim cancelled before a new one began is kept in the stored state", "[engine]") {
  for (const auto& p : BothLanguages()) {
    DialogHarness h(p.lang);
    h.Say(p.hello);
    h.Say(p.paid);
    h.Say(p.cancel);
    REQUIRE(h.state.state == "cancelled");
    h.Say(p.lang == Lang::kZh ? "我又想申请退款" : "I need a refund after all");
    CHECK(h.state.state == "collecting");
    CHECK(!h.state.slots.contains("payment_date"));
    DialogState stored = DialogStateFromJson(ToJson(h.state));
    REQUIRE(stored.cancelled_claims.size() == 1);
    CHECK(stored.cancelled_claims[0]["payment_date"] == "2026-11-01");
  }
}

}  // namespace rd::test
