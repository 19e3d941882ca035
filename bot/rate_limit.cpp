#include "bot/rate_limit.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>

namespace rd {

int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void RateLimiter::Trim(Shard& shard, int64_t now_ms) {
  // Buckets that have refilled completely are as good as absent.
  const double per_ms = limit_.per_minute / 60000.0;
  for (auto it = shard.buckets.begin(); it != shard.buckets.end();) {
    const double tokens = it->second.tokens + (now_ms - it->second.at_ms) * per_ms;
    it = tokens >= limit_.burst ? shard.buckets.erase(it) : std::next(it);
  }
  if (shard.buckets.size() >= per_shard_) shard.buckets.clear();
}

int64_t RateLimiter::Take(std::string_view key, int64_t now_ms) {
  if (!limit_.enabled()) return 0;
  Shard& shard = shards_[std::hash<std::string_view>{}(key) % kShards];
  std::lock_guard<std::mutex> l(shard.mu);
  auto it = shard.buckets.find(std::string(key));
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= per_shard_) Trim(shard, now_ms);
    it = shard.buckets.emplace(std::string(key), Bucket{limit_.burst, now_ms}).first;
  }
  Bucket& b = it->second;
  const double per_ms = limit_.per_minute / 60000.0;
  b.tokens = std::min(limit_.burst, b.tokens + std::max<int64_t>(0, now_ms - b.at_ms) * per_ms);
  b.at_ms = now_ms;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  const double wait_ms = (1 - b.tokens) / per_ms;
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait_ms / 1000.0)));
}

std::string ClientAddress(std::string_view peer, std::string_view forwarded_for, std::string_view trusted_proxy) {
  if (trusted_proxy.empty() || peer != trusted_proxy || forwarded_for.empty()) return std::string(peer);
  const size_t comma = forwarded_for.rfind(',');
  std::string_view last = comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1);
  while (!last.empty() && (last.front() == ' ' || last.front() == '\t')) last.remove_prefix(1);
  while (!last.empty() && (last.back() == ' ' || last.back() == '\t')) last.remove_suffix(1);
  if (last.empty() || last.size() > 64) return std::string(peer);
  return std::string(last);
}

}  // namespace rd
