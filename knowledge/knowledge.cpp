#include "knowledge/knowledge.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>

namespace rd {

using nlohmann::json;

std::string RenderTemplate(const std::string& tpl, const json& params) {
  if (tpl.find('{') == std::string::npos) return tpl;
  std::string out;
  out.reserve(tpl.size() + 32);
  for (size_t i = 0; i < tpl.size();) {
    if (tpl[i] == '{') {
      size_t close = tpl.find('}', i);
      if (close != std::string::npos && params.is_object()) {
        auto p = params.find(tpl.substr(i + 1, close - i - 1));
        if (p != params.end()) {
          out += p->is_string() ? p->get<std::string>() : p->dump();
          i = close + 1;
          continue;
        }
      }
    }
    out.push_back(tpl[i++]);
  }
  return out;
}

std::string Messages::Render(const std::string& key, Lang lang, const json& params) const {
  auto it = texts_.find(key);
  if (it == texts_.end()) return key;  // never empty: a missing key is visible, not silent
  return RenderTemplate(lang == Lang::kZh ? it->second.first : it->second.second, params);
}

void Messages::Set(const std::string& key, std::string zh, std::string en) {
  texts_[key] = {std::move(zh), std::move(en)};
}

namespace {

bool ReadJsonFile(const std::string& path, json* out, std::string* source, std::vector<std::string>* errors) {
  std::ifstream in(path, std::ios::binary);
  if (!in) { errors->push_back(path + ": cannot be read"); return false; }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string& text = *source;
  text = ss.str();
  try {
    *out = json::parse(text, nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    // Byte offset -> line number, so an editor can jump to it.
    size_t line = 1;
    for (size_t i = 0; i < e.byte && i < text.size(); ++i) line += text[i] == '\n';
    errors->push_back(path + ":" + std::to_string(line) + ": not valid JSON (" + e.what() + ")");
    return false;
  }
  return true;
}

void LoadMessages(const std::string& path, const json& doc, Messages* out, std::vector<std::string>* errors) {
  if (!doc.is_object()) { errors->push_back(path + ": must be an object of message keys"); return; }
  for (const auto& [key, v] : doc.items()) {
    if (!v.is_object() || !v.contains("zh") || !v.contains("en") || !v["zh"].is_string() || !v["en"].is_string()) {
      errors->push_back(path + ": message \"" + key + "\" needs both \"zh\" and \"en\" texts");
      continue;
    }
    out->Set(key, v["zh"].get<std::string>(), v["en"].get<std::string>());
  }
}

void LoadPolicy(const std::string& path, const json& doc, Policy* p, std::vector<std::string>* errors) {
  try {
    p->provider_name = doc.at("provider_name").get<std::string>();
    const json& w = doc.at("window");
    p->window_days = w.at("days").get<int>();
    p->window_start = w.at("starts_at").get<std::string>();
    const json& t = doc.at("quality_thresholds");
    p->availability_pct_min = t.at("availability_pct_min").get<double>();
    p->latency_ms_max = t.at("latency_ms_max").get<double>();
    p->packet_loss_pct_max = t.at("packet_loss_pct_max").get<double>();
    p->expected_evidence = doc.at("expected_evidence").get<std::vector<std::string>>();
    if (doc.contains("processing")) {
      p->review_days = doc["processing"].at("review_days").get<int>();
      p->payout_days = doc["processing"].at("payout_days").get<int>();
    }
    const json fees = doc.value("fees", json::object()), models = doc.value("billing_models", json::object());
    for (const auto& [id, fee] : fees.items()) {
      p->fees.push_back({id, fee.at("refund_ratio").get<double>()});
    }
    for (const auto& [model, rule] : models.items()) {
      p->billing_models[model] = {rule.at("prorate").get<std::string>(), rule.value("term_days", 0)};
    }
    if (doc.contains("refund_cap")) {
      const json& cap = doc["refund_cap"];
      p->refund_cap_ratio = cap.value("max_ratio_of_paid", 1.0);
      if (cap.contains("max_amount") && !cap["max_amount"].is_null()) p->refund_cap_amount = cap["max_amount"].get<double>();
    }
    p->currency = doc.value("currency", p->currency);
    p->apply_channels = doc.value("apply_channels", std::vector<std::string>{});
  } catch (const json::exception& e) {
    errors->push_back(path + ": " + e.what());
    return;
  }
  if (p->window_days <= 0) errors->push_back(path + ": window.days must be greater than 0");
  for (const FeeRule& fee : p->fees) {
    if (!(fee.refund_ratio >= 0 && fee.refund_ratio <= 1)) {
      errors->push_back(path + ": fee \"" + fee.id + "\": refund_ratio must be between 0 and 1");
    }
  }
  if (!(p->refund_cap_ratio >= 0 && p->refund_cap_ratio <= 1)) {
    errors->push_back(path + ": refund_cap.max_ratio_of_paid must be between 0 and 1");
  }
  if (p->refund_cap_amount < 0) errors->push_back(path + ": refund_cap.max_amount must not be negative");
  for (const auto& [model, rule] : p->billing_models) {
    if (model != "duration" && model != "traffic" && model != "monthly") {
      errors->push_back(path + ": billing model \"" + model + "\" is not one of duration, traffic, monthly");
    }
    if (rule.prorate == "unused_days" && rule.term_days <= 0) {
      errors->push_back(path + ": billing model \"" + model + "\": term_days must be greater than 0");
    } else if (rule.prorate != "unused_days" && rule.prorate != "unused_traffic") {
      errors->push_back(path + ": billing model \"" + model + "\": prorate must be unused_days or unused_traffic");
    }
  }
  if (p->window_start != "activation" && p->window_start != "payment" && p->window_start != "later_of_both") {
    errors->push_back(path + ": window.starts_at must be activation, payment or later_of_both");
  }
}

void CheckFlowKeys(const FlowSpec& flow, const Messages& messages, std::vector<std::string>* errors) {
  auto need = [&](const std::string& key, const std::string& where) {
    if (!key.empty() && !messages.Has(key)) errors->push_back("flows/refund_claim.json: " + where + " names message \"" + key + "\", which messages.json lacks");
  };
  for (const auto& s : flow.slots) {
    need(s.prompt, s.name + ".prompt");
    need(s.retry, s.name + ".retry");
    need(s.label, s.name + ".label");
    need(s.confirm, s.name + ".confirm");
    for (const auto& q : s.quick_replies) need(q, s.name + ".quick_replies");
    for (const auto& r : s.rules) need(r.message, s.name + ".rules");
  }
  for (const auto& c : flow.commands) need(c.say, "command " + c.intent);
  for (const auto& [moment, key] : flow.messages.items()) {
    if (key.is_string()) need(key.get<std::string>(), "messages." + moment);
  }
}

// '"' + s + '"', appended: GCC 12 at -O2 warns (-Wrestrict, a false positive) on `"\"" + std::string`.
std::string Quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  out.append(s).push_back('"');
  return out;
}

// Adds the line to each error a loader reported for one file, so an editor can jump to it:
// "knowledge/faq.json:57: entry fees.calculation: answer.en quotes unknown placeholder {fee_ratio}".
// The line is that of the entry id, message key or field the error names (its first quoted word, the
// id after "entry", or the last part of a dotted field such as window.days).
void AddLines(const std::string& path, const std::string& source, size_t first, std::vector<std::string>* errors) {
  auto line_of = [&](const std::string& needle) -> size_t {
    size_t at = source.find(needle);
    if (at == std::string::npos) return 0;
    return 1 + static_cast<size_t>(std::count(source.begin(), source.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
  };
  for (size_t i = first; i < errors->size(); ++i) {
    std::string& e = (*errors)[i];
    size_t colon = e.find(": ");
    if (colon == std::string::npos || (colon > 0 && std::isdigit(static_cast<unsigned char>(e[colon - 1])))) continue;
    std::string rest = e.substr(colon + 2);
    std::string needle;
    if (size_t entry = rest.find("entry "); entry != std::string::npos) {
      size_t end = rest.find(':', entry);
      needle = Quoted(std::string_view(rest).substr(entry + 6, end == std::string::npos ? std::string::npos : end - entry - 6));
    } else if (size_t q = rest.find('"'); q != std::string::npos && rest.find('"', q + 1) != std::string::npos) {
      needle = rest.substr(q, rest.find('"', q + 1) - q + 1);
    } else if (size_t dot = rest.find('.'); dot != std::string::npos && dot < rest.find(' ')) {
      std::string field = rest.substr(0, rest.find(' '));
      needle = Quoted(std::string_view(field).substr(field.rfind('.') + 1));
    }
    size_t line = needle.empty() ? 0 : line_of(needle);
    e = path;
    if (line) e.append(":").append(std::to_string(line));
    e.append(": ").append(rest);
  }
}

}  // namespace

const std::vector<std::string>& FaqPlaceholders() {
  static const std::vector<std::string> names = {
      "provider", "window_days", "window_start", "availability_pct_min", "latency_ms_max", "packet_loss_pct_max",
      "review_days", "payout_days", "fees_not_refundable", "fees_partly_refundable", "refund_cap_pct",
      "monthly_term_days", "duration_term_days", "apply_channels", "currency"};
  return names;
}

json Knowledge::PolicyParams(Lang lang) const {
  auto number = [](double v) {
    return v == std::floor(v) ? std::to_string(static_cast<long long>(v)) : json(v).dump();
  };
  // Fees listed by name in the customer's language: "support fee, access fee"; partly refundable ones
  // with their share: "special-feature fee (50%)".
  std::string not_refundable, partly;
  const std::string sep = messages.Render("list.separator", lang);
  for (const FeeRule& fee : policy.fees) {
    std::string name = messages.Render("fee." + fee.id, lang);
    if (fee.refund_ratio == 0) not_refundable += (not_refundable.empty() ? "" : sep) + name;
    else if (fee.refund_ratio < 1) {
      partly += (partly.empty() ? "" : sep) +
                messages.Render("fee.partly", lang, {{"fee", name}, {"pct", number(fee.refund_ratio * 100)}});
    }
  }
  std::string channels;
  for (const auto& c : policy.apply_channels) channels += (channels.empty() ? "" : sep) + messages.Render("channel." + c, lang);
  auto term = [&](const char* model) {
    auto it = policy.billing_models.find(model);
    return std::to_string(it == policy.billing_models.end() ? 0 : it->second.term_days);
  };
  const std::string none = messages.Render("value.none", lang);
  return {{"provider", policy.provider_name},
          {"fees_not_refundable", not_refundable.empty() ? none : not_refundable},
          {"fees_partly_refundable", partly.empty() ? none : partly},
          {"refund_cap_pct", number(policy.refund_cap_ratio * 100)},
          {"monthly_term_days", term("monthly")},
          {"duration_term_days", term("duration")},
          {"apply_channels", channels},
          {"currency", policy.currency},
          {"window_days", std::to_string(policy.window_days)},
          {"window_start", messages.Render("policy.window_start." + policy.window_start, lang)},
          {"availability_pct_min", number(policy.availability_pct_min)},
          {"latency_ms_max", number(policy.latency_ms_max)},
          {"packet_loss_pct_max", number(policy.packet_loss_pct_max)},
          {"review_days", std::to_string(policy.review_days)},
          {"payout_days", std::to_string(policy.payout_days)}};
}

std::shared_ptr<const Knowledge> LoadKnowledge(const std::string& dir, std::vector<std::string>* errors) {
  auto k = std::make_shared<Knowledge>();
  size_t before = errors->size();
  json doc;
  std::string source;
  auto load = [&](const std::string& name, const std::function<void(const std::string& path)>& parse) {
    std::string path = dir + "/" + name;
    size_t first = errors->size();
    if (ReadJsonFile(path, &doc, &source, errors)) parse(path);
    AddLines(path, source, first, errors);
  };
  load("messages.json", [&](const std::string& path) { LoadMessages(path, doc, &k->messages, errors); });
  // Every country in zh and en, generated from Debian iso-codes by scripts/gen-countries.py; read before
  // vocabulary.json, whose hand-written spellings of the same places (美国, "the us") win.
  load("countries.json", [&](const std::string& path) {
    std::string error;
    if (!ParseRegions(doc, &k->vocab, &error)) errors->push_back(path + ": " + error);
  });
  // Traditional -> simplified characters, generated from OpenCC by scripts/gen-traditional.py.
  load("traditional.json", [&](const std::string& path) {
    std::string error;
    if (!ParseTraditional(doc, &k->vocab, &error)) errors->push_back(path + ": " + error);
  });
  load("vocabulary.json", [&](const std::string& path) {
    std::string error;
    if (!ParseVocabulary(doc, &k->vocab, &error)) errors->push_back(path + ": " + error);
    // The dialog engine's own intents (language switch, new claim, same day), kept apart from the
    // extraction vocabulary: a block of the same shape as "intents", read into the same table.
    if (doc.contains("dialog_intents") && !ParseVocabulary(json{{"intents", doc["dialog_intents"]}}, &k->vocab, &error)) {
      errors->push_back(path + ": dialog_" + error);
    }
  });
  load("dates.json", [&](const std::string& path) {
    std::string error;
    k->vocab.dates = ParseDateVocabulary(doc, &error);
    if (!k->vocab.dates) errors->push_back(path + ": " + error);
  });
  load("policy.json", [&](const std::string& path) { LoadPolicy(path, doc, &k->policy, errors); });
  load("faq.json", [&](const std::string&) { k->faq.Load(doc, FaqPlaceholders(), errors); });
  bool flow_parsed = false;
  load("flows/refund_claim.json", [&](const std::string& path) {
    std::string error;
    flow_parsed = ParseFlow(doc, &k->flow, &error);
    if (!flow_parsed) errors->push_back(path + ": " + error);
  });
  {
    // Flow keys missing from messages.json: located in the flow file (still in `source`, read last).
    size_t first = errors->size();
    if (flow_parsed) CheckFlowKeys(k->flow, k->messages, errors);
    AddLines(dir + "/flows/refund_claim.json", source, first, errors);
  }
  // Names the policy gives customers (fee.<id>, channel.<id>, billing.<model>) need texts to be said in.
  for (const FeeRule& fee : k->policy.fees) {
    if (!k->messages.Has("fee." + fee.id)) errors->push_back(dir + "/policy.json: fee \"" + fee.id + "\" has no message fee." + fee.id + " in messages.json");
  }
  for (const auto& c : k->policy.apply_channels) {
    if (!k->messages.Has("channel." + c)) errors->push_back(dir + "/policy.json: apply channel \"" + c + "\" has no message channel." + c + " in messages.json");
  }
  for (const auto& [model, rule] : k->policy.billing_models) {
    if (!k->messages.Has("billing." + model)) errors->push_back(dir + "/policy.json: billing model \"" + model + "\" has no message billing." + model + " in messages.json");
  }
  if (errors->size() != before) return nullptr;
  return k;
}

}  // namespace rd
