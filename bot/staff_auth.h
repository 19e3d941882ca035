// Staff accounts and how a request proves it comes from one. Passwords are stored as PBKDF2-HMAC-SHA256
// hashes (OpenSSL); API tokens and login sessions as the SHA-256 of their secret. A login session is a
// cookie for the browser console, paired with a CSRF token that every write must echo in a header;
// an API token (Authorization: Bearer) needs no CSRF token, since a browser never sends it by itself.
// Customers' session secrets live in another table and never authenticate here.
#pragma once

#include <string>
#include <string_view>

#include "bot/env.h"
#include "storage/store.h"

namespace rd {

// "pbkdf2_sha256$ITERATIONS$SALT_B64$HASH_B64".
std::string HashPassword(const std::string& password, Random* random, int iterations = 600000);
// Constant-time comparison; false for a malformed hash.
bool VerifyPassword(const std::string& password, const std::string& encoded);

struct StaffSession {
  std::string token;       // the cookie value (secret)
  std::string csrf_token;  // echoed in X-CSRF-Token on writes
  int64_t expires_at = 0;
};

// Why a request is not let in. Each maps to one HTTP answer (bot/http_server.cpp).
enum class AuthError {
  kNone,
  kMissingCredentials,  // no bearer token, no cookie: 401
  kBadCredentials,      // unknown token or cookie (a customer's session, a revoked token): 401
  kExpiredSession,      // the login session is over: 401, log in again
  kMissingCsrf,         // a cookie-authenticated write without the matching CSRF header: 403
};

class StaffAuth {
 public:
  static constexpr const char* kCookieName = "rd_staff";
  static constexpr int64_t kSessionSeconds = 12 * 3600;

  StaffAuth(Store* store, Clock* clock, Random* random) : store_(store), clock_(clock), random_(random) {}

  // Creates an account. Duplicate when the name is taken; an empty name or password is refused.
  Status AddStaff(const std::string& name, const std::string& password);
  // A new API token for `name` (NotFound for an unknown name). Only its hash is stored.
  Status IssueApiToken(const std::string& name, std::string* token);
  // Checks the password and opens a session. NotFound for a wrong name or password (the same answer
  // for both, so names cannot be probed).
  Status Login(const std::string& name, const std::string& password, StaffSession* out);
  Status Logout(const std::string& session_token);

  // Authenticates a request from its Authorization, Cookie and X-CSRF-Token headers. `write`: the
  // request changes something (cookie sessions then need the CSRF token). Sets `*name` when let in.
  AuthError Authenticate(std::string_view authorization, std::string_view cookie, std::string_view csrf,
                         bool write, std::string* name);

 private:
  Store* store_;
  Clock* clock_;
  Random* random_;
};

// The value of cookie `name` in a Cookie header, or "".
std::string CookieValue(std::string_view cookie_header, std::string_view name);

}  // namespace rd
