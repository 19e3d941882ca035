// Token buckets per key (a client address, a platform user), for the flood limits of README.md's
// "Security limits": new conversations, messages, uploads. Thread-safe (sharded mutexes); memory is
// bounded — a shard that grows past its share forgets its full buckets first, then everything (a
// forgotten bucket starts full again, which only ever errs towards letting a client through).
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rd {

// A bucket holds `burst` tokens and gains `per_minute` a minute; each request takes one.
// per_minute 0 switches the limit off.
struct RateLimit {
  double per_minute = 0;
  double burst = 0;
  bool enabled() const { return per_minute > 0 && burst >= 1; }
};

class RateLimiter {
 public:
  explicit RateLimiter(RateLimit limit, size_t max_keys = 200000) : limit_(limit), per_shard_(max_keys / kShards + 1) {}
  // Takes a token from `key`'s bucket. 0: allowed; otherwise refused, and the whole seconds (≥ 1)
  // until a token is there again (for Retry-After).
  int64_t Take(std::string_view key, int64_t now_ms);
  const RateLimit& limit() const { return limit_; }

 private:
  static constexpr size_t kShards = 16;
  struct Bucket {
    double tokens = 0;
    int64_t at_ms = 0;
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;
  };
  void Trim(Shard& shard, int64_t now_ms);
  RateLimit limit_;
  size_t per_shard_;
  std::array<Shard, kShards> shards_;
};

// The address a request is counted by: the peer, unless the peer is `trusted_proxy` (the reverse
// proxy in front, e.g. "127.0.0.1"), in which case the last address of X-Forwarded-For — the one that
// proxy appended, the only one it vouches for. Empty trusted_proxy: X-Forwarded-For is never read.
std::string ClientAddress(std::string_view peer, std::string_view forwarded_for, std::string_view trusted_proxy);

// The monotonic clock the limiters run on, in milliseconds.
int64_t SteadyNowMs();

}  // namespace rd
