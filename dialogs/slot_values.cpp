#include "dialogs/slot_values.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>

namespace rd {

using nlohmann::json;

namespace {

using Error = std::optional<std::string>;

bool OneOf(const std::string& key, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (key == n) return true;
  }
  return false;
}

// Every member of `object` is one of `allowed`; else the first stranger, named under `where`.
Error OnlyMembers(const json& object, std::initializer_list<const char*> allowed, const std::string& where) {
  for (const auto& [key, v] : object.items()) {
    if (!OneOf(key, allowed)) return where + " has an unknown member \"" + key + "\"";
  }
  return std::nullopt;
}

Error OptionalString(const json& object, const char* key, const std::string& where) {
  auto it = object.find(key);
  if (it != object.end() && !it->is_string()) return where + "." + key + " must be a string";
  return std::nullopt;
}

bool FiniteNumber(const json& v) { return v.is_number() && std::isfinite(v.get<double>()); }

Error DateValue(const SlotSpec& slot, const json& value, Date today) {
  const std::string& name = slot.name;
  std::optional<Date> date = value.is_string() ? Date::FromIso(value.get<std::string>()) : std::nullopt;
  if (!date || value.get<std::string>().size() != 10) return name + " must be a date written YYYY-MM-DD";
  for (const DateRule& r : slot.rules) {
    if (r.check == "not_future" && *date > today) return name + " may not be after today (" + today.Iso() + ")";
    if (r.check == "not_before" && r.date && *date < *r.date) return name + " may not be before " + r.date->Iso();
  }
  return std::nullopt;
}

Error Metrics(const json& metrics, const Knowledge& k, const std::string& where) {
  if (!metrics.is_object()) return where + " must be an object";
  for (const auto& [key, v] : metrics.items()) {
    if (!k.messages.Has("metric." + key)) return where + " has an unknown metric \"" + key + "\"";
    if (key == "region" || key == "period") {
      if (!v.is_string()) return where + "." + key + " must be a string";
      continue;
    }
    const bool pct = key.size() > 4 && key.compare(key.size() - 4, 4, "_pct") == 0;
    if (!FiniteNumber(v) || v.get<double>() < 0 || v.get<double>() > (pct ? 100 : 1e9)) {
      return where + "." + key + (pct ? " must be a number from 0 to 100" : " must be a number from 0 to 1e9");
    }
  }
  return std::nullopt;
}

Error Problems(const std::string& name, const json& value, const Knowledge& k) {
  if (!value.is_array()) return name + " must be a list of {\"category\", ...}";
  for (size_t i = 0; i < value.size(); ++i) {
    const json& p = value[i];
    const std::string where = name + "[" + std::to_string(i) + "]";
    if (!p.is_object() || !p.contains("category") || !p["category"].is_string()) {
      return where + " must be an object with a \"category\" string";
    }
    if (!k.messages.Has("category." + p["category"].get<std::string>())) {
      return where + ".category \"" + p["category"].get<std::string>() + "\" is not a known problem category";
    }
    if (Error e = OnlyMembers(p, {"category", "description", "metrics"}, where)) return e;
    if (Error e = OptionalString(p, "description", where)) return e;
    if (p.contains("metrics")) {
      if (Error e = Metrics(p["metrics"], k, where + ".metrics")) return e;
    }
  }
  return std::nullopt;
}

Error EvidenceList(const std::string& name, const json& value, const Knowledge& k) {
  if (!value.is_array()) return name + " must be a list of {\"type\", ...}";
  for (size_t i = 0; i < value.size(); ++i) {
    const json& e = value[i];
    const std::string where = name + "[" + std::to_string(i) + "]";
    if (!e.is_object() || !e.contains("type") || !e["type"].is_string()) {
      return where + " must be an object with a \"type\" string";
    }
    if (!k.messages.Has("evidence." + e["type"].get<std::string>())) {
      return where + ".type \"" + e["type"].get<std::string>() + "\" is not a known evidence type";
    }
    if (Error err = OnlyMembers(e, {"type", "description", "attachment"}, where)) return err;
    if (Error err = OptionalString(e, "description", where)) return err;
    if (e.contains("attachment") && !e["attachment"].is_object()) return where + ".attachment must be an object";
  }
  return std::nullopt;
}

// Contact members are the kinds the understanding stores (email, phone, account, "as_written" and the
// vocabulary's labelled kinds: wechat, order, ...), each a string.
Error Contact(const std::string& name, const json& value, const Knowledge& k) {
  if (!value.is_object()) return name + " must be an object";
  std::vector<std::string> kinds = {"email", "phone", "account", "as_written"};
  for (const auto& [kind, labels] : k.vocab.contact_labels) kinds.push_back(kind);
  for (const auto& [key, member] : value.items()) {
    if (std::find(kinds.begin(), kinds.end(), key) == kinds.end()) return name + "." + key + " is not a contact kind";
    if (!member.is_string()) return name + "." + key + " must be a string";
  }
  return std::nullopt;
}

Error Billing(const std::string& name, const json& value, const Knowledge& k) {
  if (!value.is_object()) return name + " must be an object";
  if (Error e = OnlyMembers(value, {"billing_model", "amount_paid", "currency", "traffic_used_pct"}, name)) return e;
  if (auto it = value.find("billing_model"); it != value.end()) {
    if (!it->is_string() || !k.policy.billing_models.count(it->get<std::string>())) {
      std::string known;
      for (const auto& [model, rule] : k.policy.billing_models) known += (known.empty() ? "" : ", ") + model;
      return name + ".billing_model must be one of: " + known;
    }
  }
  if (auto it = value.find("amount_paid"); it != value.end()) {
    if (!FiniteNumber(*it) || it->get<double>() <= 0 || it->get<double>() >= 1e12) {
      return name + ".amount_paid must be a number above 0 and below 1e12";
    }
  }
  if (auto it = value.find("currency"); it != value.end()) {
    const std::string currency = it->is_string() ? it->get<std::string>() : "";
    const bool code = currency.size() == 3 &&
                      std::all_of(currency.begin(), currency.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
    if (!code) return name + ".currency must be a three-letter code such as CNY";
  }
  if (auto it = value.find("traffic_used_pct"); it != value.end()) {
    if (!FiniteNumber(*it) || it->get<double>() < 0 || it->get<double>() > 100) {
      return name + ".traffic_used_pct must be a number from 0 to 100";
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> SlotValueError(const SlotSpec& slot, const json& value, const Knowledge& knowledge,
                                          Date today) {
  switch (slot.kind) {
    case SlotKind::kDate: return DateValue(slot, value, today);
    case SlotKind::kProblems: return Problems(slot.name, value, knowledge);
    case SlotKind::kEvidence: return EvidenceList(slot.name, value, knowledge);
    case SlotKind::kContact: return Contact(slot.name, value, knowledge);
    case SlotKind::kBilling: return Billing(slot.name, value, knowledge);
  }
  return slot.name + " has an unknown kind";
}

}  // namespace rd
