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
  bool lang_pinned = false;   // the customer asked for this language: messages no longer switch it
  nlohmann::json slots = nlohmann::json::object();  // slot name -> value (claim fields)
  std::string pending;                              // slot (or question) being asked
  std::map<std::string, int> failures;              // slot -> consecutive failed answers
  std::string awaiting;  // "", "offer_human", "order_question", "resume", "date_choice", "date_role"
  std::set<std::string> asked_once;                 // questions never asked twice
  std::string resume_state;                         // state to go back to from handoff / expired
  std::string ticket_id;
  std::vector<std::string> date_choices;            // awaiting "date_choice": the two readings offered;
                                                    // "date_role": {the date, the slot it may be}
  std::set<std::string> left_for_staff;             // slots the bot stopped asking (failed answers)
  nlohmann::json cancelled_claims = nlohmann::json::array();  // claims cancelled before a new one began
  std::string last_date;                            // the date captured last, anchor for "two days later"
  int64_t last_active = 0;                          // unix seconds of the last customer message
};

// By value: a caller done with its state (or its stored tree) moves it in, and the slots are not copied.
nlohmann::json ToJson(DialogState s);
DialogState DialogStateFromJson(nlohmann::json j);

struct Reply {
  std::string text;
  std::vector<std::string> quick_replies;
  std::string author = "bot";  // "system" for notices of what staff did ("Ana joined")
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

// `state` by value: a caller done with it moves it in.
StepResult Step(DialogState state, const std::string& text, const DialogContext& ctx);

// The claim as filed (DESIGN.md field names) from the slots; `left_for_staff` lists the slots the bot
// stopped asking after repeated failed answers, when there are any.
nlohmann::json ClaimOf(const DialogState& state);

// An evidence file the customer sent (web upload, Slack file, WeCom image).
struct Attachment {
  std::string name;          // as the customer named it; its words and extension give the evidence type
  std::string sha256;
  std::string content_type;
  int64_t size = 0;
};
// Records the file on the claim's evidence, acknowledges it and asks the pending question (the bot
// stays silent in handoff). On a filed claim the evidence is added for staff; the caller updates the
// ticket.
StepResult StepAttachment(const DialogState& state, const Attachment& file, const DialogContext& ctx);

// What staff do to a conversation. Pure like Step(): the replies are what the customer is told (in the
// conversation's language), the effects what the caller applies.
//   kTakeOver  a person has it: state handoff, the bot stays silent; where the claim was is kept
//   kHandBack  the bot has it again: the claim resumes at its pending question, every slot kept
//   kTransfer  another staff member has it (`staff` names them)
//   kFile      file the claim as it stands (a kFileTicket effect, as when the customer confirms)
//   kClose     end the conversation without a ticket (state cancelled)
struct StaffAction {
  enum class Kind { kTakeOver, kHandBack, kTransfer, kFile, kClose };
  Kind kind;
  std::string staff;  // who acts, or for kTransfer who receives it
};
StepResult ApplyStaffAction(const DialogState& state, const StaffAction& action, const DialogContext& ctx);

// Sets claim field `slot` to `value` as staff give it, checked against the slot's kind with the rules
// of dialogs/slot_values.h (every member's type, known categories and evidence types, metrics in range,
// dates real and within the slot's rules on ctx.today). False with `error` (the reason) when the slot is
// unknown or the value does not fit; the state is then unchanged.
bool SetSlotByStaff(DialogState* state, const DialogContext& ctx, const std::string& slot, const nlohmann::json& value,
                    std::string* error);

// A paragraph for the staff member who takes a conversation over: the claim so far and what is missing,
// in `lang`.
std::string StaffSummary(const DialogState& state, const Knowledge& knowledge, Lang lang);

}  // namespace rd
