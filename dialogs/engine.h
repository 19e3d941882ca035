// The generic slot-filling dialog engine. Step() is a pure function: it takes the conversation's state,
// one customer message and everything it may consult (today, knowledge, ticket statuses) and returns the
// new state, the replies and the effects for the caller to apply in the same transaction.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "dialogs/dates.h"
#include "dialogs/text.h"
#include "knowledge/knowledge.h"

namespace rd {

// Conversation states of DESIGN.md.
inline constexpr const char* kStart = "start";
inline constexpr const char* kCollecting = "collecting";
inline constexpr const char* kConfirming = "confirming";
inline constexpr const char* kFiled = "filed";
inline constexpr const char* kHandoff = "handoff";
inline constexpr const char* kCancelled = "cancelled";
inline constexpr const char* kExpired = "expired";

// Everything the engine remembers between turns; stored as JSON with the conversation.
struct DialogState {
  std::string state = kStart;
  Lang lang = Lang::kEn;
  bool lang_known = false;
  nlohmann::json slots = nlohmann::json::object();  // slot name -> value (claim fields)
  std::string pending;                              // slot (or question) being asked
  std::map<std::string, int> failures;              // slot -> consecutive failed answers
  std::string awaiting;                             // "", "offer_human", "order_question", "resume", "date_choice"
  std::set<std::string> asked_once;                 // questions never asked twice
  std::string resume_state;                         // state to go back to from handoff / expired
  std::string ticket_id;
  std::vector<std::string> date_choices;            // awaiting "date_choice": the two readings offered
  std::string last_date;                            // the date captured last, anchor for "two days later"
  int64_t last_active = 0;                          // unix seconds of the last customer message
};

nlohmann::json ToJson(const DialogState& s);
DialogState DialogStateFromJson(const nlohmann::json& j);

struct Reply {
  std::string text;
  std::vector<std::string> quick_replies;
};

struct Effect {
  enum class Kind { kFileTicket, kHandOff };
  Kind kind;
  nlohmann::json claim;       // kFileTicket: the claim fields
  nlohmann::json assessment;  // kFileTicket
  std::string reason;         // kHandOff: customer_asked | repeated_failures
};

struct DialogContext {
  const Knowledge* knowledge = nullptr;
  Date today;
  int64_t now = 0;                            // unix seconds; only compared with last_active
  int64_t idle_timeout_seconds = 7 * 86400;
  Lang default_lang = Lang::kEn;
  bool channel_identifies_customer = false;   // Slack/WeCom know who writes; the widget does not
  std::map<std::string, std::string> ticket_statuses;  // tickets this customer may ask about
};

struct StepResult {
  DialogState state;
  std::vector<Reply> replies;
  std::vector<Effect> effects;
  std::string faq_id;  // the FAQ entry answered this turn, if any
};

// The reply of a filing turn contains the literal placeholder kTicketIdPlaceholder; the caller, which
// allocates the id when it stores the ticket, replaces it.
inline constexpr const char* kTicketIdPlaceholder = "{ticket_id}";

StepResult Step(const DialogState& state, const std::string& text, const DialogContext& ctx);

// The claim as filed (DESIGN.md field names) from the slots.
nlohmann::json ClaimOf(const DialogState& state);

}  // namespace rd
