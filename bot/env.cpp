#include "bot/env.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace rd {

namespace {

class RealClock : public Clock {
 public:
  int64_t NowUnix() override {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
  int64_t NowMicros() override {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
};

class OpenSslRandom : public Random {
 public:
  void Fill(unsigned char* out, size_t n) override {
    if (RAND_bytes(out, static_cast<int>(n)) != 1) throw std::runtime_error("RAND_bytes failed");
  }
};

}  // namespace

Clock* SystemClock() {
  static RealClock clock;
  return &clock;
}

Random* SystemRandom() {
  static OpenSslRandom random;
  return &random;
}

int64_t FixedClock::NowMicros() { return SystemClock()->NowMicros(); }

Date DateAt(int64_t unix, int utc_offset_minutes) {
  int64_t local = unix + int64_t{utc_offset_minutes} * 60;
  int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
  return Date::FromDays(days);
}

bool ParseTimestamp(const std::string& s, int64_t* unix) {
  int y, mo, d, h, mi, sec;
  char tz[8] = {0};
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%7s", &y, &mo, &d, &h, &mi, &sec, tz) != 7) return false;
  if (!Date::IsValid(y, mo, d) || h > 23 || mi > 59 || sec > 60) return false;
  int offset = 0;
  std::string z(tz);
  if (z == "Z") offset = 0;
  else if (z.size() == 6 && (z[0] == '+' || z[0] == '-') && z[3] == ':') {
    offset = ((z[1] - '0') * 10 + (z[2] - '0')) * 60 + (z[4] - '0') * 10 + (z[5] - '0');
    if (z[0] == '-') offset = -offset;
  } else {
    return false;
  }
  *unix = Date{y, mo, d}.ToDays() * 86400 + h * 3600 + mi * 60 + sec - int64_t{offset} * 60;
  return true;
}

std::string FormatTimestampUtc(int64_t unix) {
  Date d = DateAt(unix, 0);
  int64_t rem = unix - d.ToDays() * 86400;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%sT%02d:%02d:%02dZ", d.Iso().c_str(), static_cast<int>(rem / 3600),
                static_cast<int>(rem / 60 % 60), static_cast<int>(rem % 60));
  return buf;
}

std::string Hex(const unsigned char* data, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) { out.push_back(kHex[data[i] >> 4]); out.push_back(kHex[data[i] & 15]); }
  return out;
}

std::string RandomHex(Random* random, size_t bytes) {
  std::string raw(bytes, '\0');
  random->Fill(reinterpret_cast<unsigned char*>(raw.data()), bytes);
  return Hex(reinterpret_cast<const unsigned char*>(raw.data()), bytes);
}

std::string Sha256Hex(const std::string& data) {
  // Fetched once: given EVP_sha256(), OpenSSL 3 looks the algorithm up in its providers on every call
  // (a locked search, half of what hashing a session cost on each web turn).
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, sha256 ? sha256 : EVP_sha256(), nullptr);
  return Hex(md, len);
}

std::string Base64Encode(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> Base64Decode(const std::string& text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  for (char c : text) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=')) return std::nullopt;
  }
  std::string out(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  size_t padding = (text.end()[-1] == '=') + (text.end()[-2] == '=');
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

}  // namespace rd
