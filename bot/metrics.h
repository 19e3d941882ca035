// Process counters for GET /metrics (Prometheus text format). Lock-free: incremented on the turn path.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace rd {

// What a security limit refused (README.md "Security limits"), for refundbot_limited_total{limit=…}.
enum class Limited { kNewConversation, kMessage, kUpload, kPlatformMessage, kMessageTooLong, kConversationFull, kUploadQuota,
                     kRefusalHeld, kCount };

class Metrics {
 public:
  void CountLimited(Limited what) { limited_[static_cast<size_t>(what)]++; }
  void CountRequest(int status);
  void CountTurn(double seconds, bool duplicate);
  void CountTicketFiled() { tickets_filed_++; }
  void CountHandoff() { handoffs_++; }
  void CountReload(bool ok) { (ok ? reloads_ok_ : reloads_refused_)++; }
  void CountStaffAction() { staff_actions_++; }
  // The exposition; `faq_entries` is the knowledge in force.
  std::string Render(size_t faq_entries) const;

 private:
  static constexpr std::array<double, 10> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
  std::array<std::atomic<uint64_t>, 6> requests_{};  // by status class 1xx..5xx, other
  std::atomic<uint64_t> turns_{0}, duplicates_{0}, tickets_filed_{0}, handoffs_{0};
  std::atomic<uint64_t> reloads_ok_{0}, reloads_refused_{0}, staff_actions_{0};
  std::array<std::atomic<uint64_t>, kBuckets.size() + 1> latency_{};  // last: +Inf
  std::atomic<uint64_t> latency_sum_micros_{0};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(Limited::kCount)> limited_{};
};

Metrics& ProcessMetrics();

}  // namespace rd
