#include "dialogs/engine.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "dialogs/slot_values.h"
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
  if (s.lang_pinned) j["lang_pinned"] = true;
  if (!s.left_for_staff.empty()) j["left_for_staff"] = s.left_for_staff;
  if (!s.cancelled_claims.empty()) j["cancelled_claims"] = std::move(s.cancelled_claims);
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
  s.lang_pinned = j.value("lang_pinned", false);
  if (const json* left = member("left_for_staff"); left && left->is_array()) {
    for (const auto& v : *left) if (v.is_string()) s.left_for_staff.insert(v.get<std::string>());
  }
  if (json* old = member("cancelled_claims"); old && old->is_array()) s.cancelled_claims = std::move(*old);
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
  json left = json::array();
  for (const auto& slot : s.left_for_staff) if (!s.slots.contains(slot)) left.push_back(slot);
  if (!left.empty()) claim["left_for_staff"] = std::move(left);
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

  // Applies every fact of the message to the slots: what was captured, and the one follow-up question
  // (if any) to ask after saying so.
  struct Question {
    std::string key;
    json params = json::object();
    std::vector<std::string> quick_replies;  // texts
  };
  struct Applied {
    std::vector<std::string> captured;
    std::optional<Question> question;  // asked instead of the next slot
    bool rejected = false;             // an answer was given but failed validation (already said why)
    size_t side_facts = 0;             // of `captured`, facts of slots never asked (billing)
  };

  bool Expire(int64_t previous_activity);
  void RunExpired(const Understanding& u);
  bool SwitchLanguage(const Understanding& u);
  bool RunAwaiting(const Understanding& u);
  bool RunDateRole(const Understanding& u);
  bool RunDateChoice(const Understanding& u);
  bool RunAfterClaim(const Understanding& u, const std::string& norm);
  void RunConfirming(const Understanding& u, const Applied& applied, const std::string& norm);
  void RunCollecting(const Understanding& u, const Applied& applied, const std::string& norm);
  void ResetClaim();
  bool RunCommand(const Understanding& u);
  void AnswerStatus(const Understanding& u);
  void AnswerQuestion(const std::string& normalized);
  void AskNext();
  const SlotSpec* NextSlot() const;
  void OfferHuman();
  void HandOff(const std::string& reason);
  void File();
  bool CountFailure(const std::string& slot);  // confirmation: true when the customer has been offered a human
  bool FailedAnswer(const SlotSpec& slot, bool said_why);
  void GiveUp(const SlotSpec& slot);
  void SayCaptured(const Applied& a);

  Applied ApplyFacts(const Understanding& u);
  void ApplyDates(const Understanding& u, Applied* a);
  bool DateFits(const SlotSpec& slot, const Date& date, bool say_why, Applied* a);
  void AssignUnlabeled(const std::vector<Date>& unlabeled, std::vector<std::pair<const SlotSpec*, Date>>* assign,
                       Applied* a);
  void AskDateOrder(Applied* a);
  void ApplyProblems(const SlotSpec& slot, const Understanding& u, Applied* a);
  void KeepUnknownProblem(const Understanding& u, Applied* a);
  void KeepUnknownEvidence(const Understanding& u, Applied* a);
  std::string ResidualClauses();
  void RetractProblems(const SlotSpec& slot, const std::vector<std::string>& retracted);
  void AddProblem(const SlotSpec& slot, const Problem& p, Applied* a);
  std::string FormatSlot(const SlotSpec& s, const json& v);
  std::string FormatProblem(const json& p);

  bool ask_numeric_order_ = false;
  bool opened_claim_ = false;
  std::vector<std::string> carried_;  // captured before the facts of the message (a "yes" to a date role)  // this message opened the claim (greeting, new claim): not a failed answer
  const DialogContext& ctx_;
  const Knowledge& k_;
  const FlowSpec& flow_;
  const std::string& text_;
  StepResult result_;
};

// True when the message says something in words: letters or Han characters, not only figures, a phone
// number or punctuation.
bool HasWords(const std::string& normalized) {
  for (size_t i = 0; i < normalized.size(); ++i) {
    char c = normalized[i];
    if ((c >= 'a' && c <= 'z') || IsHanAt(normalized, i)) return true;
  }
  return false;
}

// True when text could be a way to reach someone: it has a digit or an '@', or is one word ("+90 532 765
// 4321", "wxid_abc", "kim(at)example"), not a sentence like "I don't know".
bool LooksLikeIdentifier(const std::string& text) {
  if (text.empty()) return false;
  if (text.find_first_of("0123456789@") != std::string::npos) return true;
  return text.find(' ') == std::string::npos;
}

// The last failed answer: a contact slot with give_up keep_text keeps the customer's words when they
// could be an identifier (staff read them); otherwise the slot is left for staff. Then the claim goes on.
void Turn::GiveUp(const SlotSpec& slot) {
  DialogState& s = st();
  s.failures.erase(slot.name);
  const std::string words = Trim(text_);
  if (slot.give_up == SlotSpec::GiveUp::kKeepText && LooksLikeIdentifier(words)) {
    s.slots[slot.name] = {{"as_written", words}};
    Say(flow_.Key("kept_as_written"), {{"field", Text(slot.label)}, {"value", words}});
  } else {
    s.left_for_staff.insert(slot.name);
    Say(flow_.Key("left_for_staff"), {{"field", Text(slot.label)}});
  }
  AskNext();
}

StepResult& Turn::Run() {
  std::string norm = NormalizeForParsing(text_);
  DialogState& s = st();
  if (!s.lang_known) s.lang = ctx_.default_lang;
  if (!s.lang_pinned) s.lang = ConversationLanguage(norm, s.lang);
  s.lang_known = true;
  int64_t previous_activity = s.last_active;
  s.last_active = ctx_.now;

  if (s.state == kHandoff) return result_;  // a person has the conversation: the bot stays silent
  if (Expire(previous_activity)) return result_;

  DateOptions date_options;
  auto order = k_.vocab.numeric_dates.find(std::string(LangCode(s.lang)));
  std::string policy = order == k_.vocab.numeric_dates.end() ? "month_first" : order->second;
  if (policy == "day_first") date_options.numeric_order = NumericOrder::kDayFirst;
  ask_numeric_order_ = policy == "ask";
  date_options.anchor = Date::FromIso(s.last_date);
  // A first message answers the first question, as if it had been asked: nothing in it is dropped.
  if (s.state == kStart && s.pending.empty()) {
    if (const SlotSpec* first = NextSlot()) s.pending = first->name;
  }
  Understanding u = Understand(text_, norm, ctx_.today, k_.vocab, s.pending, date_options, LangCode(s.lang));

  if (SwitchLanguage(u)) return result_;
  if (s.state == kExpired && !u.Has("human")) { RunExpired(u); return result_; }
  if (RunCommand(u)) return result_;
  if (!u.ticket_ids.empty() || u.Has("status")) {
    AnswerStatus(u);
    if (Active()) AskNext();
    return result_;
  }
  if (RunAwaiting(u)) return result_;

  if (s.state == kStart) {
    s.state = kCollecting;
    opened_claim_ = true;
    Say(flow_.Key("greeting"), {{"provider", k_.policy.provider_name}});
  }
  if (RunAfterClaim(u, norm)) return result_;

  Applied applied = ApplyFacts(u);
  if (applied.question) {
    SayCaptured(applied);
    Say(applied.question->key, applied.question->params);
    result_.replies.back().quick_replies = applied.question->quick_replies;
    return result_;
  }
  if (s.state == kConfirming) RunConfirming(u, applied, norm);
  else RunCollecting(u, applied, norm);
  return result_;
}

bool Turn::Expire(int64_t previous_activity) {
  DialogState& s = st();
  if (!Active() || previous_activity <= 0 || ctx_.now - previous_activity <= ctx_.idle_timeout_seconds) return false;
  s.resume_state = s.state;
  s.state = kExpired;
  s.awaiting = "resume";
  s.pending = "resume_choice";
  Say(flow_.Key("expired"), {}, {flow_.Key("qr_continue"), flow_.Key("qr_start_new")});
  return true;
}

void Turn::RunExpired(const Understanding& u) {
  DialogState& s = st();
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
}

// "Can we speak English", "说中文": the conversation's language from now on, whatever later messages
// are written in; the pending question is asked again in it.
bool Turn::SwitchLanguage(const Understanding& u) {
  const bool en = u.Has("speak_en"), zh = u.Has("speak_zh");
  if (en == zh) return false;
  DialogState& s = st();
  s.lang = en ? Lang::kEn : Lang::kZh;
  s.lang_pinned = true;
  Say(flow_.Key("language_switched"));
  if (s.state == kStart) s.state = kCollecting;
  if (s.awaiting != "date_role") {  // the open date-role question is asked again by AskNext; others end
    s.awaiting.clear();
    s.date_choices.clear();
  }
  if (Active()) AskNext();
  return true;
}

// The answer to a yes/no or pick-one question the bot asked last turn. True when the turn is done.
bool Turn::RunAwaiting(const Understanding& u) {
  DialogState& s = st();
  if (s.awaiting == "offer_human") {
    s.awaiting.clear();
    if (u.Has("yes")) { HandOff("repeated_failures"); return true; }
    if (u.Has("no")) { s.failures.clear(); AskNext(); return true; }
  }
  if (s.awaiting == "order_question") {
    std::string slot = s.pending;
    s.awaiting.clear();
    if (u.dates.empty() && u.Has("yes")) { AskNext(); return true; }
    if (u.dates.empty() && u.Has("no")) {
      s.slots.erase(slot);
      AskNext();
      return true;
    }
  }
  if (s.awaiting == "date_role") return RunDateRole(u);
  if (s.awaiting == "date_choice") return RunDateChoice(u);
  return false;
}

// "Was 9 November when the service was switched on?" (date_choices: the date, the slot). Yes fills the
// slot; no asks for it; a date without a cue word answers it. Anything else is taken as it comes and the
// question stays open (AskNext asks it again), so the date is not lost.
bool Turn::RunDateRole(const Understanding& u) {
  DialogState& s = st();
  const SlotSpec* spec = s.date_choices.size() == 2 ? flow_.FindSlot(s.date_choices[1]) : nullptr;
  const std::string date = s.date_choices.empty() ? "" : s.date_choices.front();
  if (!spec || s.slots.contains(spec->name)) { s.awaiting.clear(); s.date_choices.clear(); return false; }
  const bool unlabeled_date = std::any_of(u.dates.begin(), u.dates.end(), [](const DateFact& f) { return f.role.empty(); });
  if (!u.dates.empty() || u.Has("yes") || u.Has("no")) {
    s.awaiting.clear();
    s.date_choices.clear();
  }
  if (unlabeled_date || (u.dates.empty() && u.Has("no"))) s.pending = spec->name;
  if (!u.dates.empty()) return false;
  if (u.Has("yes")) {  // the rest of the message ("yes, and the latency is 300 ms") is applied as usual
    s.slots[spec->name] = date;
    s.last_date = date;
    s.failures.erase(spec->name);
    carried_.push_back(Text(spec->label) + ": " + date);
    return false;
  }
  if (u.Has("no")) { AskNext(); return true; }
  return false;
}

bool Turn::RunDateChoice(const Understanding& u) {
  DialogState& s = st();
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
    return true;
  }
  if (u.dates.empty() && !u.Has("question")) {
    Say(flow_.Key("date_choice"), {{"first", s.date_choices[0]}, {"second", s.date_choices[1]}}, {});
    result_.replies.back().quick_replies = s.date_choices;
    return true;
  }
  s.awaiting.clear();  // a new date or something else: take it as it comes
  s.date_choices.clear();
  return false;
}

// Filed and cancelled claims: questions are answered, a new refund request after a cancel starts a
// fresh claim (the cancelled one is kept with the conversation), anything else is told where it stands.
// True when the turn is done.
bool Turn::RunAfterClaim(const Understanding& u, const std::string& norm) {
  DialogState& s = st();
  if (s.state == kCancelled && u.Has("new_claim") && !u.Has("not_new_claim")) {
    ResetClaim();
    s.state = kCollecting;
    if (const SlotSpec* first = NextSlot()) s.pending = first->name;
    opened_claim_ = true;
    Say(flow_.Key("new_claim"));
    return false;  // the request may already hold facts of the new claim
  }
  if ((s.state == kFiled || s.state == kCancelled) && u.Has("question")) {
    AnswerQuestion(norm);
    return true;
  }
  if (s.state == kFiled) {
    Say(flow_.Key(u.Has("thanks") ? "welcome_after_filing" : "already_filed"), {{"ticket_id", s.ticket_id}});
    return true;
  }
  if (s.state == kCancelled) {
    Say(flow_.Key("cancelled_info"), {}, {flow_.Key("qr_start_new")});
    return true;
  }
  return false;
}

void Turn::RunConfirming(const Understanding& u, const Applied& applied, const std::string& norm) {
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
}

void Turn::RunCollecting(const Understanding& u, const Applied& applied, const std::string& norm) {
  DialogState& s = st();
  // A question in the middle of the claim is a digression: answer, then ask the pending question again.
  if (applied.captured.empty() && !applied.rejected && u.Has("question")) {
    AnswerQuestion(norm);
    AskNext();
    return;
  }
  SayCaptured(applied);
  const SlotSpec* pending = flow_.FindSlot(s.pending);
  bool pending_filled = pending && s.slots.contains(pending->name);
  // The opener ("I want a refund") and small talk are not failed answers.
  bool small_talk = opened_claim_ || u.Has("thanks") || u.Has("greeting");
  if (pending && !pending_filled && applied.captured.empty() && !small_talk) {
    if (FailedAnswer(*pending, applied.rejected)) return;
  }
  // Other answers but not this one, again and again: the customer does not have it at hand; after
  // max_failures such turns the slot goes the way of a failed answer (give_up) instead of being asked
  // for ever.
  if (pending && !pending_filled && !applied.captured.empty() && applied.captured.size() > applied.side_facts &&
      ++s.failures[pending->name] >= flow_.max_failures) {
    GiveUp(*pending);
    return;
  }
  if (pending_filled) s.failures.erase(pending->name);
  AskNext();
}

void Turn::SayCaptured(const Applied& a) {
  if (a.captured.empty()) return;
  std::string items;
  for (const auto& c : a.captured) items += (items.empty() ? "" : "; ") + c;
  Say(flow_.Key("captured"), {{"items", items}});
}

// One more failed answer to `slot`'s question. The first asks again (or the rule already said why);
// from summarize_after on, the bot says what it has so far and offers the slot's buttons and a person;
// at max_failures it stops asking (the slot's give_up) and goes on. True when the turn's reply is said.
bool Turn::FailedAnswer(const SlotSpec& slot, bool said_why) {
  int n = ++st().failures[slot.name];
  if (n >= flow_.max_failures) {
    GiveUp(slot);
    return true;
  }
  if (n >= flow_.summarize_after) {
    std::string summary = Summary();
    Say(flow_.Key(summary.empty() ? "nothing_yet" : "so_far"), {{"summary", summary}, {"field", Text(slot.label)}});
    for (const auto& q : slot.quick_replies) result_.replies.back().quick_replies.push_back(Text(q));
    result_.replies.back().quick_replies.push_back(Text(flow_.Key("qr_human")));
    return true;
  }
  if (said_why) return false;  // the pending question is asked again after the reason
  Say(slot.retry, {}, slot.quick_replies);
  return true;
}

void Turn::ResetClaim() {
  DialogState& s = st();
  // A cancelled claim stays stored with the conversation when a new one starts.
  if (s.state == kCancelled && !s.slots.empty()) s.cancelled_claims.push_back(ClaimOf(s));
  s.left_for_staff.clear();
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

// The first slot still to ask: not filled, not left for staff, asked on this channel.
const SlotSpec* Turn::NextSlot() const {
  const DialogState& s = result_.state;
  for (const SlotSpec& slot : flow_.slots) {
    if (SkipSlot(slot) || !slot.ask || s.slots.contains(slot.name) || s.left_for_staff.count(slot.name)) continue;
    return &slot;
  }
  return nullptr;
}

void Turn::AskNext() {
  DialogState& s = st();
  if (s.awaiting == "date_role" && s.date_choices.size() == 2) {  // the open yes/no question comes first
    const SlotSpec* slot = flow_.FindSlot(s.date_choices[1]);
    if (slot && !s.slots.contains(slot->name)) {
      s.state = kCollecting;
      Say(slot->confirm, {{"date", s.date_choices[0]}}, {flow_.Key("qr_yes"), flow_.Key("qr_no")});
      return;
    }
    s.awaiting.clear();
    s.date_choices.clear();
  }
  if (const SlotSpec* slot = NextSlot()) {
    s.state = kCollecting;
    s.pending = slot->name;
    Say(slot->prompt, {}, slot->quick_replies);
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

// Whether `date` passes `slot`'s own rules (not in the future, not too early); when not and `say_why`,
// the rule's message is said and the answer counts as rejected.
bool Turn::DateFits(const SlotSpec& slot, const Date& date, bool say_why, Applied* a) {
  for (const DateRule& r : slot.rules) {
    bool bad = (r.check == "not_future" && date > ctx_.today) || (r.check == "not_before" && r.date && date < *r.date);
    if (!bad) continue;
    if (say_why) {
      Say(r.message, {{"date", date.Iso()}, {"today", ctx_.today.Iso()},
                      {"earliest", r.date ? r.date->Iso() : ""}, {"field", Text(slot.label)}});
      a->rejected = true;
    }
    return false;
  }
  return true;
}

void Turn::ApplyDates(const Understanding& u, Applied* a) {
  DialogState& s = st();
  std::vector<std::pair<const SlotSpec*, Date>> assign;
  std::vector<Date> unlabeled;
  const SlotSpec* pending_date = flow_.FindSlot(s.pending);
  if (pending_date && pending_date->kind != SlotKind::kDate) pending_date = nullptr;
  std::set<std::string> roles_seen;
  for (const DateFact& f : u.dates) {
    const SlotSpec* slot = f.role.empty() ? nullptr : flow_.FindSlot(f.role);
    if (slot && slot->kind != SlotKind::kDate) slot = nullptr;
    if (!slot && f.about_problem) continue;  // when a problem was seen, not a claim date
    // Two different dates near the same cue ("payment was made on 5.11 and the line handed over on
    // 9.11"): the first keeps the role, the next is a date whose role the words do not say.
    if (slot && !roles_seen.insert(slot->name).second) {
      bool same_date = std::any_of(assign.begin(), assign.end(), [&](const auto& p) { return p.first == slot && p.second == f.date; });
      if (same_date) continue;
      slot = nullptr;
    }
    if (f.alternative && ask_numeric_order_ && !a->question && (slot || pending_date)) {
      // 05/01 read two ways: the customer picks (the first ambiguous date of the message).
      const SlotSpec* target = slot ? slot : pending_date;
      std::string first = f.date.Iso(), second = f.alternative->Iso();
      s.awaiting = "date_choice";
      s.pending = target->name;
      s.date_choices = {first, second};
      a->question = Question{flow_.Key("date_choice"), {{"first", first}, {"second", second}}, s.date_choices};
      continue;
    }
    if (slot) assign.emplace_back(slot, f.date);
    else unlabeled.push_back(f.date);
  }
  // "当天付款当天开通", "paid and activated the same day": one date is every date of the claim; with no
  // date, the one date the claim has is the other too.
  if (u.Has("same_day") && !a->question) {
    std::set<std::string> distinct;
    for (const auto& [slot, d] : assign) distinct.insert(d.Iso());
    for (const Date& d : unlabeled) distinct.insert(d.Iso());
    std::optional<Date> day;
    if (distinct.size() == 1) day = Date::FromIso(*distinct.begin());
    for (const SlotSpec& slot : flow_.slots) {
      if (!day && slot.kind == SlotKind::kDate && s.slots.contains(slot.name)) day = Date::FromIso(s.slots[slot.name].get<std::string>());
    }
    if (day) {
      assign.clear();
      unlabeled.clear();
      for (const SlotSpec& slot : flow_.slots) {
        if (slot.kind != SlotKind::kDate || (s.slots.contains(slot.name) && s.slots[slot.name] == day->Iso())) continue;
        if (distinct.size() == 1 || !s.slots.contains(slot.name)) assign.emplace_back(&slot, *day);
      }
    }
  }
  AssignUnlabeled(unlabeled, &assign, a);
  for (const auto& [slot, date] : assign) {
    if (!DateFits(*slot, date, true, a)) continue;
    s.slots[slot->name] = date.Iso();
    s.last_date = date.Iso();
    a->captured.push_back(Text(slot->label) + ": " + date.Iso());
  }
  if (!a->question) AskDateOrder(a);
}

// Dates whose role no word says. While a date is asked, the first is its answer ("2026-11-01, 2026-11-05":
// the next ones fill the date slots after it). Otherwise, when the claim lacks exactly one date, the bot
// asks whether this is it ("Was 9 November when the service was switched on?") rather than guess or drop it.
void Turn::AssignUnlabeled(const std::vector<Date>& unlabeled, std::vector<std::pair<const SlotSpec*, Date>>* assign,
                           Applied* a) {
  DialogState& s = st();
  auto taken = [&](const SlotSpec* slot) {
    return std::any_of(assign->begin(), assign->end(), [&](const auto& p) { return p.first == slot; });
  };
  const SlotSpec* pending_date = flow_.FindSlot(s.pending);
  if (pending_date && pending_date->kind != SlotKind::kDate) pending_date = nullptr;
  std::vector<Date> rest;
  bool answered_pending = false;
  for (const Date& d : unlabeled) {
    const SlotSpec* target = nullptr;
    if (pending_date && !taken(pending_date)) {
      target = pending_date;
      answered_pending = true;
    } else if (answered_pending) {
      bool seen = false;
      for (const SlotSpec& slot : flow_.slots) {
        if (&slot == pending_date) seen = true;
        if (seen && !target && slot.kind == SlotKind::kDate && !taken(&slot) && !s.slots.contains(slot.name)) target = &slot;
      }
    }
    if (target) assign->emplace_back(target, d);
    else rest.push_back(d);
  }
  if (rest.size() != 1 || a->question) return;
  std::vector<const SlotSpec*> missing;
  for (const SlotSpec& slot : flow_.slots) {
    if (slot.kind == SlotKind::kDate && slot.ask && !slot.confirm.empty() && !s.slots.contains(slot.name) && !taken(&slot)) {
      missing.push_back(&slot);
    }
  }
  if (missing.size() != 1 || !DateFits(*missing[0], rest[0], false, a)) return;
  s.awaiting = "date_role";
  s.date_choices = {rest[0].Iso(), missing[0]->name};
  a->question = Question{missing[0]->confirm, {{"date", rest[0].Iso()}}, {Text(flow_.Key("qr_yes")), Text(flow_.Key("qr_no"))}};
}

// Cross-slot questions (activation before payment): asked once, then the customer's word stands.
void Turn::AskDateOrder(Applied* a) {
  DialogState& s = st();
  for (const SlotSpec& slot : flow_.slots) {
    for (const DateRule& r : slot.rules) {
      if (r.check != "not_before_slot" || !s.slots.contains(slot.name) || !s.slots.contains(r.other)) continue;
      std::string mine = s.slots[slot.name], other = s.slots[r.other];
      std::string once = slot.name + "<" + r.other;
      if (mine >= other || s.asked_once.count(once)) continue;
      s.asked_once.insert(once);
      s.awaiting = "order_question";
      s.pending = slot.name;
      // The buttons: keep, the two dates the other way round (a role read from the wrong cue — the button
      // names both dates with their labels, so clicking it answers like a sentence), or neither.
      const SlotSpec* other_slot = flow_.FindSlot(r.other);
      std::string swapped = Text(flow_.Key("qr_swap_dates"), {{"first_label", Text(other_slot->label)}, {"first_date", mine},
                                                             {"second_label", Text(slot.label)}, {"second_date", other}});
      a->question = Question{r.message, {{"date", mine}, {"other_date", other}},
                             {Text(flow_.Key("qr_yes")), swapped, Text(flow_.Key("qr_no"))}};
      return;
    }
  }
}

// "不是带宽问题，是丢包": a category the customer takes back leaves the claim.
void Turn::RetractProblems(const SlotSpec& slot, const std::vector<std::string>& retracted) {
  DialogState& s = st();
  if (retracted.empty() || !s.slots.contains(slot.name) || !s.slots[slot.name].is_array()) return;
  json kept = json::array();
  for (const json& e : s.slots[slot.name]) {
    if (!Contains(retracted, e.value("category", ""))) kept.push_back(e);
  }
  s.slots[slot.name] = std::move(kept);
}

void Turn::AddProblem(const SlotSpec& slot, const Problem& p, Applied* a) {
  json& list = st().slots[slot.name];
  if (!list.is_array()) list = json::array();
  auto same = std::find_if(list.begin(), list.end(), [&](const json& e) { return e.value("category", "") == p.category; });
  if (same == list.end()) {
    list.push_back({{"category", p.category}, {"description", p.description}, {"metrics", p.metrics}});
    same = list.end() - 1;
  } else {
    for (const auto& [mk, mv] : p.metrics.items()) (*same)["metrics"][mk] = mv;
    std::string d = (*same).value("description", "");
    if (d.find(p.description) == std::string::npos) (*same)["description"] = d + " / " + p.description;
  }
  a->captured.push_back(FormatProblem(*same));
}

// Intents that describe rather than command: they do not make a message a command or small talk.
bool OnlyDescriptiveIntents(const Understanding& u) {
  for (const auto& [intent, present] : u.intents) {
    if (present && intent != "new_claim" && intent != "not_new_claim" && intent != "same_day" && intent != "no_evidence") {
      return false;
    }
  }
  return true;
}

// Words a message says about something: Latin words plus half the Han characters (as the language count).
double WordWeight(const std::string& normalized) {
  double weight = 0;
  bool in_word = false;
  for (size_t i = 0; i < normalized.size(); ++i) {
    if (IsHanAt(normalized, i)) { weight += 0.5; i += 2; in_word = false; continue; }
    bool letter = normalized[i] >= 'a' && normalized[i] <= 'z';
    if (letter && !in_word) weight += 1;
    in_word = letter;
  }
  return weight;
}

// The clauses of the message (split at , ; ! ? and sentence ends, ASCII or full-width) that hold no
// fact of the claim, no question and no command: in a message that gave other facts, what is left is
// the customer's account of the problem. Empty when that is too little to be one.
std::string Turn::ResidualClauses() {
  static const std::vector<std::string> kBreaks = {"，", "。", "；", "！", "？", "、", "\n"};
  std::vector<std::string> clauses;
  std::string cur;
  for (size_t i = 0; i < text_.size(); ++i) {
    char c = text_[i];
    bool ascii_break = c == ',' || c == ';' || c == '!' || c == '?' || c == '\n' ||
                       (c == '.' && (i + 1 == text_.size() || text_[i + 1] == ' '));
    size_t wide = 0;
    for (const auto& b : kBreaks) if (text_.compare(i, b.size(), b) == 0 && b.size() > 1) wide = b.size();
    if (ascii_break || wide) {
      clauses.push_back(cur);
      cur.clear();
      if (wide) i += wide - 1;
      continue;
    }
    cur += c;
  }
  clauses.push_back(cur);
  std::string residual;
  double weight = 0;
  for (const std::string& clause : clauses) {
    const std::string norm = NormalizeForParsing(clause);
    if (!HasWords(norm)) continue;
    Understanding c = Understand(clause, norm, ctx_.today, k_.vocab, "", {});
    if (!c.dates.empty() || !c.evidence.empty() || !c.problems.empty() || c.email || c.account || !c.ticket_ids.empty() ||
        c.billing_model || c.amount_paid || !c.intents.empty()) {
      continue;
    }
    residual += (residual.empty() ? "" : " / ") + Trim(clause);
    weight += WordWeight(norm);
  }
  return weight >= 4 ? residual : std::string();
}

// A problem in words no category knows is kept as category `other` with the customer's words (staff
// read them), not asked again: while the problems are asked, a message that is not a question, command,
// small talk or another slot's answer, and holds words ("+1 512 555 0131" does not); and in a message
// that gave other facts (several, when the problems were not asked) but no problem, the clauses that are
// none of those facts.
void Turn::KeepUnknownProblem(const Understanding& u, Applied* a) {
  const SlotSpec* slot = nullptr;
  for (const SlotSpec& s : flow_.slots) if (s.kind == SlotKind::kProblems && s.keep_unknown) slot = &s;
  if (!slot || st().slots.contains(slot->name) || u.Has("question")) return;
  const bool asked = st().pending == slot->name;
  const size_t answers = a->captured.size() - a->side_facts;  // facts of the slots the bot asks
  std::string words = Trim(text_);
  const double weight = WordWeight(NormalizeForParsing(words));
  // "no 24/7 support even though it was promised": a leading "no" in a sentence is not a yes/no answer.
  bool commands = !OnlyDescriptiveIntents(u);
  if (commands && weight >= 4) {
    commands = std::any_of(u.intents.begin(), u.intents.end(), [](const auto& i) {
      return i.second && i.first != "yes" && i.first != "no" && i.first != "new_claim" && i.first != "not_new_claim" &&
             i.first != "same_day";
    });
  }
  if (asked && answers == 0 && !a->rejected && !u.email && !u.account && !commands && weight > 0) {
    AddProblem(*slot, Problem{"other", words, json::object()}, a);
    return;
  }
  // Not asked: only a message that gave several facts at once is a full account worth reading this way.
  if (answers == 0 || (!asked && answers < 2)) return;
  std::string residual = ResidualClauses();
  if (!residual.empty()) AddProblem(*slot, Problem{"other", residual, json::object()}, a);
}

// While the evidence is asked, an answer in words no evidence type knows ("we recorded the streams") is
// kept as evidence of type `other` with the customer's words, as problems are; not a question, command
// or small talk, not another slot's answer, and more than a word or two of Han characters ("没").
void Turn::KeepUnknownEvidence(const Understanding& u, Applied* a) {
  const SlotSpec* slot = flow_.FindSlot(st().pending);
  if (!slot || slot->kind != SlotKind::kEvidence || !slot->keep_unknown || st().slots.contains(slot->name)) return;
  if (!a->captured.empty() || a->rejected || a->question || u.email || u.account || !OnlyDescriptiveIntents(u)) return;
  const std::string words = Trim(text_);
  if (WordWeight(NormalizeForParsing(words)) < 2) return;
  st().slots[slot->name] = json::array({{{"type", "other"}, {"description", words}}});
  a->captured.push_back(Text("evidence.other"));
}

Turn::Applied Turn::ApplyFacts(const Understanding& u) {
  DialogState& s = st();
  Applied a;
  a.captured = carried_;
  a.side_facts = carried_.size();  // not an answer to the question now pending
  ApplyDates(u, &a);
  for (const SlotSpec& slot : flow_.slots) {
    if (slot.kind == SlotKind::kProblems) {
      RetractProblems(slot, u.retracted_problems);
      for (const Problem& p : u.problems) AddProblem(slot, p, &a);
    } else if (slot.kind == SlotKind::kEvidence) {
      if (!u.evidence.empty()) {
        json& list = s.slots[slot.name];
        if (!list.is_array()) list = json::array();
        for (const Evidence& e : u.evidence) {
          bool have = std::any_of(list.begin(), list.end(), [&](const json& x) { return x.value("type", "") == e.type; });
          if (!have) list.push_back({{"type", e.type}, {"description", e.description}});
          a.captured.push_back(Text("evidence." + e.type));
        }
      } else if (slot.allow_none && ((s.pending == slot.name && (u.Has("none") || u.Has("no"))) ||
                                     (u.Has("no_evidence") && !s.slots.contains(slot.name)))) {
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
      ++a.side_facts;
    } else if (slot.kind == SlotKind::kContact && !SkipSlot(slot) && !u.contacts.empty()) {
      json& c = s.slots[slot.name];
      if (!c.is_object()) c = json::object();
      for (const ContactId& id : u.contacts) c[id.kind] = id.value;  // email, phone, wechat, order, ...
      a.captured.push_back(FormatSlot(slot, c));
    }
  }
  KeepUnknownProblem(u, &a);
  KeepUnknownEvidence(u, &a);
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
    if (SkipSlot(slot)) continue;
    if (st().slots.contains(slot.name)) out += "\n• " + FormatSlot(slot, st().slots[slot.name]);
    else if (st().left_for_staff.count(slot.name)) out += "\n• " + Text(slot.label) + ": " + Text("value.for_staff");
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

bool SetSlotByStaff(DialogState* state, const DialogContext& ctx, const std::string& name, const json& value,
                    std::string* error) {
  const SlotSpec* slot = ctx.knowledge->flow.FindSlot(name);
  if (!slot) { *error = "no slot named " + name; return false; }
  if (auto problem = SlotValueError(*slot, value, *ctx.knowledge, ctx.today)) { *error = *problem; return false; }
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
