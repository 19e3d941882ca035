#include "dialogs/engine.h"

#include <algorithm>
#include <cmath>

#include "dialogs/understanding.h"
#include "knowledge/assessment.h"

namespace rd {

using nlohmann::json;

// Members at their default are left out (DialogStateFromJson restores them): the state is stored on
// every turn, and a shorter one fits more conversations on a page of the store.
json ToJson(DialogState s) {
  json j = {{"state", std::move(s.state)}, {"lang", LangCode(s.lang)}, {"last_active", s.last_active}};
  j["slots"] = std::move(s.slots);
  if (s.lang_known) j["lang_known"] = true;
  if (!s.pending.empty()) j["pending"] = s.pending;
  if (!s.failures.empty()) {
    json& failures = j["failures"] = json::object();
    for (const auto& [k, v] : s.failures) failures[k] = v;
  }
  if (!s.awaiting.empty()) j["awaiting"] = s.awaiting;
  if (!s.asked_once.empty()) j["asked_once"] = s.asked_once;
  if (!s.resume_state.empty()) j["resume_state"] = s.resume_state;
  if (!s.ticket_id.empty()) j["ticket_id"] = s.ticket_id;
  if (!s.date_choices.empty()) j["date_choices"] = s.date_choices;
  if (!s.last_date.empty()) j["last_date"] = s.last_date;
  return j;
}

// Reads members in place (find, not value()): value() copies each object and array it returns, and this
// runs on every turn.
DialogState DialogStateFromJson(json j) {
  DialogState s;
  if (!j.is_object()) return s;
  const auto member = [&](const char* key) -> json* {
    auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
  };
  s.state = j.value("state", std::string(kStart));
  ParseLang(j.value("lang", std::string("en")), &s.lang);
  s.lang_known = j.value("lang_known", false);
  if (json* slots = member("slots"); slots && slots->is_object()) s.slots = std::move(*slots);
  s.pending = j.value("pending", "");
  if (const json* failures = member("failures"); failures && failures->is_object()) {
    for (const auto& [k, v] : failures->items()) s.failures[k] = v.get<int>();
  }
  s.awaiting = j.value("awaiting", "");
  if (const json* asked = member("asked_once"); asked && asked->is_array()) {
    for (const auto& v : *asked) s.asked_once.insert(v.get<std::string>());
  }
  s.resume_state = j.value("resume_state", "");
  s.ticket_id = j.value("ticket_id", "");
  if (const json* choices = member("date_choices"); choices && choices->is_array()) {
    for (const auto& v : *choices) s.date_choices.push_back(v.get<std::string>());
  }
  s.last_date = j.value("last_date", "");
  s.last_active = j.value("last_active", int64_t{0});
  return s;
}

json ClaimOf(const DialogState& s) {
  json claim = json::object();
  for (const char* field : {"payment_date", "activation_date"}) {
    claim[field] = s.slots.contains(field) ? s.slots[field] : json(nullptr);
  }
  claim["problems"] = s.slots.value("problems", json::array());
  claim["evidence"] = s.slots.value("evidence", json::array());
  claim["contact"] = s.slots.value("contact", json::object());
  // Optional, for the refund estimate: billing_model, amount_paid, currency, traffic_used_pct.
  const json billing = s.slots.value("billing", json::object());
  for (const auto& [field, value] : billing.items()) claim[field] = value;
  return claim;
}

namespace {

bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// One turn of the engine: holds the working copy of the state and the replies being built.
class Turn {
 public:
  Turn(DialogState state, const std::string& text, const DialogContext& ctx)
      : ctx_(ctx), k_(*ctx.knowledge), flow_(k_.flow), text_(text) {
    result_.state = std::move(state);
  }

  // Each returns the turn's result, for the caller to move out (a copy would copy the whole state).
  StepResult& Run();
  StepResult& RunStaffAction(const StaffAction& action);
  StepResult& RunAttachment(const Attachment& file);
  std::string Summary();

 private:
  DialogState& st() { return result_.state; }
  std::string Text(const std::string& key, const json& params = json::object()) {
    return k_.messages.Render(key, st().lang, params);
  }
  void Say(const std::string& key, const json& params = json::object(),
           const std::vector<std::string>& quick_reply_keys = {}) {
    Reply r{Text(key, params), {}};
    for (const auto& q : quick_reply_keys) r.quick_replies.push_back(Text(q));
    result_.replies.push_back(std::move(r));
  }
  bool SkipSlot(const SlotSpec& s) const {
    return s.skip_when_channel_identifies && ctx_.channel_identifies_customer;
  }
  bool Active() const {
    return result_.state.state == kCollecting || result_.state.state == kConfirming;
  }

  void ResetClaim();
  bool RunCommand(const Understanding& u);
  void AnswerStatus(const Understanding& u);
  void AnswerQuestion(const std::string& normalized);
  void AskNext();
  void OfferHuman();
  void HandOff(const std::string& reason);
  void File();
  bool CountFailure(const std::string& slot);  // true when the customer has now been offered a human

  // Applies every fact of the message to the slots. Returns the labels of what was captured.
  struct Applied {
    std::vector<std::string> captured;
    bool question_asked = false;  // a follow-up question was asked; do not ask the next slot
    bool rejected = false;        // an answer was given but failed validation (already said why)
  };
  Applied ApplyFacts(const Understanding& u);
  void ApplyDates(const Understanding& u, Applied* a);
  std::string FormatSlot(const SlotSpec& s, const json& v);
  std::string FormatProblem(const json& p);

  bool ask_numeric_order_ = false;
  const DialogContext& ctx_;
  const Knowledge& k_;
  const FlowSpec& flow_;
  const std::string& text_;
  StepResult result_;
};

StepResult& Turn::Run() {
  std::string norm = NormalizeForParsing(text_);
  DialogState& s = st();
  s.lang = DetectLanguage(norm, s.lang_known ? s.lang : ctx_.default_lang);
  s.lang_known = true;
  int64_t previous_activity = s.last_active;
  s.last_active = ctx_.now;

  if (s.state == kHandoff) return result_;  // a person has the conversation: the bot stays silent

  if ((s.state == kCollecting || s.state == kConfirming) && previous_activity > 0 &&
      ctx_.now - previous_activity > ctx_.idle_timeout_seconds) {
    s.resume_state = s.state;
    s.state = kExpired;
    s.awaiting = "resume";
    s.pending = "resume_choice";
    Say(flow_.Key("expired"), {}, {flow_.Key("qr_continue"), flow_.Key("qr_start_new")});
    return result_;
  }

  DateOptions date_options;
  auto order = k_.vocab.numeric_dates.find(std::string(LangCode(s.lang)));
  std::string policy = order == k_.vocab.numeric_dates.end() ? "month_first" : order->second;
  if (policy == "day_first") date_options.numeric_order = NumericOrder::kDayFirst;
  ask_numeric_order_ = policy == "ask";
  date_options.anchor = Date::FromIso(s.last_date);
  Understanding u = Understand(text_, norm, ctx_.today, k_.vocab, s.pending, date_options, LangCode(s.lang));

  if (s.state == kExpired && !u.Has("human")) {
    if (u.Has("continue") || u.Has("yes")) {
      s.state = s.resume_state.empty() ? std::string(kCollecting) : s.resume_state;
      s.awaiting.clear();
      Say(flow_.Key("resumed"));
      AskNext();
    } else if (u.Has("start_new") || u.Has("restart") || u.Has("no")) {
      ResetClaim();
      s.state = kCollecting;
      Say(flow_.Key("restarted"));
      AskNext();
    } else {
      Say(flow_.Key("expired"), {}, {flow_.Key("qr_continue"), flow_.Key("qr_start_new")});
    }
    return result_;
  }

  if (RunCommand(u)) return result_;

  if (!u.ticket_ids.empty() || u.Has("status")) {
    AnswerStatus(u);
    if (Active()) AskNext();
    return result_;
  }

  if (s.awaiting == "offer_human") {
    s.awaiting.clear();
    if (u.Has("yes")) { HandOff("repeated_failures"); return result_; }
    if (u.Has("no")) { s.failures.clear(); AskNext(); return result_; }
  }
  if (s.awaiting == "order_question") {
    std::string slot = s.pending;
    s.awaiting.clear();
    if (u.dates.empty() && u.Has("yes")) { AskNext(); return result_; }
    if (u.dates.empty() && u.Has("no")) {
      s.slots.erase(slot);
      AskNext();
      return result_;
    }
  }

  if (s.awaiting == "date_choice") {
    std::string slot = s.pending;
    for (const DateFact& f : u.dates) {
      if (std::find(s.date_choices.begin(), s.date_choices.end(), f.date.Iso()) == s.date_choices.end()) continue;
      s.awaiting.clear();
      s.date_choices.clear();
      s.slots[slot] = f.date.Iso();
      s.last_date = f.date.Iso();
      if (const SlotSpec* spec = flow_.FindSlot(slot)) Say(flow_.Key("captured"), {{"items", Text(spec->label) + ": " + f.date.Iso()}});
      s.failures.erase(slot);
      AskNext();
      return result_;
    }
    if (u.dates.empty() && !u.Has("question")) {
      Say(flow_.Key("date_choice"), {{"first", s.date_choices[0]}, {"second", s.date_choices[1]}}, {});
      result_.replies.back().quick_replies = s.date_choices;
      return result_;
    }
    s.awaiting.clear();  // a new date or something else: take it as it comes
    s.date_choices.clear();
  }

  if (s.state == kStart) {
    s.state = kCollecting;
    Say(flow_.Key("greeting"), {{"provider", k_.policy.provider_name}});
  }

  if ((s.state == kFiled || s.state == kCancelled) && u.Has("question")) {
    AnswerQuestion(norm);
    return result_;
  }
  if (s.state == kFiled) {
    Say(flow_.Key(u.Has("thanks") ? "welcome_after_filing" : "already_filed"), {{"ticket_id", s.ticket_id}});
    return result_;
  }
  if (s.state == kCancelled) {
    Say(flow_.Key("cancelled_info"), {}, {flow_.Key("qr_start_new")});
    return result_;
  }

  Applied applied = ApplyFacts(u);
  if (applied.question_asked) return result_;

  if (s.state == kConfirming) {
    if (!applied.captured.empty()) {
      Say(flow_.Key("updated"));
      AskNext();
    } else if (applied.rejected) {
      AskNext();
    } else if (u.Has("yes")) {
      File();
    } else if (u.Has("no")) {
      Say(flow_.Key("what_to_change"));
    } else if (u.Has("thanks") || u.Has("greeting")) {
      AskNext();
    } else if (u.Has("question")) {
      AnswerQuestion(norm);
      AskNext();
    } else if (!CountFailure("confirmation")) {
      Say(flow_.Key("confirm_not_understood"), {}, {flow_.Key("qr_confirm"), flow_.Key("qr_change")});
    }
    return result_;
  }

  // A question in the middle of the claim is a digression: answer, then ask the pending question again.
  if (applied.captured.empty() && !applied.rejected && u.Has("question")) {
    AnswerQuestion(norm);
    AskNext();
    return result_;
  }

  // Collecting.
  if (!applied.captured.empty()) {
    std::string items;
    for (const auto& c : applied.captured) items += (items.empty() ? "" : "; ") + c;
    Say(flow_.Key("captured"), {{"items", items}});
  }
  const SlotSpec* pending = flow_.FindSlot(s.pending);
  bool pending_filled = pending && s.slots.contains(pending->name);
  if (pending && !pending_filled && applied.captured.empty()) {
    if (applied.rejected) {
      if (CountFailure(pending->name)) return result_;
    } else if (u.Has("thanks") || u.Has("greeting")) {
      // Small talk is not a failed answer.
    } else {
      if (CountFailure(pending->name)) return result_;
      Say(pending->retry, {}, pending->quick_replies);
      return result_;
    }
  }
  if (pending_filled) s.failures.erase(pending->name);
  AskNext();
  return result_;
}

void Turn::ResetClaim() {
  DialogState& s = st();
  s.slots = json::object();
  s.failures.clear();
  s.awaiting.clear();
  s.asked_once.clear();
  s.pending.clear();
  s.ticket_id.clear();
  s.resume_state.clear();
  s.last_date.clear();
  s.date_choices.clear();
}

bool Turn::RunCommand(const Understanding& u) {
  DialogState& s = st();
  for (const CommandSpec& c : flow_.commands) {
    if (!u.Has(c.intent) || !Contains(c.in_states, s.state)) continue;
    if (c.reset) ResetClaim();
    if (c.effect == "hand_off") {
      HandOff("customer_asked");
      return true;
    }
    if (!c.to.empty()) s.state = c.to;
    Say(c.say);
    if (c.ask_next && (Active() || s.state == kStart)) {
      if (s.state == kStart) s.state = kCollecting;
      AskNext();
    }
    return true;
  }
  return false;
}

void Turn::HandOff(const std::string& reason) {
  DialogState& s = st();
  s.resume_state = s.state == kHandoff ? s.resume_state : s.state;
  if (s.resume_state == kStart) s.resume_state = kCollecting;
  s.state = kHandoff;
  s.awaiting.clear();
  result_.effects.push_back({Effect::Kind::kHandOff, json(), json(), reason});
  Say(flow_.Key("handoff"));
}

// An FAQ answer when one entry explains the question well enough; otherwise say so and offer the
// closest topics as buttons (their phrasings find the entry when clicked).
void Turn::AnswerQuestion(const std::string& normalized) {
  std::vector<FaqMatch> matches = k_.faq.Search(normalized, 3);
  if (!matches.empty() && matches[0].confidence >= FaqIndex::kAnswerThreshold) {
    const FaqEntry& e = *matches[0].entry;
    result_.replies.push_back({RenderTemplate(st().lang == Lang::kZh ? e.answer_zh : e.answer_en,
                                              k_.PolicyParams(st().lang)), {}});
    result_.faq_id = e.id;
    return;
  }
  Say(flow_.Key("question_fallback"));
  for (const FaqMatch& m : matches) {
    const auto& phrasings = st().lang == Lang::kZh ? m.entry->questions_zh : m.entry->questions_en;
    if (m.confidence >= 0.1 && !phrasings.empty()) result_.replies.back().quick_replies.push_back(phrasings.front());
  }
}

void Turn::AnswerStatus(const Understanding& u) {
  std::vector<std::string> ids = u.ticket_ids;
  if (ids.empty() && !st().ticket_id.empty()) ids.push_back(st().ticket_id);
  if (ids.empty()) { Say(flow_.Key("status_none")); return; }
  for (const auto& id : ids) {
    auto it = ctx_.ticket_statuses.find(id);
    if (it == ctx_.ticket_statuses.end()) {
      Say(flow_.Key("status_unknown"), {{"ticket_id", id}});
    } else {
      Say(flow_.Key("status_of"), {{"ticket_id", id}, {"status", Text("ticket_status." + it->second)}});
    }
  }
}

bool Turn::CountFailure(const std::string& slot) {
  int n = ++st().failures[slot];
  if (n < flow_.max_failures) return false;
  OfferHuman();
  return true;
}

void Turn::OfferHuman() {
  st().failures.clear();
  st().awaiting = "offer_human";
  Say(flow_.Key("offer_human"), {}, {flow_.Key("qr_human_yes"), flow_.Key("qr_try_again")});
}

void Turn::AskNext() {
  DialogState& s = st();
  for (const SlotSpec& slot : flow_.slots) {
    if (SkipSlot(slot) || !slot.ask || s.slots.contains(slot.name)) continue;
    s.state = kCollecting;
    s.pending = slot.name;
    Say(slot.prompt, {}, slot.quick_replies);
    return;
  }
  s.state = kConfirming;
  s.pending = "confirmation";
  Say(flow_.Key("confirm"), {{"summary", Summary()}}, {flow_.Key("qr_confirm"), flow_.Key("qr_change")});
}

void Turn::File() {
  DialogState& s = st();
  json claim = ClaimOf(s);
  json assessment = AssessClaim(claim, k_.policy, ctx_.today);
  result_.effects.push_back({Effect::Kind::kFileTicket, claim, assessment, ""});
  s.state = kFiled;
  s.pending.clear();
  s.failures.clear();
  std::string verdict = assessment.value("verdict", "needs_review");
  Say(flow_.Key("filed"),
      {{"verdict", Text("verdict." + verdict, assessment)}, {"provider", k_.policy.provider_name}});
}

void Turn::ApplyDates(const Understanding& u, Applied* a) {
  DialogState& s = st();
  std::vector<std::pair<const SlotSpec*, Date>> assign;
  std::vector<Date> unlabeled;
  std::vector<const DateFact*> ambiguous;  // per slot, when the language's policy is to ask
  std::vector<const SlotSpec*> ambiguous_slots;
  for (const DateFact& f : u.dates) {
    const SlotSpec* slot = f.role.empty() ? nullptr : flow_.FindSlot(f.role);
    if (slot && slot->kind == SlotKind::kDate) {
      if (f.alternative && ask_numeric_order_) { ambiguous.push_back(&f); ambiguous_slots.push_back(slot); continue; }
      assign.emplace_back(slot, f.date);
    } else if (!f.about_problem) {
      unlabeled.push_back(f.date);
      if (f.alternative && ask_numeric_order_) { ambiguous.push_back(&f); ambiguous_slots.push_back(nullptr); unlabeled.pop_back(); }
    }
  }
  auto taken = [&](const SlotSpec* slot) {
    return std::any_of(assign.begin(), assign.end(), [&](const auto& p) { return p.first == slot; });
  };
  // A date without a cue word answers the date question being asked (and the date slots after it, for
  // "2026-11-01, 2026-11-05"); while the bot asks about something else it is not taken as a guess.
  const SlotSpec* pending_date = flow_.FindSlot(s.pending);
  if (pending_date && pending_date->kind != SlotKind::kDate) pending_date = nullptr;
  auto next_free = [&](const SlotSpec* from) -> const SlotSpec* {
    bool seen = false;
    for (const SlotSpec& slot : flow_.slots) {
      if (&slot == from) seen = true;
      if (seen && slot.kind == SlotKind::kDate && !taken(&slot) && (&slot == from || !s.slots.contains(slot.name))) return &slot;
    }
    return nullptr;
  };
  for (const Date& d : unlabeled) {
    if (!pending_date) break;
    if (const SlotSpec* target = next_free(pending_date)) assign.emplace_back(target, d);
  }
  for (size_t i = 0; i < ambiguous.size(); ++i) {
    const SlotSpec* slot = ambiguous_slots[i] ? ambiguous_slots[i] : (pending_date ? next_free(pending_date) : nullptr);
    if (!slot) continue;
    std::string first = ambiguous[i]->date.Iso(), second = ambiguous[i]->alternative->Iso();
    s.awaiting = "date_choice";
    s.pending = slot->name;
    s.date_choices = {first, second};
    Say(flow_.Key("date_choice"), {{"first", first}, {"second", second}});
    result_.replies.back().quick_replies = s.date_choices;
    a->question_asked = true;
    break;
  }
  for (const auto& [slot, date] : assign) {
    bool ok = true;
    for (const DateRule& r : slot->rules) {
      bool bad = (r.check == "not_future" && date > ctx_.today) ||
                 (r.check == "not_before" && r.date && date < *r.date);
      if (bad) {
        Say(r.message, {{"date", date.Iso()}, {"today", ctx_.today.Iso()},
                        {"earliest", r.date ? r.date->Iso() : ""}, {"field", Text(slot->label)}});
        ok = false;
        a->rejected = true;
        break;
      }
    }
    if (!ok) continue;
    s.slots[slot->name] = date.Iso();
    s.last_date = date.Iso();
    a->captured.push_back(Text(slot->label) + ": " + date.Iso());
  }
  if (a->question_asked) return;
  // Cross-slot questions (activation before payment): asked once, then the customer's word stands.
  for (const SlotSpec& slot : flow_.slots) {
    for (const DateRule& r : slot.rules) {
      if (r.check != "not_before_slot" || !s.slots.contains(slot.name) || !s.slots.contains(r.other)) continue;
      std::string mine = s.slots[slot.name], other = s.slots[r.other];
      std::string once = slot.name + "<" + r.other;
      if (mine >= other || s.asked_once.count(once)) continue;
      s.asked_once.insert(once);
      s.awaiting = "order_question";
      s.pending = slot.name;
      if (!a->captured.empty()) {
        std::string items;
        for (const auto& c : a->captured) items += (items.empty() ? "" : "; ") + c;
        Say(flow_.Key("captured"), {{"items", items}});
      }
      Say(r.message, {{"date", mine}, {"other_date", other}}, {flow_.Key("qr_yes"), flow_.Key("qr_no")});
      a->question_asked = true;
      return;
    }
  }
}

Turn::Applied Turn::ApplyFacts(const Understanding& u) {
  DialogState& s = st();
  Applied a;
  ApplyDates(u, &a);
  if (a.question_asked) return a;
  for (const SlotSpec& slot : flow_.slots) {
    if (slot.kind == SlotKind::kProblems && !u.retracted_problems.empty() && s.slots.contains(slot.name) &&
        s.slots[slot.name].is_array()) {
      // "不是带宽问题，是丢包": a category the customer takes back leaves the claim.
      json kept = json::array();
      for (const json& e : s.slots[slot.name]) {
        const std::string c = e.value("category", "");
        if (std::find(u.retracted_problems.begin(), u.retracted_problems.end(), c) == u.retracted_problems.end()) kept.push_back(e);
      }
      s.slots[slot.name] = kept;
    }
    if (slot.kind == SlotKind::kProblems && !u.problems.empty()) {
      json& list = s.slots[slot.name];
      if (!list.is_array()) list = json::array();
      for (const Problem& p : u.problems) {
        auto same = std::find_if(list.begin(), list.end(),
                                 [&](const json& e) { return e.value("category", "") == p.category; });
        if (same == list.end()) {
          list.push_back({{"category", p.category}, {"description", p.description}, {"metrics", p.metrics}});
        } else {
          for (const auto& [mk, mv] : p.metrics.items()) (*same)["metrics"][mk] = mv;
          std::string d = (*same).value("description", "");
          if (d.find(p.description) == std::string::npos) (*same)["description"] = d + " / " + p.description;
        }
        auto stored = std::find_if(list.begin(), list.end(),
                                   [&](const json& e) { return e.value("category", "") == p.category; });
        a.captured.push_back(FormatProblem(*stored));
      }
    } else if (slot.kind == SlotKind::kEvidence) {
      if (!u.evidence.empty()) {
        json& list = s.slots[slot.name];
        if (!list.is_array()) list = json::array();
        for (const Evidence& e : u.evidence) {
          bool have = std::any_of(list.begin(), list.end(), [&](const json& x) { return x.value("type", "") == e.type; });
          if (!have) list.push_back({{"type", e.type}, {"description", e.description}});
          a.captured.push_back(Text("evidence." + e.type));
        }
      } else if (slot.allow_none && s.pending == slot.name && (u.Has("none") || u.Has("no"))) {
        s.slots[slot.name] = json::array();
        a.captured.push_back(Text(slot.label) + ": " + Text("value.none"));
      }
    } else if (slot.kind == SlotKind::kBilling && (u.billing_model || u.amount_paid || u.traffic_used_pct)) {
      json& b = s.slots[slot.name];
      if (!b.is_object()) b = json::object();
      if (u.billing_model) b["billing_model"] = *u.billing_model;
      if (u.amount_paid) {
        b["amount_paid"] = *u.amount_paid;
        b["currency"] = u.currency.value_or(k_.policy.currency);
      }
      if (u.traffic_used_pct) b["traffic_used_pct"] = *u.traffic_used_pct;
      a.captured.push_back(FormatSlot(slot, b));
    } else if (slot.kind == SlotKind::kContact && !SkipSlot(slot) && !u.contacts.empty()) {
      json& c = s.slots[slot.name];
      if (!c.is_object()) c = json::object();
      for (const ContactId& id : u.contacts) c[id.kind] = id.value;  // email, phone, wechat, order, ...
      a.captured.push_back(FormatSlot(slot, c));
    }
  }
  return a;
}

std::string Turn::FormatProblem(const json& p) {
  std::string out = Text("category." + p.value("category", "other"));
  std::string figures;
  const json metrics = p.value("metrics", json::object());
  for (const auto& [name, v] : metrics.items()) {
    std::string value = v.is_string() ? v.get<std::string>() : v.dump();
    // Regions are stored under their canonical name; the customer reads them in their language.
    if (name == "region" && k_.messages.Has("region." + value)) value = Text("region." + value);
    figures += (figures.empty() ? "" : ", ") + Text("metric." + name, {{"value", value}});
  }
  if (!figures.empty()) out += " (" + figures + ")";
  return out;
}

std::string Turn::FormatSlot(const SlotSpec& slot, const json& v) {
  std::string value;
  switch (slot.kind) {
    case SlotKind::kDate:
      value = v.get<std::string>();
      break;
    case SlotKind::kProblems:
      for (const auto& p : v) value += (value.empty() ? "" : "; ") + FormatProblem(p);
      break;
    case SlotKind::kEvidence:
      for (const auto& e : v) value += (value.empty() ? "" : ", ") + Text("evidence." + e.value("type", "other"));
      if (value.empty()) value = Text("value.none");
      break;
    case SlotKind::kBilling: {
      auto add = [&](const std::string& part) { value += (value.empty() ? "" : ", ") + part; };
      if (v.contains("billing_model")) add(Text("billing." + v["billing_model"].get<std::string>()));
      if (v.contains("amount_paid")) {
        double amount = v["amount_paid"].get<double>();
        std::string shown = amount == std::floor(amount) ? std::to_string(static_cast<long long>(amount)) : json(amount).dump();
        add(Text("billing.amount", {{"amount", shown}, {"currency", v.value("currency", "")}}));
      }
      if (v.contains("traffic_used_pct")) add(Text("billing.traffic_used", {{"pct", v["traffic_used_pct"].dump()}}));
      break;
    }
    case SlotKind::kContact:
      for (const auto& [kind, id] : v.items()) {
        if (id.is_string()) value += (value.empty() ? "" : ", ") + id.get<std::string>();
      }
      break;
  }
  return Text(slot.label) + ": " + value;
}

std::string Turn::Summary() {
  std::string out;
  for (const SlotSpec& slot : flow_.slots) {
    if (SkipSlot(slot) || !st().slots.contains(slot.name)) continue;
    out += "\n• " + FormatSlot(slot, st().slots[slot.name]);
  }
  return out;
}

}  // namespace

StepResult& Turn::RunStaffAction(const StaffAction& action) {
  DialogState& s = st();
  switch (action.kind) {
    case StaffAction::Kind::kTakeOver:
      if (s.state != kHandoff) {
        s.resume_state = s.state == kStart ? std::string(kCollecting) : s.state;
        s.state = kHandoff;
      }
      s.awaiting.clear();
      s.failures.clear();
      Say(flow_.Key("staff_joined"), {{"name", action.staff}});
      result_.replies.back().author = "system";
      break;
    case StaffAction::Kind::kTransfer:
      Say(flow_.Key("staff_transferred"), {{"name", action.staff}});
      result_.replies.back().author = "system";
      break;
    case StaffAction::Kind::kHandBack: {
      std::string back = s.state == kHandoff ? s.resume_state : s.state;
      s.resume_state.clear();
      Say(flow_.Key("staff_handed_back"), {{"name", action.staff}});
      result_.replies.back().author = "system";
      if (back == kFiled || back == kCancelled) {
        s.state = back;
      } else {
        s.state = kCollecting;  // AskNext() decides between the next question and the confirmation
        AskNext();
      }
      break;
    }
    case StaffAction::Kind::kFile:
      File();
      break;
    case StaffAction::Kind::kClose:
      s.state = kCancelled;
      s.pending.clear();
      s.awaiting.clear();
      Say(flow_.Key("staff_closed"));
      result_.replies.back().author = "system";
      break;
  }
  return result_;
}

StepResult& Turn::RunAttachment(const Attachment& file) {
  DialogState& s = st();
  if (!s.lang_known) { s.lang = ctx_.default_lang; s.lang_known = true; }
  s.last_active = ctx_.now;
  const std::string type = EvidenceTypeForFile(NormalizeForParsing(file.name), k_.vocab);
  for (const SlotSpec& slot : flow_.slots) {
    if (slot.kind != SlotKind::kEvidence) continue;
    json& list = s.slots[slot.name];
    if (!list.is_array()) list = json::array();
    list.push_back({{"type", type}, {"description", file.name},
                    {"attachment", {{"name", file.name}, {"sha256", file.sha256}, {"size", file.size},
                                    {"content_type", file.content_type}}}});
    break;
  }
  if (s.state == kHandoff) return result_;  // staff see it in the claim and the transcript
  Say(flow_.Key("captured"), {{"items", Text("evidence." + type) + " (" + file.name + ")"}});
  if (s.state == kStart) s.state = kCollecting;
  if (Active()) AskNext();
  return result_;
}

StepResult StepAttachment(const DialogState& state, const Attachment& file, const DialogContext& ctx) {
  static const std::string kNoText;
  Turn turn(state, kNoText, ctx);
  return std::move(turn.RunAttachment(file));
}

StepResult ApplyStaffAction(const DialogState& state, const StaffAction& action, const DialogContext& ctx) {
  static const std::string kNoText;
  Turn turn(state, kNoText, ctx);
  return std::move(turn.RunStaffAction(action));
}

bool SetSlotByStaff(DialogState* state, const FlowSpec& flow, const std::string& name, const json& value,
                    std::string* error) {
  const SlotSpec* slot = flow.FindSlot(name);
  if (!slot) { *error = "no slot named " + name; return false; }
  auto list_of = [&](const char* key) {
    if (!value.is_array()) return false;
    for (const auto& item : value) {
      if (!item.is_object() || !item.contains(key) || !item[key].is_string()) return false;
    }
    return true;
  };
  switch (slot->kind) {
    case SlotKind::kDate:
      if (!value.is_string() || !Date::FromIso(value.get<std::string>())) {
        *error = name + " must be a date written YYYY-MM-DD";
        return false;
      }
      break;
    case SlotKind::kProblems:
      if (!list_of("category")) { *error = name + " must be a list of {\"category\", ...}"; return false; }
      break;
    case SlotKind::kEvidence:
      if (!list_of("type")) { *error = name + " must be a list of {\"type\", ...}"; return false; }
      break;
    case SlotKind::kContact:
    case SlotKind::kBilling:
      if (!value.is_object()) { *error = name + " must be an object"; return false; }
      break;
  }
  state->slots[name] = value;
  return true;
}

std::string StaffSummary(const DialogState& state, const Knowledge& k, Lang lang) {
  DialogState copy = state;
  copy.lang = lang;
  DialogContext ctx;
  ctx.knowledge = &k;
  static const std::string kNoText;
  Turn turn(copy, kNoText, ctx);
  std::string missing;
  for (const SlotSpec& slot : k.flow.slots) {
    if (!slot.ask || state.slots.contains(slot.name)) continue;
    missing += (missing.empty() ? "" : ", ") + k.messages.Render(slot.label, lang);
  }
  return k.messages.Render("staff.summary", lang,
                          {{"state", state.state == kHandoff ? state.resume_state : state.state},
                           {"claim", turn.Summary()},
                           {"missing", missing.empty() ? k.messages.Render("value.none", lang) : missing}});
}

StepResult Step(DialogState state, const std::string& text, const DialogContext& ctx) {
  Turn turn(std::move(state), text, ctx);
  return std::move(turn.Run());
}

}  // namespace rd
