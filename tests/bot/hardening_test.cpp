// Security review (issue 18) on a real server: staff slot edits checked like the customer's answers,
// a stored state of the wrong shape failing its turn alone (never the process), and the staff
// credentials' lifetime (disable, revoke, expiry, logout).
#include <catch2/catch.hpp>

#include <ctime>
#include <fstream>

#include "bot/env.h"

#include "tests/bot/server_process.h"

namespace rd::test {

namespace {

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

std::string Token(const std::string& db, const std::string& name) {
  TempDir tmp;
  std::ofstream(tmp.File("pw")) << "long enough password\n";
  REQUIRE(RunCommand(std::string(RD_REFUNDBOT) + " staff add " + name + " --password-stdin --db " + db + " < " +
                     tmp.File("pw") + " 2>/dev/null").code == 0);
  std::string token = RunCommand(std::string(RD_REFUNDBOT) + " staff token " + name + " --db " + db + " 2>/dev/null").out;
  while (!token.empty() && token.back() == '\n') token.pop_back();
  return token;
}

std::pair<int, json> StaffPost(httplib::Client& c, const std::string& token, const std::string& path,
                               const json& body = json::object()) {
  auto r = c.Post(path.c_str(), {{"Authorization", "Bearer " + token}}, body.dump(), "application/json");
  REQUIRE(r);
  return {r->status, json::parse(r->body, nullptr, false)};
}

void Exec(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  INFO((error ? error : ""));
  sqlite3_free(error);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

std::string Quoted(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("''") : std::string(1, ch);
  return out + "'";
}

// A claim confirming, its slots as given: what a customer's "yes" files.
json ConfirmingState(const json& slots) {
  return {{"state", "confirming"}, {"lang", "en"}, {"lang_known", true}, {"slots", slots}, {"last_active", 1794276000}};
}

struct Answer {
  int status = 0;
  json body;
  std::string set_cookie;
};

Answer Call(httplib::Client& c, const std::string& method, const std::string& path, const httplib::Headers& headers,
            const std::string& body = "{}", const std::string& type = "application/json") {
  httplib::Result r = method == "GET" ? c.Get(path.c_str(), headers) : c.Post(path.c_str(), headers, body, type.c_str());
  REQUIRE(r);
  return {r->status, json::parse(r->body, nullptr, false), r->get_header_value("Set-Cookie")};
}

CommandRun Staff(const std::string& args, const std::string& db) {
  return RunCommand(std::string(RD_REFUNDBOT) + " staff " + args + " --db " + db + " 2>/dev/null");
}

// A login as `name` (password "long enough password"): the cookie ("rd_staff=...") and CSRF token.
std::pair<std::string, std::string> Login(httplib::Client& c, const std::string& name, int expect = 200) {
  Answer a = Call(c, "POST", "/api/staff/login", {}, json{{"name", name}, {"password", "long enough password"}}.dump());
  REQUIRE(a.status == expect);
  if (expect != 200) return {};
  return {a.set_cookie.substr(0, a.set_cookie.find(';')), a.body["csrf_token"]};
}

int Me(httplib::Client& c, const httplib::Headers& h) { return Call(c, "GET", "/api/staff/me", h).status; }
httplib::Headers Bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

}  // namespace

TEST_CASE("staff CLI: revoke ends every token and session, disable shuts the account, enable reopens it",
          "[staff][cli][hardening]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  std::string token = Token(db, "ana"), bo_token = Token(db, "bo");
  ServerProcess server(db);
  server.Start();
  auto c = server.Client();
  auto [cookie, csrf] = Login(*c, "ana");
  REQUIRE(Me(*c, Bearer(token)) == 200);
  REQUIRE(Me(*c, {{"Cookie", cookie}}) == 200);

  CommandRun revoke = Staff("revoke ana", db);
  CHECK(revoke.code == 0);
  CHECK(revoke.out.find("2 token(s) and session(s) revoked") != std::string::npos);
  CHECK(Me(*c, Bearer(token)) == 401);
  CHECK(Me(*c, {{"Cookie", cookie}}) == 401);
  CHECK(Me(*c, Bearer(bo_token)) == 200);  // nobody else's
  Login(*c, "ana");                        // the account stays

  std::string fresh = Trimmed(Staff("token ana", db).out);
  REQUIRE(Me(*c, Bearer(fresh)) == 200);
  CHECK(Staff("disable ana", db).code == 0);
  CHECK(Me(*c, Bearer(fresh)) == 401);
  Login(*c, "ana", 401);
  CHECK(Staff("token ana", db).code == 2);
  CHECK(Snapshot(db).find("|ana|api|") == std::string::npos);
  CHECK(Staff("enable ana", db).code == 0);
  CHECK(Me(*c, Bearer(fresh)) == 401);  // what disable revoked stays revoked
  Login(*c, "ana");
  CHECK(Staff("disable nobody", db).code == 2);
  CHECK(Staff("revoke nobody", db).code == 2);
  CHECK(Staff("frobnicate ana", db).code == 2);
  CommandRun help = RunCommand(std::string(RD_REFUNDBOT) + " --help");
  for (const char* verb : {"staff disable NAME", "staff enable NAME", "staff revoke NAME", "staff_token_days"}) {
    CHECK(help.out.find(verb) != std::string::npos);
  }
}

TEST_CASE("API tokens expire after staff_token_days; expired credentials are purged", "[staff][hardening]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  std::string token = Token(db, "ana");  // the default: 90 days from now
  std::ofstream(dir.File("short.json")) << R"({"staff_token_days": 2})";
  const std::string short_token = Trimmed(RunCommand(std::string(RD_REFUNDBOT) + " staff token ana --config " +
                                                     dir.File("short.json") + " --db " + db + " 2>/dev/null").out);
  const auto at = [](int64_t hours) { return FormatTimestampUtc(std::time(nullptr) + hours * 3600); };
  {
    ServerProcess soon(db, {"--now", at(24)});
    soon.Start();
    auto c = soon.Client();
    CHECK(Me(*c, Bearer(token)) == 200);
    CHECK(Me(*c, Bearer(short_token)) == 200);
    Login(*c, "ana");  // a session, over in 12 hours
  }
  {
    ServerProcess later(db, {"--now", at(60)});  // the 2-day token expired 12 hours ago, the session 36
    later.Start();
    auto c = later.Client();
    Answer a = Call(*c, "GET", "/api/staff/me", Bearer(short_token));
    CHECK(a.status == 401);
    CHECK(a.body["error"] == "session_expired");
    CHECK(Me(*c, Bearer(token)) == 200);
  }
  CHECK(Snapshot(db).find("|session|") == std::string::npos);  // expired over a day ago: purged at start
  CHECK(Snapshot(db).find(Sha256Hex(short_token)) == std::string::npos);  // purged when it was refused
  {
    ServerProcess much_later(db, {"--now", at(91 * 24)});
    much_later.Start();
    auto c = much_later.Client();
    CHECK(Me(*c, Bearer(token)) == 401);
  }
  CHECK(Snapshot(db).find(Sha256Hex(token)) == std::string::npos);
}

TEST_CASE("API tokens issued before expiry existed expire 90 days after the upgrade", "[staff][hardening]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  Token(db, "ana");
  // The database as version 11 left it: no disabled_at, and a token that never expires.
  Exec(db, "ALTER TABLE staff DROP COLUMN disabled_at; DROP INDEX staff_credentials_name; PRAGMA user_version = 11; "
           "INSERT INTO staff_credentials(secret_hash, name, kind, expires_at, csrf_hash, created_at) VALUES(" +
               Quoted(Sha256Hex("rdk_legacy")) + ", 'ana', 'api', 0, NULL, 1700000000)");
  const auto at = [](int64_t days) { return FormatTimestampUtc(std::time(nullptr) + days * 86400); };
  {
    ServerProcess soon(db, {"--now", at(80)});
    soon.Start();
    CHECK(Me(*soon.Client(), Bearer("rdk_legacy")) == 200);
  }
  ServerProcess later(db, {"--now", at(91)});
  later.Start();
  CHECK(Me(*later.Client(), Bearer("rdk_legacy")) == 401);
}

TEST_CASE("logout ends exactly the credential it was authenticated with", "[staff][hardening]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  std::string ana = Token(db, "ana"), bo_token = Token(db, "bo");
  ServerProcess server(db);
  server.Start();
  auto c = server.Client();
  auto [bo_cookie, bo_csrf] = Login(*c, "bo");
  // Ana's token with Bo's cookie beside it: Ana's token is revoked, Bo's session goes on.
  httplib::Headers mixed = Bearer(ana);
  mixed.emplace("Cookie", bo_cookie);
  Answer a = Call(*c, "POST", "/api/staff/logout", mixed);
  CHECK(a.status == 200);
  CHECK(a.body["revoked"] == "api_token");
  CHECK(a.set_cookie.empty());
  CHECK(Me(*c, {{"Cookie", bo_cookie}}) == 200);
  CHECK(Me(*c, Bearer(ana)) == 401);
  // A bearer token alone: that token ends.
  a = Call(*c, "POST", "/api/staff/logout", Bearer(bo_token));
  CHECK(a.status == 200);
  CHECK(Me(*c, Bearer(bo_token)) == 401);
  CHECK(Me(*c, {{"Cookie", bo_cookie}}) == 200);
  // The cookie (with its CSRF token): that session ends, and the cookie is cleared.
  a = Call(*c, "POST", "/api/staff/logout", {{"Cookie", bo_cookie}, {"X-CSRF-Token", bo_csrf}});
  CHECK(a.status == 200);
  CHECK(a.body["revoked"] == "session");
  CHECK(a.set_cookie.find("Max-Age=0") != std::string::npos);
  CHECK(Me(*c, {{"Cookie", bo_cookie}}) == 401);
}

TEST_CASE("login refuses other content types than JSON and a foreign Origin (login CSRF)", "[staff][hardening]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  Token(db, "ana");
  ServerProcess server(db);
  server.Start();
  auto c = server.Client();
  const std::string body = json{{"name", "ana"}, {"password", "long enough password"}}.dump();
  const std::string before = Snapshot(db);
  for (const char* type : {"text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
                           "application/jsonx"}) {
    INFO(type);
    Answer a = Call(*c, "POST", "/api/staff/login", {}, body, type);
    CHECK(a.status == 415);
    CHECK(a.set_cookie.empty());
  }
  for (const char* origin : {"http://evil.example", "null", "https://127.0.0.1.evil.example"}) {
    INFO(origin);
    Answer a = Call(*c, "POST", "/api/staff/login", {{"Origin", origin}}, body);
    CHECK(a.status == 403);
    CHECK(a.set_cookie.empty());
  }
  CHECK(Snapshot(db) == before);
  const std::string own = "http://127.0.0.1:" + std::to_string(server.port());
  CHECK(Call(*c, "POST", "/api/staff/login", {{"Origin", own}}, body, "application/json; charset=utf-8").status == 200);
  CHECK(Call(*c, "POST", "/api/staff/login", {}, body).status == 200);  // scripts send no Origin
}

TEST_CASE("staff slot edits are checked like the customer's answers: 400 with the reason, nothing stored",
          "[staff][hardening]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  std::string token = Token(db, "ana");
  ServerProcess server(db);
  server.Start();
  auto c = server.Client();
  ChatReply r = PostChat(*c, {{"text", "I want a refund, we paid on 2026-11-01"}});
  std::string session = r.body["session"], id = r.body["conversation_id"];
  PostChat(*c, {{"session", session}, {"text", "I want to talk to a human"}});
  const std::string base = "/api/staff/conversations/" + id;
  REQUIRE(StaffPost(*c, token, base + "/takeover").first == 200);

  const std::string before = Snapshot(db);
  struct Bad { std::string slot; json value; std::string reason; };
  const std::vector<Bad> bad = {
      {"problems", json::parse(R"([{"category": "latency", "metrics": {"latency_ms": "abc"}}])"), "latency_ms"},
      {"problems", json::parse(R"([{"category": "latency", "metrics": {"latency_ms": -5}}])"), "latency_ms"},
      {"problems", json::parse(R"([{"category": "packet_loss", "metrics": {"packet_loss_pct": 250}}])"), "packet_loss_pct"},
      {"problems", json::parse(R"([{"category": "weather"}])"), "category"},
      {"problems", json::parse(R"([{"category": "latency", "metrics": {"mood_ms": 3}}])"), "mood_ms"},
      {"problems", json::parse(R"([{"category": "latency", "metrics": [1, 2]}])"), "metrics"},
      {"problems", json::parse(R"([{"category": "latency", "description": 7}])"), "description"},
      {"evidence", json::parse(R"([{"type": "rumour"}])"), "type"},
      {"evidence", json::parse(R"([{"type": "contract", "description": {"a": 1}}])"), "description"},
      {"contact", json::parse(R"({"email": 5})"), "email"},
      {"contact", json::parse(R"({"account": ["x"]})"), "account"},
      {"billing", json::parse(R"({"billing_model": 5})"), "billing_model"},
      {"billing", json::parse(R"({"billing_model": "barter"})"), "billing_model"},
      {"billing", json::parse(R"({"amount_paid": "3000"})"), "amount_paid"},
      {"billing", json::parse(R"({"traffic_used_pct": 140})"), "traffic_used_pct"},
      {"billing", json::parse(R"({"currency": 1})"), "currency"},
      {"payment_date", "2099-01-01", "after today"},
      {"payment_date", "2010-05-01", "before 2015-01-01"},
      {"activation_date", "2026-02-30", "YYYY-MM-DD"},
      {"activation_date", 20261105, "YYYY-MM-DD"},
  };
  for (const Bad& b : bad) {
    INFO(b.slot << " = " << b.value.dump());
    auto [status, body] = StaffPost(*c, token, base + "/slots", {{"slot", b.slot}, {"value", b.value}});
    CHECK(status == 400);
    CHECK(body.value("message", "").find(b.reason) != std::string::npos);
  }
  CHECK(Snapshot(db) == before);

  // Values of the customer's shape are taken; the claim then goes on to a ticket after hand back.
  CHECK(StaffPost(*c, token, base + "/slots", {{"slot", "problems"}, {"value", json::parse(
      R"([{"category": "latency", "description": "slow", "metrics": {"latency_ms": 400, "region": "Singapore"}}])")}}).first == 200);
  CHECK(StaffPost(*c, token, base + "/slots", {{"slot", "billing"}, {"value", json::parse(
      R"({"billing_model": "monthly", "amount_paid": 3000, "currency": "CNY"})")}}).first == 200);
  CHECK(StaffPost(*c, token, base + "/slots", {{"slot", "activation_date"}, {"value", "2026-11-02"}}).first == 200);
  CHECK(StaffPost(*c, token, base + "/handback").first == 200);
  r = PostChat(*c, {{"session", session}, {"text", "none"}});
  r = PostChat(*c, {{"session", session}, {"text", "me@example.com"}});
  r = PostChat(*c, {{"session", session}, {"text", "yes"}});
  CHECK(r.status == 200);
  CHECK(r.body["state"] == "filed");
  CHECK(r.body["ticket"]["assessment"]["grounds"][0]["metric"] == "latency_ms");
}

TEST_CASE("a stored claim of the wrong shape: the assessment skips what it cannot read, the ticket is filed",
          "[hardening]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  std::string session, id;
  {
    ServerProcess first(db);
    first.Start();
    auto c = first.Client();
    ChatReply r = PostChat(*c, {{"text", "I want a refund, we paid on 2026-11-01"}});
    session = r.body["session"];
    id = r.body["conversation_id"];
    first.Kill(SIGTERM);
  }
  // What the review found stored by a staff edit: a metric and a billing model of the wrong type.
  json poisoned = ConfirmingState(json::parse(R"({"payment_date": "2026-11-01", "activation_date": "2026-11-02",
      "problems": [{"category": "latency", "metrics": {"latency_ms": "abc"}}, "not an object"],
      "evidence": [{"type": 3}], "contact": {"email": "me@example.com"},
      "billing": {"billing_model": 5, "amount_paid": "lots", "traffic_used_pct": "x"}})"));
  Exec(db, "UPDATE conversations SET state = 'confirming', pending_slot = NULL, dialog = " + Quoted(poisoned.dump()) +
               " WHERE id = " + Quoted(id));
  for (int start = 0; start < 2; ++start) {  // and again after a restart
    ServerProcess server(db);
    server.Start();
    auto c = server.Client();
    ChatReply r = PostChat(*c, {{"session", session}, {"text", "yes"}});
    INFO(r.body.dump());
    // The summary cannot be shown for this claim: that turn fails alone, or the ticket is filed.
    if (r.status == 200) {
      CHECK(r.body["state"] == "filed");
      CHECK(r.body["ticket"]["assessment"]["grounds"].empty());
      CHECK(r.body["ticket"]["assessment"]["estimate"]["refund"].is_null());
      break;
    }
    CHECK(r.status == 500);
    auto health = c->Get("/healthz");
    REQUIRE(health);
    CHECK(health->status == 200);
  }
}

TEST_CASE("a turn that throws fails alone: 500 without the exception text, the state unchanged, the server serves on",
          "[hardening]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3"), log = dir.File("log");
  std::string token = Token(db, "ana");
  std::string session, id;
  {
    ServerProcess first(db);
    first.Start();
    auto c = first.Client();
    ChatReply r = PostChat(*c, {{"text", "I want a refund, we paid on 2026-11-01"}});
    session = r.body["session"];
    id = r.body["conversation_id"];
    first.Kill(SIGTERM);
  }
  // A state the engine cannot read: a failure count that is not a number, an email that is a number.
  json poisoned = ConfirmingState(json::parse(R"({"payment_date": "2026-11-01", "contact": {"email": 5}})"));
  poisoned["failures"] = {{"payment_date", "many"}};
  const std::string dialog = poisoned.dump();
  Exec(db, "UPDATE conversations SET dialog = " + Quoted(dialog) + " WHERE id = " + Quoted(id));
  const std::string select = "SELECT dialog, version FROM conversations WHERE id = " + Quoted(id);
  for (int start = 0; start < 2; ++start) {  // the same message after a restart: the same answer
    ServerProcess server(db, {}, log);
    server.Start();
    auto c = server.Client();
    for (int i = 0; i < 2; ++i) {
      auto res = c->Post("/api/chat", json{{"session", session}, {"text", "yes"}}.dump(), "application/json");
      REQUIRE(res);
      CHECK(res->status == 500);
      CHECK(res->body.find("type_error") == std::string::npos);
      CHECK(res->body.find("type must be") == std::string::npos);
    }
    // The staff view of it fails alone too, without the text in a header.
    auto view = c->Get(("/api/staff/conversations/" + id).c_str(), {{"Authorization", "Bearer " + token}});
    REQUIRE(view);
    CHECK(view->status == 500);
    CHECK(!view->has_header("EXCEPTION_WHAT"));
    CHECK(view->body.find("type must be") == std::string::npos);
    // Other customers are served.
    ChatReply other = PostChat(*c, {{"text", "hello"}});
    CHECK(other.status == 200);
    CHECK(!other.body["replies"].empty());
    server.Kill(SIGTERM);
  }
  const std::string snapshot = Snapshot(db);
  CHECK(snapshot.find(dialog) != std::string::npos);  // the poisoned state is as it was: nothing committed
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  CHECK(text.find("\"turn_exception\"") != std::string::npos);
}

}  // namespace rd::test

namespace rd::test {

TEST_CASE("file names lose control and bidi characters; downloads keep a safe extension", "[upload][hardening]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  std::string token = Token(db, "ana");
  ServerProcess server(db);
  server.Start();
  auto c = server.Client();
  ChatReply r = PostChat(*c, {{"text", "I want a refund, paid 2026-11-01, activated 2026-11-05, latency 400ms"}});
  std::string session = r.body["session"], id = r.body["conversation_id"];
  struct Case { std::string sent, stored, bytes; };
  const std::vector<Case> cases = {
      {"invoice\u202efdp.txt", "invoicefdp.txt", "an invoice, in text"},            // shows as "invoicetxt.pdf"
      {"re\x1b[31mport\x07.csv", "re[31mport.csv", "a,b\n1,2\n"},                     // ESC and BEL
      {"\u2066contract\u2069\u200f.pdf", "contract.pdf", "%PDF-1.4 a contract"},       // isolates and a mark
  };
  for (const Case& k : cases) {
    INFO(k.stored);
    httplib::MultipartFormDataItems items = {{"session", session, "", ""}, {"file", k.bytes, k.sent, "application/octet-stream"}};
    auto res = c->Post("/api/chat/upload", items);
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body.find(k.stored) != std::string::npos);
    auto file = c->Get(("/api/staff/conversations/" + id + "/files/" + Sha256Hex(k.bytes)).c_str(), Bearer(token));
    REQUIRE(file);
    CHECK(file->status == 200);
    const std::string disposition = file->get_header_value("Content-Disposition");
    const std::string ext = k.stored.substr(k.stored.rfind('.'));
    CHECK(disposition.find("filename=\"evidence-" + Sha256Hex(k.bytes).substr(0, 12) + ext + "\"") != std::string::npos);
    CHECK(disposition.find("filename*=UTF-8''") != std::string::npos);
    CHECK(disposition.find(ext) != std::string::npos);
  }
  const std::string all = Snapshot(db);
  for (const char* bad : {"\u202e", "\x1b", "\x07", "\u2066", "\u2069", "\u200f"}) CHECK(all.find(bad) == std::string::npos);
  CHECK(all.find("invoicefdp.txt") != std::string::npos);
}

}  // namespace rd::test
