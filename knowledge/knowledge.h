// The knowledge an operator edits without a developer: every sentence the bot says (zh and en), the
// words it understands, the conversation flow and the refund policy. Loaded once, then shared read-only
// (a reload builds a new Knowledge and swaps the pointer; turns in flight keep the one they started with).
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dialogs/flow.h"
#include "dialogs/text.h"
#include "dialogs/understanding.h"
#include "knowledge/faq.h"

namespace rd {

// `text` with each {name} replaced by params[name] (strings or numbers); unknown names are left as written.
std::string RenderTemplate(const std::string& text, const nlohmann::json& params);

// Message texts by key, in both languages. Placeholders are written {name}.
class Messages {
 public:
  bool Has(const std::string& key) const { return texts_.count(key) > 0; }
  // The text of `key` in `lang` with {name} replaced by params[name] (strings or numbers). A placeholder
  // without a parameter is left as written, so a caller can fill it later ({ticket_id}).
  std::string Render(const std::string& key, Lang lang, const nlohmann::json& params = {}) const;
  void Set(const std::string& key, std::string zh, std::string en);
  const std::map<std::string, std::pair<std::string, std::string>>& all() const { return texts_; }

 private:
  std::map<std::string, std::pair<std::string, std::string>> texts_;  // key -> (zh, en)
};

// A fee on a contract besides the service itself (support, access, a special feature) and the share of it
// that is refunded: 0 = not refundable, 0.5 = half, 1 = fully.
struct FeeRule {
  std::string id;  // support_fee | access_fee | special_feature_fee | ... (messages.json: fee.<id>)
  double refund_ratio = 0;
};

// How a billing model is pro-rated. `unused_days`: amount × (term_days − days used) ÷ term_days, days
// used counted from the service start (activation, else payment) to the day of the claim.
// `unused_traffic`: amount × (100 − traffic used %) ÷ 100, when the customer says how much was used.
struct BillingRule {
  std::string prorate;  // unused_days | unused_traffic
  int term_days = 0;    // unused_days: the period one payment buys
};

// The refund policy the assessment applies and the FAQ quotes.
struct Policy {
  std::string provider_name;
  int window_days = 7;
  std::string window_start = "activation";  // activation | payment | later_of_both
  // Quality thresholds: a reported figure beyond one of them is a ground for a refund.
  double availability_pct_min = 99.5;
  double latency_ms_max = 200;
  double packet_loss_pct_max = 1;
  std::vector<std::string> expected_evidence;  // evidence types staff want on every claim
  int review_days = 5;                          // working days to a decision
  int payout_days = 7;                          // working days from approval to the money
  std::vector<FeeRule> fees;                    // sorted by id
  std::map<std::string, BillingRule> billing_models;  // duration | traffic | monthly
  double refund_cap_ratio = 1;                  // a refund is at most this share of the amount paid
  double refund_cap_amount = 0;                 // and at most this amount; 0 = no fixed cap
  std::string currency = "CNY";                 // of amounts the customer gives without one
  std::vector<std::string> apply_channels;      // where customers apply (message keys channel.<id>)
};

struct Knowledge {
  Messages messages;
  Vocabulary vocab;
  FlowSpec flow;
  Policy policy;
  FaqIndex faq;
  // The values FAQ answers may quote ({window_days}, ...), rendered for `lang`.
  nlohmann::json PolicyParams(Lang lang) const;
};

// Placeholder names FAQ answers may use.
const std::vector<std::string>& FaqPlaceholders();

// Loads knowledge/{messages,countries,traditional,vocabulary,dates,policy,faq}.json and flows/refund_claim.json
// from `dir`. JSON may
// hold // and /* */ comments. On failure returns nullptr and fills `errors` with one line per problem
// ("file: what is wrong"). Also checks that every message key the flow names exists in both languages.
std::shared_ptr<const Knowledge> LoadKnowledge(const std::string& dir, std::vector<std::string>* errors);

}  // namespace rd
