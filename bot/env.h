// Time and randomness, injected (like LevelDB's Env): "today" decides refund windows, so tests fix it.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "dialogs/dates.h"

namespace rd {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowUnix() = 0;  // seconds since the epoch
  virtual int64_t NowMicros() = 0;  // for latency figures only
};

class Random {
 public:
  virtual ~Random() = default;
  virtual void Fill(unsigned char* out, size_t n) = 0;  // cryptographically strong
};

Clock* SystemClock();
Random* SystemRandom();  // OpenSSL RAND_bytes

// A clock that stands still at a set time (tests, demos); Advance() moves it.
class FixedClock : public Clock {
 public:
  explicit FixedClock(int64_t unix) : now_(unix) {}
  int64_t NowUnix() override { return now_.load(); }
  int64_t NowMicros() override;
  void Advance(int64_t seconds) { now_ += seconds; }

 private:
  std::atomic<int64_t> now_;
};

// The calendar date at `unix` in a zone `utc_offset_minutes` east of UTC.
Date DateAt(int64_t unix, int utc_offset_minutes);
// "2026-11-27T10:00:00Z" (or with an offset "+08:00"); false when malformed.
bool ParseTimestamp(const std::string& s, int64_t* unix);
std::string FormatTimestampUtc(int64_t unix);  // 2026-11-27T10:00:00Z
std::string Hex(const unsigned char* data, size_t n);  // lower-case
std::string RandomHex(Random* random, size_t bytes);
std::string Sha256Hex(const std::string& data);
std::string Base64Encode(const std::string& bytes);
// Nothing when `text` is not padded standard Base64.
std::optional<std::string> Base64Decode(const std::string& text);

}  // namespace rd
