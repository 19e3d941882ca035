#include "bot/staff_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <vector>

namespace rd {

namespace {

bool Pbkdf2(const std::string& password, const unsigned char* salt, size_t salt_len, int iterations,
            unsigned char* out, size_t out_len) {
  return PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt, static_cast<int>(salt_len),
                           iterations, EVP_sha256(), static_cast<int>(out_len), out) == 1;
}

}  // namespace

std::string HashPassword(const std::string& password, Random* random, int iterations) {
  unsigned char salt[16], hash[32];
  random->Fill(salt, sizeof salt);
  if (!Pbkdf2(password, salt, sizeof salt, iterations, hash, sizeof hash)) return "";
  auto b64 = [](const unsigned char* p, size_t n) { return Base64Encode(std::string(reinterpret_cast<const char*>(p), n)); };
  return "pbkdf2_sha256$" + std::to_string(iterations) + "$" + b64(salt, sizeof salt) + "$" + b64(hash, sizeof hash);
}

bool VerifyPassword(const std::string& password, const std::string& encoded) {
  const std::string prefix = "pbkdf2_sha256$";
  if (encoded.rfind(prefix, 0) != 0) return false;
  size_t a = prefix.size(), b = encoded.find('$', a), c = b == std::string::npos ? b : encoded.find('$', b + 1);
  if (c == std::string::npos) return false;
  int iterations = 0;
  try {
    iterations = std::stoi(encoded.substr(a, b - a));
  } catch (...) {
    return false;
  }
  auto salt = Base64Decode(encoded.substr(b + 1, c - b - 1)), expected = Base64Decode(encoded.substr(c + 1));
  if (iterations < 1 || !salt || !expected || expected->empty()) return false;
  std::vector<unsigned char> actual(expected->size());
  if (!Pbkdf2(password, reinterpret_cast<const unsigned char*>(salt->data()), salt->size(), iterations, actual.data(),
              actual.size())) {
    return false;
  }
  return CRYPTO_memcmp(actual.data(), expected->data(), expected->size()) == 0;
}

Status StaffAuth::AddStaff(const std::string& name, const std::string& password) {
  if (name.empty() || name.size() > 64) return Status::Conflict("a staff name has 1 to 64 characters");
  if (password.size() < 8) return Status::Conflict("a password has at least 8 characters");
  std::string hash = HashPassword(password, random_);
  if (hash.empty()) return Status::IoError("password hashing failed");
  return store_->AddStaff(name, hash, clock_->NowUnix());
}

Status StaffAuth::IssueApiToken(const std::string& name, std::string* token, int64_t* expires_at) {
  bool disabled = false;
  Status st = store_->GetStaffDisabled(name, &disabled);
  if (!st.ok()) return st;
  if (disabled) return Status::Conflict("staff member " + name + " is disabled");
  *token = "rdk_" + RandomHex(random_, 32);
  const int64_t now = clock_->NowUnix(), until = now + token_seconds_;
  if (expires_at) *expires_at = until;
  return store_->AddStaffCredential(Sha256Hex(*token), {name, "api", until, "", false}, now);
}

Status StaffAuth::Disable(const std::string& name, int64_t* revoked) {
  return store_->SetStaffDisabled(name, true, clock_->NowUnix(), revoked);
}

Status StaffAuth::Enable(const std::string& name) {
  int64_t ignored = 0;
  return store_->SetStaffDisabled(name, false, clock_->NowUnix(), &ignored);
}

Status StaffAuth::Revoke(const std::string& name, int64_t* revoked) {
  bool disabled = false;
  Status st = store_->GetStaffDisabled(name, &disabled);
  if (!st.ok()) return st;
  return store_->DeleteStaffCredentials(name, revoked);
}

Status StaffAuth::PurgeExpired(int64_t* deleted) {
  return store_->PurgeExpiredStaffCredentials(clock_->NowUnix() - kPurgeGraceSeconds, deleted);
}

Status StaffAuth::Login(const std::string& name, const std::string& password, StaffSession* out) {
  std::string hash;
  Status st = store_->GetStaffPasswordHash(name, &hash);
  if (st.code() == Status::Code::kNotFound) {
    // Spend the same time as a real check, so a wrong name and a wrong password look alike.
    VerifyPassword(password, "pbkdf2_sha256$600000$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    return Status::NotFound("wrong name or password");
  }
  if (!st.ok()) return st;
  if (!VerifyPassword(password, hash)) return Status::NotFound("wrong name or password");
  bool disabled = false;
  st = store_->GetStaffDisabled(name, &disabled);
  if (!st.ok()) return st;
  if (disabled) return Status::NotFound("wrong name or password");
  int64_t purged = 0;
  PurgeExpired(&purged);  // best effort: lookups refuse expired credentials anyway
  out->token = RandomHex(random_, 32);
  out->csrf_token = RandomHex(random_, 24);
  out->expires_at = clock_->NowUnix() + kSessionSeconds;
  return store_->AddStaffCredential(Sha256Hex(out->token),
                                    {name, "session", out->expires_at, Sha256Hex(out->csrf_token), false}, clock_->NowUnix());
}

Status StaffAuth::Logout(const std::string& credential) { return store_->DeleteStaffCredential(credential); }

AuthError StaffAuth::Authenticate(std::string_view authorization, std::string_view cookie, std::string_view csrf,
                                  bool write, std::string* name, std::string* credential) {
  constexpr std::string_view kBearer = "Bearer ";
  std::string secret;
  bool by_cookie = false;
  if (authorization.substr(0, kBearer.size()) == kBearer) {
    secret = std::string(authorization.substr(kBearer.size()));
  } else {
    secret = CookieValue(cookie, kCookieName);
    by_cookie = true;
  }
  if (secret.empty()) return AuthError::kMissingCredentials;
  StaffCredential cred;
  const std::string hash = Sha256Hex(secret);
  Status st = store_->FindStaffCredential(hash, &cred);
  if (!st.ok()) return AuthError::kBadCredentials;
  // A session token only ever travels as the cookie, an API token only as a bearer token.
  if ((cred.kind == "session") != by_cookie) return AuthError::kBadCredentials;
  if (cred.disabled) return AuthError::kBadCredentials;
  if (cred.expires_at != 0 && clock_->NowUnix() >= cred.expires_at) {
    store_->DeleteStaffCredential(hash);  // purged on lookup; the answer is the same if that fails
    return AuthError::kExpiredSession;
  }
  if (by_cookie && write) {
    const std::string expected = cred.csrf_hash, given = csrf.empty() ? "" : Sha256Hex(std::string(csrf));
    if (given.empty() || given.size() != expected.size() ||
        CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0) {
      return AuthError::kMissingCsrf;
    }
  }
  *name = cred.name;
  if (credential) *credential = hash;
  return AuthError::kNone;
}

std::string CookieValue(std::string_view header, std::string_view name) {
  size_t i = 0;
  while (i < header.size()) {
    while (i < header.size() && (header[i] == ' ' || header[i] == ';')) ++i;
    size_t end = header.find(';', i);
    if (end == std::string_view::npos) end = header.size();
    std::string_view pair = header.substr(i, end - i);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
    i = end;
  }
  return "";
}

}  // namespace rd
