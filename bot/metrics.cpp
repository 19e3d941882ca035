#include "bot/metrics.h"

#include <cstdio>

namespace rd {

Metrics& ProcessMetrics() {
  static Metrics metrics;
  return metrics;
}

void Metrics::CountRequest(int status) {
  int cls = status / 100;
  requests_[cls >= 1 && cls <= 5 ? static_cast<size_t>(cls - 1) : 5]++;
}

void Metrics::CountTurn(double seconds, bool duplicate) {
  if (duplicate) { duplicates_++; return; }
  turns_++;
  size_t i = 0;
  while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
  latency_[i]++;
  latency_sum_micros_ += static_cast<uint64_t>(seconds * 1e6);
}

std::string Metrics::Render(size_t faq_entries) const {
  std::string out;
  char line[160];
  auto add = [&](const char* fmt, auto... args) {
    std::snprintf(line, sizeof line, fmt, args...);
    out += line;
  };
  out += "# HELP refundbot_http_requests_total HTTP requests answered, by status class.\n"
         "# TYPE refundbot_http_requests_total counter\n";
  const char* classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
  for (size_t i = 0; i < requests_.size(); ++i) {
    add("refundbot_http_requests_total{code=\"%s\"} %llu\n", classes[i], static_cast<unsigned long long>(requests_[i].load()));
  }
  out += "# HELP refundbot_turns_total Customer messages that ran a dialog turn.\n# TYPE refundbot_turns_total counter\n";
  add("refundbot_turns_total %llu\n", static_cast<unsigned long long>(turns_.load()));
  out += "# HELP refundbot_duplicate_deliveries_total Resent messages answered from the store without a turn.\n"
         "# TYPE refundbot_duplicate_deliveries_total counter\n";
  add("refundbot_duplicate_deliveries_total %llu\n", static_cast<unsigned long long>(duplicates_.load()));
  out += "# HELP refundbot_tickets_filed_total Tickets filed.\n# TYPE refundbot_tickets_filed_total counter\n";
  add("refundbot_tickets_filed_total %llu\n", static_cast<unsigned long long>(tickets_filed_.load()));
  out += "# HELP refundbot_handoffs_total Conversations handed to a person.\n# TYPE refundbot_handoffs_total counter\n";
  add("refundbot_handoffs_total %llu\n", static_cast<unsigned long long>(handoffs_.load()));
  out += "# HELP refundbot_staff_actions_total Staff actions (takeover, reply, hand back, ...).\n"
         "# TYPE refundbot_staff_actions_total counter\n";
  add("refundbot_staff_actions_total %llu\n", static_cast<unsigned long long>(staff_actions_.load()));
  out += "# HELP refundbot_knowledge_reloads_total Knowledge reloads, taken or refused.\n"
         "# TYPE refundbot_knowledge_reloads_total counter\n";
  add("refundbot_knowledge_reloads_total{result=\"ok\"} %llu\n", static_cast<unsigned long long>(reloads_ok_.load()));
  add("refundbot_knowledge_reloads_total{result=\"refused\"} %llu\n", static_cast<unsigned long long>(reloads_refused_.load()));
  out += "# HELP refundbot_faq_entries FAQ entries in the knowledge in force.\n# TYPE refundbot_faq_entries gauge\n";
  add("refundbot_faq_entries %zu\n", faq_entries);
  out += "# HELP refundbot_limited_total Requests a security limit refused: rate limits (429), message length (413), "
         "conversation size and upload quotas (429); refusals_held: refusals answered late to a client refused again and again.\n# TYPE refundbot_limited_total counter\n";
  const char* limits[] = {"new_conversations", "messages", "uploads", "platform_messages", "message_chars",
                          "conversation_size", "upload_quota", "refusals_held"};
  for (size_t i = 0; i < limited_.size(); ++i) {
    add("refundbot_limited_total{limit=\"%s\"} %llu\n", limits[i], static_cast<unsigned long long>(limited_[i].load()));
  }
  out += "# HELP refundbot_turn_duration_seconds Time from a message arriving to its turn committed.\n"
         "# TYPE refundbot_turn_duration_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    cumulative += latency_[i].load();
    add("refundbot_turn_duration_seconds_bucket{le=\"%g\"} %llu\n", kBuckets[i], static_cast<unsigned long long>(cumulative));
  }
  cumulative += latency_[kBuckets.size()].load();
  add("refundbot_turn_duration_seconds_bucket{le=\"+Inf\"} %llu\n", static_cast<unsigned long long>(cumulative));
  add("refundbot_turn_duration_seconds_sum %.6f\n", latency_sum_micros_.load() / 1e6);
  add("refundbot_turn_duration_seconds_count %llu\n", static_cast<unsigned long long>(cumulative));
  return out;
}

}  // namespace rd
