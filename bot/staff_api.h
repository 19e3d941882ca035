// The staff API under /api/staff/ (JSON). Every route but login needs a staff credential (bot/staff_auth.h):
// a bearer API token, or the login cookie plus the X-CSRF-Token header on writes.
//   POST /api/staff/login             {"name", "password"} -> cookie + {"name", "csrf_token", "expires_at"}
//   POST /api/staff/logout
//   GET  /api/staff/me                -> {"name"}
//   POST /api/staff/knowledge/reload  -> {"reloaded": true, "faq_entries"} | 422 {"error", "errors": [...]}
#pragma once

namespace httplib { class Server; }

namespace rd {

struct Config;
class ConversationService;
class KnowledgeHolder;
class StaffAuth;

struct StaffApiDeps {
  const Config& config;
  ConversationService* service;
  KnowledgeHolder* knowledge;
  StaffAuth* auth;
};

void RegisterStaffRoutes(httplib::Server& server, StaffApiDeps deps);

}  // namespace rd
