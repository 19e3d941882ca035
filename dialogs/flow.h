// A conversation declared as data: the slots to fill (with their prompts and validation rules), the
// confirmation step and the commands that move between states. The engine (engine.h) is generic;
// knowledge/flows/refund_claim.json is its first configuration.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dialogs/dates.h"

namespace rd {

// What kind of value a slot holds; decides which facts of a message can fill it.
enum class SlotKind { kDate, kProblems, kEvidence, kContact, kBilling };
// "date" | "problems" | "evidence" | "contact" | "billing", as the flow file and the chat API write it.
const char* SlotKindName(SlotKind kind);

// A check on a date slot. `not_future`: not after today. `not_before`: not before `date`.
// `not_before_slot`: not before slot `other` — asked once as a question (`message`), then accepted.
struct DateRule {
  std::string check;
  std::optional<Date> date;
  std::string other;
  std::string message;  // message key said when the rule fails
};

struct SlotSpec {
  std::string name;
  SlotKind kind = SlotKind::kDate;
  std::string prompt;                       // message key asking for it
  std::string retry;                        // message key when an answer did not fill it
  std::string label;                        // message key naming it in summaries
  std::string confirm;                      // date slots: yes/no question "was {date} this date?"
  std::vector<std::string> quick_replies;   // message keys offered as buttons
  std::vector<DateRule> rules;
  bool allow_none = false;                  // "none"/"没有" is a valid answer (evidence)
  bool skip_when_channel_identifies = false;  // contact: the channel already says who it is
  bool ask = true;  // false: never asked (no prompt); filled when the customer mentions it (billing)
  // What the bot does when an answer to this slot has failed FlowSpec::max_failures times in a row:
  // kKeepText (contact only) keeps the customer's words as written when they could be an identifier,
  // kLeaveForStaff moves on and names the slot on the ticket for staff to fill.
  enum class GiveUp { kKeepText, kLeaveForStaff };
  GiveUp give_up = GiveUp::kLeaveForStaff;
  // problems: a message answering this slot in words no category knows is kept as category `other`.
  bool keep_unknown = false;
};

// A command intent and the states it applies in. `to` empty: the state does not change.
struct CommandSpec {
  std::string intent;
  std::vector<std::string> in_states;
  std::string to;
  std::string say;          // message key
  std::string effect;       // "" | "hand_off"
  bool reset = false;       // forget the claim so far
  bool ask_next = false;    // ask the pending question again afterwards
};

struct FlowSpec {
  std::string id;
  int max_failures = 3;     // failed answers to one question before the slot's give_up applies
  int summarize_after = 2;  // failed answers before the bot says what it understood and offers buttons
  std::vector<SlotSpec> slots;
  std::vector<CommandSpec> commands;
  nlohmann::json messages;  // named message keys for the engine's fixed moments (see refund_claim.json)

  const SlotSpec* FindSlot(const std::string& name) const;
  // The message key the flow names for `moment` ("greeting", "confirm", "filed", ...).
  std::string Key(const std::string& moment) const;
};

// Parses a flow document; on error returns false with a message naming the field.
bool ParseFlow(const nlohmann::json& doc, FlowSpec* out, std::string* error);

}  // namespace rd
