#include "bot/staff_api.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <fstream>

#include "bot/config.h"
#include "bot/conversation_service.h"
#include "bot/file_types.h"
#include "bot/http_json.h"
#include "bot/log.h"
#include "bot/metrics.h"
#include "bot/staff_auth.h"
#include "dialogs/text.h"

namespace rd {

using nlohmann::json;

namespace {

// Lets the request in or answers it: true when a staff member is authenticated (`*name` set).
// `credential` (when given): the hash of the token or session that let it in.
bool Admit(StaffAuth* auth, const httplib::Request& req, httplib::Response& res, bool write, std::string* name,
           std::string* credential = nullptr) {
  AuthError e = auth->Authenticate(req.get_header_value("Authorization"), req.get_header_value("Cookie"),
                                   req.get_header_value("X-CSRF-Token"), write, name, credential);
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

std::string LowerAscii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Login CSRF: a form or fetch() from another site may not log a browser in (to an account of the
// attacker's). A JSON body cannot be sent cross-origin without a CORS preflight, which this server never
// grants, and a browser names the page's origin in Origin. Refused: any content type but
// application/json (415), and an Origin other than this server's as the request names it (Host) or as
// configured (public_base_url) (403). No Origin (curl, scripts): allowed.
bool LoginRequestAllowed(const httplib::Request& req, const std::string& public_base_url, httplib::Response& res) {
  const std::string type = LowerAscii(req.get_header_value("Content-Type"));
  if (Trim(type.substr(0, type.find(';'))) != "application/json") {
    SendError(res, 415, "json_required", "send the login as Content-Type: application/json");
    return false;
  }
  if (!req.has_header("Origin")) return true;
  const std::string origin = LowerAscii(req.get_header_value("Origin"));
  const std::string host = LowerAscii(req.get_header_value("Host"));
  std::string configured = LowerAscii(public_base_url);
  if (size_t slash = configured.find('/', configured.find("://") == std::string::npos ? 0 : configured.find("://") + 3);
      slash != std::string::npos) {
    configured.resize(slash);
  }
  if ((!host.empty() && (origin == "http://" + host || origin == "https://" + host)) || origin == configured) return true;
  Log(LogLevel::kWarn, {{"event", "staff_login_refused"}, {"reason", "foreign origin"}});
  SendError(res, 403, "foreign_origin", "log in from the console of this server");
  return false;
}

// RFC 5987 value characters as they are, every other byte %XX.
std::string PercentEncode(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') out += static_cast<char>(c);
    else out += {'%', kHex[c >> 4], kHex[c & 15]};
  }
  return out;
}

}  // namespace

void RegisterStaffRoutes(httplib::Server& s, StaffApiDeps deps) {
  StaffAuth* auth = deps.auth;
  const bool secure_cookie = deps.config.staff_cookie_secure;

  const std::string public_base_url = deps.config.public_base_url;
  s.Post("/api/staff/login", [auth, secure_cookie, public_base_url](const httplib::Request& req, httplib::Response& res) {
    if (!LoginRequestAllowed(req, public_base_url, res)) return;
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
    // Ends exactly the credential the request was authenticated with: the cookie's session, or the
    // bearer token (revoked: a script logs out by giving its token up). Never a session the Cookie
    // header merely names.
    std::string name, credential;
    if (!Admit(auth, req, res, true, &name, &credential)) return;
    if (!auth->Logout(credential).ok()) return SendError(res, 503, "unavailable", "storage is unavailable");
    const bool bearer = req.get_header_value("Authorization").rfind("Bearer ", 0) == 0;
    if (!bearer) res.set_header("Set-Cookie", std::string(StaffAuth::kCookieName) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    Log(LogLevel::kInfo, {{"event", "staff_logout"}, {"staff", name}, {"credential", bearer ? "api_token" : "session"}});
    SendJson(res, {{"logged_out", true}, {"revoked", bearer ? "api_token" : "session"}});
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

  // --- the queue and conversations -------------------------------------------------------------
  ConversationService* service = deps.service;

  s.Get("/api/staff/conversations", [auth, service](const httplib::Request& req, httplib::Response& res) {
    std::string name;
    if (!Admit(auth, req, res, false, &name)) return;
    ConversationFilter filter;
    if (req.has_param("state")) filter.state = req.get_param_value("state");
    static const std::vector<std::string> kStates = {"all", "needs_human", "handoff", "bot", "start", "collecting",
                                                     "confirming", "filed", "cancelled", "expired"};
    if (std::find(kStates.begin(), kStates.end(), filter.state) == kStates.end())
      return SendError(res, 400, "bad_state", "state must be one of all, needs_human, handoff, bot or a conversation state");
    std::vector<ConversationSummary> list;
    if (!service->store()->ListConversations(filter, &list).ok()) return SendError(res, 503, "unavailable", "storage is unavailable");
    json out = json::array();
    for (const auto& c : list) {
      const ConversationRecord& r = c.record;
      out.push_back({{"id", r.id}, {"state", r.state}, {"channel", r.channel},
                     {"pending_slot", r.pending_slot.empty() ? json(nullptr) : json(r.pending_slot)},
                     {"assignee", r.assignee.empty() ? json(nullptr) : json(r.assignee)},
                     {"needs_human", r.state == "handoff" && r.assignee.empty()},
                     {"unread", c.unread}, {"messages", r.last_seq},
                     {"updated_at", FormatTimestampUtc(r.updated_at)}});
    }
    SendJson(res, {{"conversations", out}});
  });

  s.Get(R"(/api/staff/conversations/([A-Za-z0-9_]+))", [auth, service](const httplib::Request& req, httplib::Response& res) {
    std::string name;
    if (!Admit(auth, req, res, false, &name)) return;
    // One page of the transcript: the newest, or with ?before=SEQ the one before it (bot/conversation_service.h).
    int64_t before = 0, limit = 0;
    if (!PageParam(req, "before", 0, INT64_MAX, &before) || !PageParam(req, "limit", 1, 1000, &limit))
      return SendError(res, 400, "bad_page", "\"before\" must be a seq ≥ 1 and \"limit\" 1–1000");
    json view;
    Status st = service->StaffView(req.matches[1], before, static_cast<int>(limit), &view);
    if (st.code() == Status::Code::kNotFound) return SendError(res, 404, "unknown_conversation", "no such conversation");
    if (!st.ok()) return SendError(res, 503, "unavailable", "storage is unavailable");
    SendJson(res, view);
  });

  s.Post(R"(/api/staff/conversations/([A-Za-z0-9_]+)/(takeover|reply|handback|transfer|slots|file|close))",
         [auth, service](const httplib::Request& req, httplib::Response& res) {
    std::string name;
    if (!Admit(auth, req, res, true, &name)) return;
    const std::string id = req.matches[1], action = req.matches[2];
    json body = json::object();
    if (!req.body.empty()) {
      if (!IsValidUtf8(req.body)) return SendError(res, 400, "invalid_utf8", "the body is not valid UTF-8");
      body = json::parse(req.body, nullptr, false);
      if (body.is_discarded() || !body.is_object()) return SendError(res, 400, "malformed_json", "the body must be a JSON object");
    }
    auto text_field = [&](const char* field, std::string* out) {
      if (!body.contains(field) || !body[field].is_string() || Trim(body[field].get<std::string>()).empty()) return false;
      *out = body[field].get<std::string>();
      return true;
    };
    Status st;
    json done = {{"ok", true}};
    if (action == "takeover") {
      st = service->TakeOver(id, name);
      if (st.code() == Status::Code::kDuplicate) st = Status::Ok();
    } else if (action == "reply") {
      std::string text;
      if (!text_field("text", &text)) return SendError(res, 400, "missing_text", "\"text\" (a non-empty string) is required");
      st = service->StaffReply(id, name, text);
    } else if (action == "handback") {
      st = service->HandBack(id, name);
    } else if (action == "transfer") {
      std::string to;
      if (!text_field("to", &to)) return SendError(res, 400, "missing_to", "\"to\" (a staff name) is required");
      st = service->Transfer(id, name, to);
      if (st.code() == Status::Code::kNotFound && st.message().rfind("no staff", 0) == 0)
        return SendError(res, 400, "unknown_staff", st.message());
    } else if (action == "slots") {
      std::string slot;
      if (!text_field("slot", &slot) || !body.contains("value"))
        return SendError(res, 400, "missing_slot", "\"slot\" and \"value\" are required");
      st = service->SetSlot(id, name, slot, body["value"]);
    } else if (action == "file") {
      std::string ticket_id;
      st = service->FileByStaff(id, name, &ticket_id);
      done["ticket_id"] = ticket_id;
    } else {
      st = service->CloseByStaff(id, name);
    }
    if (st.code() == Status::Code::kNotFound) return SendError(res, 404, "unknown_conversation", "no such conversation");
    if (st.code() == Status::Code::kConflict) return SendError(res, 409, "conflict", st.message());
    if (st.code() == Status::Code::kInvalid) return SendError(res, 400, "bad_value", st.message());
    if (st.code() == Status::Code::kInternal) return SendError(res, 500, "internal_error", "the change could not be made");
    if (!st.ok()) return SendError(res, 503, "unavailable", "storage is unavailable");
    ProcessMetrics().CountStaffAction();
    Log(LogLevel::kInfo, {{"event", "staff_action"}, {"staff", name}, {"action", action}, {"conversation_id", id}});
    json view;
    if (service->StaffView(id, &view).ok()) done["conversation"] = view;
    SendJson(res, done);
  });

  s.Get(R"(/api/staff/conversations/([A-Za-z0-9_]+)/files/([0-9a-f]{64}))",
        [auth, service](const httplib::Request& req, httplib::Response& res) {
    std::string name;
    if (!Admit(auth, req, res, false, &name)) return;
    AttachmentRecord file;
    Status st = service->store()->GetAttachment(req.matches[1], req.matches[2], &file);
    if (st.code() == Status::Code::kNotFound) return SendError(res, 404, "unknown_file", "no such file");
    if (!st.ok()) return SendError(res, 503, "unavailable", "storage is unavailable");
    std::ifstream in(file.path, std::ios::binary);
    if (!in) return SendError(res, 404, "unknown_file", "the file is missing from the data folder");
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    // Downloaded, never rendered in the console's origin: a PDF or SVG cannot run script there.
    // The name as stored (cleaned of control and bidi characters), with the extension of its type: an
    // ASCII fallback and the UTF-8 name (RFC 6266). Served only as a type of the allow-list.
    const std::string download = DownloadFileName(file.name, file.content_type);
    const std::string ext = download.substr(download.rfind('.'));
    const std::string type = ContentTypeForName(download).value_or("application/octet-stream");
    res.set_header("Content-Disposition", "attachment; filename=\"evidence-" + file.sha256.substr(0, 12) + ext +
                                              "\"; filename*=UTF-8''" + PercentEncode(download));
    res.set_header("Content-Security-Policy", "sandbox");
    res.set_content(bytes, type.c_str());
  });

  // --- tickets ------------------------------------------------------------------------------------
  s.Get("/api/staff/tickets", [auth, service](const httplib::Request& req, httplib::Response& res) {
    std::string name;
    if (!Admit(auth, req, res, false, &name)) return;
    std::vector<TicketRecord> list;
    if (!service->store()->ListTickets(req.get_param_value("status"), 500, &list).ok())
      return SendError(res, 503, "unavailable", "storage is unavailable");
    json out = json::array();
    for (const auto& t : list) out.push_back(t.ticket);
    SendJson(res, {{"tickets", out}});
  });

  s.Get(R"(/api/staff/tickets/(RF-[0-9]{8}-[0-9]{4,}))", [auth, service](const httplib::Request& req, httplib::Response& res) {
    std::string name;
    if (!Admit(auth, req, res, false, &name)) return;
    TicketRecord t;
    Status st = service->store()->GetTicket(req.matches[1], &t);
    if (st.code() == Status::Code::kNotFound) return SendError(res, 404, "unknown_ticket", "no such ticket");
    if (!st.ok()) return SendError(res, 503, "unavailable", "storage is unavailable");
    SendJson(res, t.ticket);
  });

  s.Post(R"(/api/staff/tickets/(RF-[0-9]{8}-[0-9]{4,})/status)", [auth, service](const httplib::Request& req, httplib::Response& res) {
    std::string name;
    if (!Admit(auth, req, res, true, &name)) return;
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("status") || !body["status"].is_string())
      return SendError(res, 400, "missing_status", "\"status\" is required: in_review, approved, rejected or refunded");
    Status st = service->ChangeTicketStatus(req.matches[1], name, body["status"].get<std::string>());
    if (st.code() == Status::Code::kNotFound) return SendError(res, 404, "unknown_ticket", "no such ticket");
    if (st.code() == Status::Code::kConflict) return SendError(res, 409, "bad_transition", st.message());
    if (!st.ok()) return SendError(res, 503, "unavailable", "storage is unavailable");
    TicketRecord t;
    service->store()->GetTicket(req.matches[1], &t);
    Log(LogLevel::kInfo, {{"event", "ticket_status"}, {"staff", name}, {"ticket_id", t.id}, {"status", t.status}});
    SendJson(res, t.ticket);
  });
}

}  // namespace rd
