// Staff accounts and authentication (CLI, login cookie + CSRF, bearer tokens) and the knowledge reload
// route, against a real server on loopback.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "bot/staff_auth.h"
#include "tests/bot/server_process.h"

namespace rd::test {

namespace fs = std::filesystem;

namespace {

// Runs refundbot with `args`, `input` on stdin; exit code and stdout.
CommandRun Refundbot(const std::string& args, const std::string& input = "") {
  TempDir tmp;
  std::string in = tmp.File("stdin.txt");
  std::ofstream(in) << input;
  return RunCommand(std::string(RD_REFUNDBOT) + " " + args + " < " + in + " 2>/dev/null");
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

struct Answer {
  int status = 0;
  json body;
  std::string set_cookie;
};

Answer Call(httplib::Client& c, const std::string& method, const std::string& path, const httplib::Headers& headers,
            const std::string& body = "{}") {
  httplib::Result r = method == "GET" ? c.Get(path.c_str(), headers)
                                      : c.Post(path.c_str(), headers, body, "application/json");
  REQUIRE(r);
  return {r->status, json::parse(r->body, nullptr, false), r->get_header_value("Set-Cookie")};
}

// A staff account "ana" with password "correct horse" in `db`.
void AddAna(const std::string& db) {
  CommandRun add = Refundbot("staff add ana --password-stdin --db " + db, "correct horse\n");
  REQUIRE(add.code == 0);
}

}  // namespace

TEST_CASE("passwords are stored as PBKDF2 hashes and checked in constant time", "[staff]") {
  std::string hash = HashPassword("correct horse", SystemRandom(), 1000);
  CHECK(hash.rfind("pbkdf2_sha256$1000$", 0) == 0);
  CHECK(hash.find("correct") == std::string::npos);
  CHECK(VerifyPassword("correct horse", hash));
  CHECK(!VerifyPassword("correct horsE", hash));
  CHECK(!VerifyPassword("", hash));
  CHECK(HashPassword("correct horse", SystemRandom(), 1000) != hash);  // salted
  for (const char* broken : {"", "pbkdf2_sha256$", "pbkdf2_sha256$x$AAAA$AAAA", "md5$1$AAAA$AAAA",
                             "pbkdf2_sha256$1000$!!!!$AAAA"}) {
    CHECK(!VerifyPassword("correct horse", broken));
  }
  CHECK(CookieValue("a=1; rd_staff=tok; b=2", "rd_staff") == "tok");
  CHECK(CookieValue("rd_staff_x=1", "rd_staff").empty());
}

TEST_CASE("staff CLI: accounts and API tokens", "[staff][cli]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  AddAna(db);
  CHECK(Refundbot("staff add ana --password-stdin --db " + db, "another one\n").code == 2);  // taken
  CHECK(Refundbot("staff add bo --password-stdin --db " + db, "short\n").code == 2);         // too short
  CHECK(Refundbot("staff add bo --db " + db, "long enough\n").code == 2);  // the password only on stdin
  CommandRun token = Refundbot("staff token ana --db " + db);
  CHECK(token.code == 0);
  CHECK(Trimmed(token.out).rfind("rdk_", 0) == 0);
  CHECK(Refundbot("staff token nobody --db " + db).code == 2);
  // Only hashes reach the database.
  auto snapshot = Snapshot(db);
  CHECK(snapshot.find("pbkdf2_sha256$600000$") != std::string::npos);
  CHECK(snapshot.find(Sha256Hex(Trimmed(token.out))) != std::string::npos);
  CHECK(snapshot.find(Trimmed(token.out)) == std::string::npos);
  CHECK(snapshot.find("correct horse") == std::string::npos);
}

TEST_CASE("staff authentication: bearer tokens, login cookie with CSRF, and every refusal", "[staff][http]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  AddAna(db);
  std::string token = Trimmed(Refundbot("staff token ana --db " + db).out);
  ServerProcess server(db);
  server.Start();
  auto c = server.Client();

  // No credentials at all.
  Answer a = Call(*c, "GET", "/api/staff/me", {});
  CHECK(a.status == 401);
  CHECK(a.body["error"] == "unauthenticated");
  // A bearer token: in, reads and writes alike.
  a = Call(*c, "GET", "/api/staff/me", {{"Authorization", "Bearer " + token}});
  CHECK(a.status == 200);
  CHECK(a.body["name"] == "ana");
  CHECK(Call(*c, "GET", "/api/staff/me", {{"Authorization", "Bearer " + token + "x"}}).body["error"] == "bad_credentials");
  // A customer's session secret is no staff credential, as a bearer token or as the cookie.
  ChatReply chat = PostChat(*c, {{"text", "hello"}});
  std::string customer = chat.body["session"];
  CHECK(Call(*c, "GET", "/api/staff/me", {{"Authorization", "Bearer " + customer}}).status == 401);
  CHECK(Call(*c, "GET", "/api/staff/me", {{"Cookie", "rd_staff=" + customer}}).status == 401);

  // Login: a wrong password and an unknown name get the same answer.
  a = Call(*c, "POST", "/api/staff/login", {}, json{{"name", "ana"}, {"password", "wrong horse"}}.dump());
  CHECK(a.status == 401);
  CHECK(a.body["error"] == "bad_credentials");
  CHECK(a.set_cookie.empty());
  Answer unknown = Call(*c, "POST", "/api/staff/login", {}, json{{"name", "zed"}, {"password", "wrong horse"}}.dump());
  CHECK(unknown.status == 401);
  CHECK(unknown.body == a.body);
  CHECK(Call(*c, "POST", "/api/staff/login", {}, "{not json").body["error"] == "malformed_json");

  a = Call(*c, "POST", "/api/staff/login", {}, json{{"name", "ana"}, {"password", "correct horse"}}.dump());
  REQUIRE(a.status == 200);
  CHECK(a.set_cookie.find("HttpOnly") != std::string::npos);
  CHECK(a.set_cookie.find("SameSite=Strict") != std::string::npos);
  std::string cookie = a.set_cookie.substr(0, a.set_cookie.find(';'));
  std::string csrf = a.body["csrf_token"];
  CHECK(cookie.rfind("rd_staff=", 0) == 0);
  // The cookie reads without more ...
  CHECK(Call(*c, "GET", "/api/staff/me", {{"Cookie", cookie}}).status == 200);
  // ... but a write needs the CSRF token from the login, exactly.
  a = Call(*c, "POST", "/api/staff/knowledge/reload", {{"Cookie", cookie}});
  CHECK(a.status == 403);
  CHECK(a.body["error"] == "csrf_token_required");
  CHECK(Call(*c, "POST", "/api/staff/knowledge/reload", {{"Cookie", cookie}, {"X-CSRF-Token", csrf + "0"}}).status == 403);
  CHECK(Call(*c, "POST", "/api/staff/knowledge/reload", {{"Cookie", cookie}, {"X-CSRF-Token", csrf}}).status == 200);
  // A session secret is a cookie only, never a bearer token.
  CHECK(Call(*c, "GET", "/api/staff/me", {{"Authorization", "Bearer " + cookie.substr(9)}}).status == 401);
  server.Kill(SIGTERM);

  // Twelve hours later the session has expired; the API token has not.
  ServerProcess later(db, {"--now", "2026-11-10T15:00:00Z"});
  later.Start();
  auto c2 = later.Client();
  a = Call(*c2, "GET", "/api/staff/me", {{"Cookie", cookie}});
  CHECK(a.status == 401);
  CHECK(a.body["error"] == "session_expired");
  CHECK(Call(*c2, "GET", "/api/staff/me", {{"Authorization", "Bearer " + token}}).status == 200);
  // Logout ends a session at once.
  a = Call(*c2, "POST", "/api/staff/login", {}, json{{"name", "ana"}, {"password", "correct horse"}}.dump());
  std::string cookie2 = a.set_cookie.substr(0, a.set_cookie.find(';'));
  std::string csrf2 = a.body["csrf_token"];
  CHECK(Call(*c2, "POST", "/api/staff/logout", {{"Cookie", cookie2}, {"X-CSRF-Token", csrf2}}).status == 200);
  CHECK(Call(*c2, "GET", "/api/staff/me", {{"Cookie", cookie2}}).body["error"] == "bad_credentials");
}

TEST_CASE("POST /api/staff/knowledge/reload: a broken set is refused, a valid one taken, claims in flight go on",
          "[staff][http][knowledge]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  AddAna(db);
  std::string token = Trimmed(Refundbot("staff token ana --db " + db).out);
  fs::path knowledge = dir.path / "knowledge";
  fs::copy(RD_KNOWLEDGE_DIR, knowledge, fs::copy_options::recursive);
  ServerProcess server(db, {"--knowledge", knowledge.string()});
  server.Start();
  auto c = server.Client();
  const httplib::Headers staff = {{"Authorization", "Bearer " + token}};
  auto ask_window = [&](const std::string& session) {
    json body = {{"text", "how long is the refund window?"}};
    if (!session.empty()) body["session"] = session;
    ChatReply r = PostChat(*c, body);
    REQUIRE(r.status == 200);
    return r;
  };

  // A claim under way: payment date given, activation date pending.
  ChatReply first = PostChat(*c, {{"text", "I want a refund, I paid on 2026-11-01"}});
  REQUIRE(first.status == 200);
  std::string session = first.body["session"];
  CHECK(first.body["pending_slot"] == "activation_date");
  CHECK(ask_window(session).body["replies"][0]["text"].get<std::string>().find("7 days") != std::string::npos);

  CHECK(Call(*c, "POST", "/api/staff/knowledge/reload", {}).status == 401);

  // Broken: 422 with the problems, and the bot answers as before.
  std::string policy;
  {
    std::ifstream in(knowledge / "policy.json");
    policy.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::ofstream(knowledge / "policy.json", std::ios::trunc) << "{\"provider_name\": \"X\", \"window\": {\"days\": 0";
  Answer a = Call(*c, "POST", "/api/staff/knowledge/reload", staff);
  CHECK(a.status == 422);
  CHECK(a.body["error"] == "knowledge_invalid");
  REQUIRE(!a.body["errors"].empty());
  CHECK(a.body["errors"][0].get<std::string>().find("policy.json") != std::string::npos);
  CHECK(ask_window(session).body["replies"][0]["text"].get<std::string>().find("7 days") != std::string::npos);

  // Valid, with a 14-day window: answered at once, in the same conversation, which keeps its claim.
  size_t at = policy.find("\"days\": 7");
  REQUIRE(at != std::string::npos);
  policy.replace(at, 9, "\"days\": 14");
  std::ofstream(knowledge / "policy.json", std::ios::trunc) << policy;
  a = Call(*c, "POST", "/api/staff/knowledge/reload", staff);
  CHECK(a.status == 200);
  CHECK(a.body["reloaded"] == true);
  CHECK(a.body["faq_entries"].get<int>() >= 40);
  ChatReply after = ask_window(session);
  CHECK(after.body["replies"][0]["text"].get<std::string>().find("14 days") != std::string::npos);
  CHECK(after.body["pending_slot"] == "activation_date");
  ChatReply next = PostChat(*c, {{"session", session}, {"text", "activated on 2026-11-05"}});
  CHECK(next.body["pending_slot"] == "problems");
}

}  // namespace rd::test
