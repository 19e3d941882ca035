// Eligibility of a claim under the loaded policy, computed when the ticket is filed. Pure: `today` is
// passed in. The bot never refuses to file; the assessment helps staff decide.
#pragma once

#include <nlohmann/json.hpp>

#include "dialogs/dates.h"
#include "knowledge/knowledge.h"

namespace rd {

// `claim` holds payment_date, activation_date (ISO), problems and evidence as in DESIGN.md.
// Returns the assessment JSON: window_start_basis, window_start, window_end, within_window,
// days_left | days_late, grounds[], evidence_missing[], fees_not_refundable[] ({fee, refund_ratio} for
// every fee refunded at less than 100 %), estimate ({refund, formula, ...} or {refund: null, missing[]}
// naming what the estimate lacks: billing_model, amount_paid, traffic_used_pct), verdict
// (likely_eligible | needs_review | outside_window).
nlohmann::json AssessClaim(const nlohmann::json& claim, const Policy& policy, Date today);

}  // namespace rd
