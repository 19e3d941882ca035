#include "knowledge/assessment.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace rd {

using nlohmann::json;

namespace {

std::optional<Date> DateField(const json& claim, const char* name) {
  auto it = claim.find(name);
  if (it == claim.end() || !it->is_string()) return std::nullopt;
  return Date::FromIso(it->get<std::string>());
}

// A string member, or "" when it is missing, not a string, or `j` is not an object: a claim edited by
// hand (or stored by an older version) may hold anything, and the assessment skips what it cannot read.
std::string StringField(const json& j, const char* name, const std::string& fallback = "") {
  if (!j.is_object()) return fallback;
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// A numeric member, or nullopt (missing, not a number, not finite).
std::optional<double> NumberField(const json& j, const char* name) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(name);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  const double v = it->get<double>();
  return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
}

// "1800", "1833.33": amounts with at most two decimals, as staff read them.
std::string Money(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string out = buf;
  if (out.size() > 3 && out.compare(out.size() - 3, 3, ".00") == 0) out.resize(out.size() - 3);
  return out;
}

double Round2(double v) { return std::round(v * 100) / 100; }

// The refund estimate of DESIGN.md: pro-rated per the billing model, then capped. Null when the claim
// lacks the billing model, the amount or (traffic) the share used; `missing` then names what is lacking.
json Estimate(const json& claim, const Policy& policy, std::optional<Date> service_start, Date today) {
  json e = json::object();
  json missing = json::array();
  const std::string model = StringField(claim, "billing_model");
  const std::optional<double> amount_field = NumberField(claim, "amount_paid");
  if (model.empty()) missing.push_back("billing_model");
  if (!amount_field) missing.push_back("amount_paid");
  auto rule = policy.billing_models.find(model);
  if (!model.empty() && rule == policy.billing_models.end()) missing.push_back("policy.billing_models." + model);
  if (!missing.empty()) return {{"refund", nullptr}, {"missing", missing}};
  const double amount = *amount_field;
  e["billing_model"] = model;
  e["amount_paid"] = amount;
  e["currency"] = StringField(claim, "currency", policy.currency);
  double share = 0;
  std::string formula;
  if (rule->second.prorate == "unused_days") {
    if (!service_start) return {{"refund", nullptr}, {"missing", {"activation_date"}}};
    const int term = rule->second.term_days;
    long used = std::clamp<long>(today.ToDays() - service_start->ToDays(), 0, term);
    share = static_cast<double>(term - used) / term;
    e["term_days"] = term;
    e["days_used"] = used;
    formula = Money(amount) + " × (" + std::to_string(term) + " − " + std::to_string(used) + ") ÷ " + std::to_string(term);
  } else {
    const std::optional<double> used = NumberField(claim, "traffic_used_pct");
    if (!used) return {{"refund", nullptr}, {"missing", {"traffic_used_pct"}}};
    double pct = std::clamp(*used, 0.0, 100.0);
    share = (100 - pct) / 100;
    e["traffic_used_pct"] = pct;
    formula = Money(amount) + " × (100 − " + Money(pct) + ") ÷ 100";
  }
  double refund = Round2(amount * share);
  formula += " = " + Money(refund);
  double cap = amount * policy.refund_cap_ratio;
  if (policy.refund_cap_amount > 0) cap = std::min(cap, policy.refund_cap_amount);
  if (refund > cap) {
    refund = Round2(cap);
    formula += "; capped at " + Money(refund);
  }
  e["refund"] = refund;
  e["formula"] = formula;
  return e;
}

}  // namespace

json AssessClaim(const json& claim, const Policy& policy, Date today) {
  json a = json::object();
  auto paid = DateField(claim, "payment_date");
  auto activated = DateField(claim, "activation_date");

  // Window start: the policy names the basis; when its date is unknown, fall back to the other one.
  std::optional<Date> start;
  std::string basis = policy.window_start;
  if (basis == "activation") start = activated ? activated : paid;
  else if (basis == "payment") start = paid ? paid : activated;
  else start = (paid && activated) ? std::max(*paid, *activated) : (paid ? paid : activated);
  if (basis == "activation" && !activated && paid) basis = "payment";
  if (basis == "payment" && !paid && activated) basis = "activation";
  a["window_start_basis"] = basis;
  a["window_days"] = policy.window_days;

  bool within = false;
  if (start) {
    Date end = start->AddDays(policy.window_days);
    a["window_start"] = start->Iso();
    a["window_end"] = end.Iso();
    within = today <= end;
    a["within_window"] = within;
    if (within) a["days_left"] = end.ToDays() - today.ToDays();
    else a["days_late"] = today.ToDays() - end.ToDays();
  } else {
    a["within_window"] = nullptr;
  }

  // Members read in place: value() copies the arrays and objects it returns.
  static const json kNoArray = json::array(), kNoObject = json::object();
  const auto member = [](const json& j, const char* key, const json& fallback) -> const json& {
    if (!j.is_object()) return fallback;
    auto it = j.find(key);
    return it == j.end() || it->type() != fallback.type() ? fallback : *it;
  };
  json grounds = json::array();
  for (const auto& p : member(claim, "problems", kNoArray)) {
    const std::string category = StringField(p, "category");
    const json& m = member(p, "metrics", kNoObject);
    // A metric that is not a number (a hand-edited claim) is skipped, as if it were not given.
    const auto breach = [&](const char* metric, double threshold, bool low_is_bad) {
      std::optional<double> v = NumberField(m, metric);
      if (!v || (low_is_bad ? !(*v < threshold) : !(*v > threshold))) return false;
      grounds.push_back({{"ground", "quality_below_promise"}, {"metric", metric}, {"reported", m[metric]},
                         {"threshold", threshold}});
      return true;
    };
    const bool quality = (category == "availability" && breach("availability_pct", policy.availability_pct_min, true)) ||
                         (category == "latency" && breach("latency_ms", policy.latency_ms_max, false)) ||
                         (category == "packet_loss" && breach("packet_loss_pct", policy.packet_loss_pct_max, false));
    if (!quality && (category == "region_unreachable" || category == "feature_missing" ||
                     category == "support_missing")) {
      grounds.push_back({{"ground", "not_delivered_as_agreed"}, {"category", category}});
    }
  }
  a["grounds"] = grounds;

  json missing = json::array();
  const json& evidence = member(claim, "evidence", kNoArray);
  for (const auto& type : policy.expected_evidence) {
    bool have = std::any_of(evidence.begin(), evidence.end(),
                            [&](const json& e) { return StringField(e, "type") == type; });
    if (!have) missing.push_back(type);
  }
  a["evidence_missing"] = missing;

  json fees = json::array();
  for (const FeeRule& fee : policy.fees) {
    if (fee.refund_ratio < 1) fees.push_back({{"fee", fee.id}, {"refund_ratio", fee.refund_ratio}});
  }
  a["fees_not_refundable"] = fees;
  a["estimate"] = Estimate(claim, policy, activated ? activated : paid, today);

  std::string verdict;
  if (start && !within) verdict = "outside_window";
  else if (start && !grounds.empty() && !evidence.empty()) verdict = "likely_eligible";
  else verdict = "needs_review";
  a["verdict"] = verdict;
  a["assessed_on"] = today.Iso();
  return a;
}

}  // namespace rd
