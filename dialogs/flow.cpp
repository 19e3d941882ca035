#include "dialogs/flow.h"

namespace rd {

using nlohmann::json;

const char* SlotKindName(SlotKind kind) {
  switch (kind) {
    case SlotKind::kDate: return "date";
    case SlotKind::kProblems: return "problems";
    case SlotKind::kEvidence: return "evidence";
    case SlotKind::kContact: return "contact";
    case SlotKind::kBilling: return "billing";
  }
  return "";
}

const SlotSpec* FlowSpec::FindSlot(const std::string& name) const {
  for (const auto& s : slots) if (s.name == name) return &s;
  return nullptr;
}

std::string FlowSpec::Key(const std::string& moment) const {
  auto it = messages.find(moment);
  return it != messages.end() && it->is_string() ? it->get<std::string>() : moment;
}

namespace {

bool Strings(const json& j, const char* field, std::vector<std::string>* out, std::string* error,
             const std::string& where) {
  if (!j.contains(field)) return true;
  if (!j[field].is_array()) { *error = where + "." + field + " must be a list of strings"; return false; }
  for (const auto& v : j[field]) {
    if (!v.is_string()) { *error = where + "." + field + " must be a list of strings"; return false; }
    out->push_back(v.get<std::string>());
  }
  return true;
}

bool String(const json& j, const char* field, std::string* out, std::string* error,
            const std::string& where, bool required) {
  if (!j.contains(field)) {
    if (required) { *error = where + "." + field + " is missing"; return false; }
    return true;
  }
  if (!j[field].is_string()) { *error = where + "." + field + " must be a string"; return false; }
  *out = j[field].get<std::string>();
  return true;
}

// One slot of flow.slots, `where` naming it in errors.
bool ParseSlot(const json& j, const std::string& where, SlotSpec* out, std::string* error) {
  SlotSpec& s = *out;
  std::string kind;
  s.ask = j.value("ask", true);
  if (!String(j, "name", &s.name, error, where, true) || !String(j, "kind", &kind, error, where, true) ||
      !String(j, "prompt", &s.prompt, error, where, s.ask) || !String(j, "retry", &s.retry, error, where, s.ask) ||
      !String(j, "label", &s.label, error, where, true) || !String(j, "confirm", &s.confirm, error, where, false) ||
      !Strings(j, "quick_replies", &s.quick_replies, error, where)) {
    return false;
  }
  if (kind == "date") s.kind = SlotKind::kDate;
  else if (kind == "problems") s.kind = SlotKind::kProblems;
  else if (kind == "evidence") s.kind = SlotKind::kEvidence;
  else if (kind == "contact") s.kind = SlotKind::kContact;
  else if (kind == "billing") s.kind = SlotKind::kBilling;
  else { *error = where + ".kind \"" + kind + "\" is not one of date, problems, evidence, contact, billing"; return false; }
  s.allow_none = j.value("allow_none", false);
  s.skip_when_channel_identifies = j.value("skip_when_channel_identifies", false);
  s.keep_unknown = j.value("keep_unknown", false);
  std::string give_up = "leave_for_staff";
  if (!String(j, "give_up", &give_up, error, where, false)) return false;
  if (give_up == "keep_text") s.give_up = SlotSpec::GiveUp::kKeepText;
  else if (give_up != "leave_for_staff") { *error = where + ".give_up must be keep_text or leave_for_staff"; return false; }
  if (s.give_up == SlotSpec::GiveUp::kKeepText && s.kind != SlotKind::kContact) {
    *error = where + ".give_up keep_text needs a contact slot";
    return false;
  }
  if (j.contains("rules")) {
    for (size_t k = 0; k < j["rules"].size(); ++k) {
      const json& r = j["rules"][k];
      std::string rw = where + ".rules[" + std::to_string(k) + "]";
      DateRule rule;
      if (!String(r, "check", &rule.check, error, rw, true) || !String(r, "message", &rule.message, error, rw, true)) return false;
      if (rule.check == "not_before") {
        std::string d;
        if (!String(r, "date", &d, error, rw, true)) return false;
        rule.date = Date::FromIso(d);
        if (!rule.date) { *error = rw + ".date must be a YYYY-MM-DD date"; return false; }
      } else if (rule.check == "not_before_slot") {
        if (!String(r, "slot", &rule.other, error, rw, true)) return false;
      } else if (rule.check != "not_future") {
        *error = rw + ".check \"" + rule.check + "\" is not one of not_future, not_before, not_before_slot";
        return false;
      }
      s.rules.push_back(rule);
    }
  }
  return true;
}

}  // namespace

bool ParseFlow(const json& doc, FlowSpec* out, std::string* error) {
  if (!doc.is_object()) { *error = "flow: the document must be a JSON object"; return false; }
  if (!String(doc, "id", &out->id, error, "flow", true)) return false;
  if (doc.contains("max_failures")) {
    if (!doc["max_failures"].is_number_integer() || doc["max_failures"].get<int>() < 1) {
      *error = "flow.max_failures must be a whole number ≥ 1";
      return false;
    }
    out->max_failures = doc["max_failures"].get<int>();
  }
  if (doc.contains("summarize_after")) {
    if (!doc["summarize_after"].is_number_integer() || doc["summarize_after"].get<int>() < 1 ||
        doc["summarize_after"].get<int>() > out->max_failures) {
      *error = "flow.summarize_after must be a whole number from 1 to max_failures";
      return false;
    }
    out->summarize_after = doc["summarize_after"].get<int>();
  }
  out->messages = doc.value("messages", json::object());
  if (!doc.contains("slots") || !doc["slots"].is_array() || doc["slots"].empty()) {
    *error = "flow.slots must be a non-empty list";
    return false;
  }
  for (size_t i = 0; i < doc["slots"].size(); ++i) {
    SlotSpec s;
    if (!ParseSlot(doc["slots"][i], "flow.slots[" + std::to_string(i) + "]", &s, error)) return false;
    out->slots.push_back(std::move(s));
  }
  for (const auto& s : out->slots) {
    for (const auto& r : s.rules) {
      if (r.check == "not_before_slot" && !out->FindSlot(r.other)) {
        *error = "flow: slot " + s.name + " has a rule naming unknown slot " + r.other;
        return false;
      }
    }
  }
  if (doc.contains("commands")) {
    for (size_t i = 0; i < doc["commands"].size(); ++i) {
      const json& j = doc["commands"][i];
      std::string where = "flow.commands[" + std::to_string(i) + "]";
      CommandSpec c;
      if (!String(j, "intent", &c.intent, error, where, true) || !Strings(j, "in", &c.in_states, error, where) ||
          !String(j, "to", &c.to, error, where, false) || !String(j, "say", &c.say, error, where, true) ||
          !String(j, "effect", &c.effect, error, where, false)) {
        return false;
      }
      c.reset = j.value("reset", false);
      c.ask_next = j.value("ask_next", false);
      out->commands.push_back(std::move(c));
    }
  }
  return true;
}

}  // namespace rd
