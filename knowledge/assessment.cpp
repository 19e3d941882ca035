#include "knowledge/assessment.h"

#include <algorithm>

namespace rd {

using nlohmann::json;

namespace {

std::optional<Date> DateField(const json& claim, const char* name) {
  auto it = claim.find(name);
  if (it == claim.end() || !it->is_string()) return std::nullopt;
  return Date::FromIso(it->get<std::string>());
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

  json grounds = json::array();
  for (const auto& p : claim.value("problems", json::array())) {
    const std::string category = p.value("category", "");
    const json m = p.value("metrics", json::object());
    if (category == "availability" && m.contains("availability_pct") &&
        m["availability_pct"].get<double>() < policy.availability_pct_min) {
      grounds.push_back({{"ground", "quality_below_promise"}, {"metric", "availability_pct"},
                         {"reported", m["availability_pct"]}, {"threshold", policy.availability_pct_min}});
    } else if (category == "latency" && m.contains("latency_ms") &&
               m["latency_ms"].get<double>() > policy.latency_ms_max) {
      grounds.push_back({{"ground", "quality_below_promise"}, {"metric", "latency_ms"},
                         {"reported", m["latency_ms"]}, {"threshold", policy.latency_ms_max}});
    } else if (category == "packet_loss" && m.contains("packet_loss_pct") &&
               m["packet_loss_pct"].get<double>() > policy.packet_loss_pct_max) {
      grounds.push_back({{"ground", "quality_below_promise"}, {"metric", "packet_loss_pct"},
                         {"reported", m["packet_loss_pct"]}, {"threshold", policy.packet_loss_pct_max}});
    } else if (category == "region_unreachable" || category == "feature_missing" ||
               category == "support_missing") {
      grounds.push_back({{"ground", "not_delivered_as_agreed"}, {"category", category}});
    }
  }
  a["grounds"] = grounds;

  json missing = json::array();
  const json evidence = claim.value("evidence", json::array());
  for (const auto& type : policy.expected_evidence) {
    bool have = std::any_of(evidence.begin(), evidence.end(),
                            [&](const json& e) { return e.value("type", "") == type; });
    if (!have) missing.push_back(type);
  }
  a["evidence_missing"] = missing;

  std::string verdict;
  if (start && !within) verdict = "outside_window";
  else if (start && !grounds.empty() && !evidence.empty()) verdict = "likely_eligible";
  else verdict = "needs_review";
  a["verdict"] = verdict;
  a["assessed_on"] = today.Iso();
  return a;
}

}  // namespace rd
