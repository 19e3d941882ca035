// Security review (issue 18) on a real server: staff slot edits checked like the customer's answers,
// a stored state of the wrong shape failing its turn alone (never the process), and the staff
// credentials' lifetime (disable, revoke, expiry, logout).
#include <catch2/catch.hpp>

#include <fstream>

#include "tests/bot/server_process.h"

namespace rd::test {

namespace {

std::string Token(const std::string& db, const std::string& name) {
  TempDir tmp;
  std::ofstream(tmp.File("pw")) << "long enough password\n";
  REQUIRE(RunCommand(std::string(RD_REFUNDBOT) + " staff add " + name + " --password-stdin --db " + db + " < " +
                     tmp.File("pw") + " 2>/dev/null").code == 0);
  std::string token = RunCommand(std::string(RD_REFUNDBOT) + " staff token " + name + " --db " + db).out;
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

}  // namespace

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
