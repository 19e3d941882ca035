// Checks a claim field's value as staff give it (POST /api/staff/conversations/{id}/slots) against the
// slot's kind, with the rules the customer's answers meet: what the engine and the assessment later read
// is then always of the type they expect. Pure: `today` is passed in.
//   date      a string YYYY-MM-DD, a real day, within the slot's rules (not_future, not_before {date})
//   problems  a list of {category, description?, metrics?}: category one the messages name
//             (category.<c>), description a string, metrics an object of known metrics (metric.<m>):
//             region and period strings, the others numbers ≥ 0 (percentages ≤ 100, others ≤ 1e9)
//   evidence  a list of {type, description?, attachment?}: type one the messages name (evidence.<t>),
//             description a string, attachment an object
//   contact   an object of strings: email, account
//   billing   an object: billing_model one of the policy's, amount_paid a number > 0 and < 1e12,
//             currency a three-letter code, traffic_used_pct a number 0..100
// Unknown members are refused, so a typo is not stored silently.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "dialogs/dates.h"
#include "dialogs/flow.h"
#include "knowledge/knowledge.h"

namespace rd {

// The reason `value` does not fit `slot` (a sentence naming the member), or nullopt when it fits.
std::optional<std::string> SlotValueError(const SlotSpec& slot, const nlohmann::json& value,
                                          const Knowledge& knowledge, Date today);

}  // namespace rd
