#include "bot/staff_api.h"

#include <httplib.h>

#include "bot/config.h"
#include "bot/conversation_service.h"
#include "bot/http_json.h"
#include "bot/log.h"
#include "bot/staff_auth.h"
#include "dialogs/text.h"

namespace rd {

using nlohmann::json;

namespace {

// Lets the request in or answers it: true when a staff member is authenticated (`*name` set).
bool Admit(StaffAuth* auth, const httplib::Request& req, httplib::Response& res, bool write, std::string* name) {
  AuthError e = auth->Authenticate(req.get_header_value("Authorization"), req.get_header_value("Cookie"),
                                   req.get_header_value("X-CSRF-Token"), write, name);
  switch (e) {
    case AuthError::kNone: return true;
    case AuthError::kMissingCredentials:
      SendError(res, 401, "unauthenticated", "log in (POST /api/staff/login) or send Authorization: Bearer TOKEN");
      break;
    case AuthError::kBadCredentials: SendError(res, 401, "bad_credentials", "the token or session is not valid"); break;
    case AuthError::kExpiredSession: SendError(res, 401, "session_expired", "the login session has expired; log in again"); break;
    case AuthError::kMissingCsrf:
      SendError(res, 403, "csrf_token_required", "a write with the login cookie needs the X-CSRF-Token header from the login");
      break;
  }
  res.set_header("WWW-Authenticate", "Bearer realm=\"refund-desk-staff\"");
  if (e == AuthError::kMissingCsrf) res.headers.erase("WWW-Authenticate");
  return false;
}

}  // namespace

void RegisterStaffRoutes(httplib::Server& s, StaffApiDeps deps) {
  StaffAuth* auth = deps.auth;
  const bool secure_cookie = deps.config.staff_cookie_secure;

  s.Post("/api/staff/login", [auth, secure_cookie](const httplib::Request& req, httplib::Response& res) {
    if (!IsValidUtf8(req.body)) return SendError(res, 400, "invalid_utf8", "the body is not valid UTF-8");
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return SendError(res, 400, "malformed_json", "the body must be a JSON object");
    if (!body.contains("name") || !body["name"].is_string() || !body.contains("password") || !body["password"].is_string())
      return SendError(res, 400, "missing_credentials", "\"name\" and \"password\" (strings) are required");
    StaffSession session;
    Status st = auth->Login(body["name"].get<std::string>(), body["password"].get<std::string>(), &session);
    if (st.code() == Status::Code::kNotFound) {
      Log(LogLevel::kWarn, {{"event", "staff_login_failed"}});
      return SendError(res, 401, "bad_credentials", "wrong name or password");
    }
    if (!st.ok()) return SendError(res, 503, "unavailable", "storage is unavailable");
    // HttpOnly: page scripts never read it; SameSite=Strict: other sites' pages never send it.
    res.set_header("Set-Cookie", std::string(StaffAuth::kCookieName) + "=" + session.token +
                                     "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                                     std::to_string(StaffAuth::kSessionSeconds) + (secure_cookie ? "; Secure" : ""));
    Log(LogLevel::kInfo, {{"event", "staff_login"}, {"staff", body["name"]}});
    SendJson(res, {{"name", body["name"]}, {"csrf_token", session.csrf_token}, {"expires_at", FormatTimestampUtc(session.expires_at)}});
  });

  s.Post("/api/staff/logout", [auth](const httplib::Request& req, httplib::Response& res) {
    std::string name;
    if (!Admit(auth, req, res, true, &name)) return;
    const std::string token = CookieValue(req.get_header_value("Cookie"), StaffAuth::kCookieName);
    if (!token.empty()) auth->Logout(token);
    res.set_header("Set-Cookie", std::string(StaffAuth::kCookieName) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    SendJson(res, {{"logged_out", true}});
  });

  s.Get("/api/staff/me", [auth](const httplib::Request& req, httplib::Response& res) {
    std::string name;
    if (!Admit(auth, req, res, false, &name)) return;
    SendJson(res, {{"name", name}});
  });

  s.Post("/api/staff/knowledge/reload", [auth, deps](const httplib::Request& req, httplib::Response& res) {
    std::string name;
    if (!Admit(auth, req, res, true, &name)) return;
    std::vector<std::string> errors;
    if (!deps.knowledge->Reload(&errors)) {
      return SendJson(res, {{"error", "knowledge_invalid"},
                            {"message", "the knowledge files are invalid; the ones in force stay"},
                            {"errors", errors}}, 422);
    }
    Log(LogLevel::kInfo, {{"event", "knowledge_reload_requested"}, {"staff", name}});
    SendJson(res, {{"reloaded", true}, {"faq_entries", deps.knowledge->Get()->faq.entries().size()}});
  });
}

}  // namespace rd
