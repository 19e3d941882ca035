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

  static constexpr int64_t kDefaultTokenDays = 90;

  // `token_days`: how long an API token is valid (config staff_token_days).
  StaffAuth(Store* store, Clock* clock, Random* random, int64_t token_days = kDefaultTokenDays)
      : store_(store), clock_(clock), random_(random), token_seconds_(token_days * 86400) {}

  // Creates an account. Duplicate when the name is taken; an empty name or password is refused.
  Status AddStaff(const std::string& name, const std::string& password);
  // A new API token for `name`, valid for token_days (NotFound for an unknown name, Conflict for a
  // disabled one). Only its hash is stored; `*expires_at` says until when.
  Status IssueApiToken(const std::string& name, std::string* token, int64_t* expires_at = nullptr);
  // Checks the password and opens a session. NotFound for a wrong name or password, or a disabled
  // account (the same answer for all, so names cannot be probed). Expired credentials are purged.
  Status Login(const std::string& name, const std::string& password, StaffSession* out);
  // Ends exactly the credential a request was authenticated with (`credential` from Authenticate):
  // the login session of a cookie, or the API token of a bearer request (revoked).
  Status Logout(const std::string& credential);

  // Account lifetime (refundbot staff disable | enable | revoke). Disable also deletes every token and
  // session of the account; `*revoked` counts what was deleted. NotFound for an unknown name.
  Status Disable(const std::string& name, int64_t* revoked);
  Status Enable(const std::string& name);
  Status Revoke(const std::string& name, int64_t* revoked);
  // Deletes tokens and sessions expired for more than kPurgeGraceSeconds (at start and at each login;
  // within the grace a request still hears "session_expired", and Authenticate then deletes it).
  static constexpr int64_t kPurgeGraceSeconds = 24 * 3600;
  Status PurgeExpired(int64_t* deleted);

  // Authenticates a request from its Authorization, Cookie and X-CSRF-Token headers. `write`: the
  // request changes something (cookie sessions then need the CSRF token). Sets `*name` when let in,
  // and `*credential` (when given) to the hash of the credential that let it in, for Logout. A
  // credential of a disabled account is refused; an expired one is refused and deleted.
  AuthError Authenticate(std::string_view authorization, std::string_view cookie, std::string_view csrf,
                         bool write, std::string* name, std::string* credential = nullptr);

 private:
  Store* store_;
  Clock* clock_;
  Random* random_;
  int64_t token_seconds_;
};

// The value of cookie `name` in a Cookie header, or "".
std::string CookieValue(std::string_view cookie_header, std::string_view name);

}  // namespace rd
