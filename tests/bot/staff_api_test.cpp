// The staff API end to end on a real server: the queue, takeover (and two staff racing for it),
// replies the customer sees, slots set by staff, hand back and the claim resuming, transfer, filing,
// ticket status changes the customer is told of, and evidence uploads.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "bot/env.h"
#include "tests/bot/server_process.h"

namespace rd::test {

namespace fs = std::filesystem;

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

struct Api {
  httplib::Client& c;
  std::string token;
  std::pair<int, json> Get(const std::string& path) {
    auto r = c.Get(path.c_str(), {{"Authorization", "Bearer " + token}});
    REQUIRE(r);
    return {r->status, json::parse(r->body, nullptr, false)};
  }
  std::pair<int, json> Post(const std::string& path, const json& body = json::object()) {
    auto r = c.Post(path.c_str(), {{"Authorization", "Bearer " + token}}, body.dump(), "application/json");
    REQUIRE(r);
    return {r->status, json::parse(r->body, nullptr, false)};
  }
};

json History(httplib::Client& c, const std::string& session, int after = 0) {
  auto r = c.Get(("/api/chat/history?session=" + session + "&after=" + std::to_string(after)).c_str());
  REQUIRE(r);
  REQUIRE(r->status == 200);
  return json::parse(r->body);
}

bool Transcript(const json& history, const std::string& author, const std::string& fragment) {
  for (const auto& m : history["messages"]) {
    if (m["author"] == author && m["text"].get<std::string>().find(fragment) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("handoff: queue, takeover, staff reply, slot set by staff, hand back resumes the claim", "[staff][handoff]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  std::string ana_token = Token(db, "ana"), bo_token = Token(db, "bo");
  ServerProcess server(db);
  server.Start();
  auto c = server.Client();
  Api a{*c, ana_token}, b{*c, bo_token};

  // A customer starts a claim, then asks for a person.
  ChatReply r = PostChat(*c, {{"text", "I want a refund, we paid on 2026-11-01"}});
  std::string session = r.body["session"], id = r.body["conversation_id"];
  PostChat(*c, {{"text", "hello"}});  // another conversation, handled by the bot
  r = PostChat(*c, {{"session", session}, {"text", "I want to talk to a human"}});
  CHECK(r.body["state"] == "handoff");

  // The queue puts it first, as needing a human.
  auto [status, queue] = a.Get("/api/staff/conversations?state=all");
  REQUIRE(status == 200);
  REQUIRE(queue["conversations"].size() == 2);
  CHECK(queue["conversations"][0]["id"] == id);
  CHECK(queue["conversations"][0]["needs_human"] == true);
  CHECK(a.Get("/api/staff/conversations?state=needs_human").second["conversations"].size() == 1);
  CHECK(a.Get("/api/staff/conversations?state=bot").second["conversations"].size() == 1);
  CHECK(a.Get("/api/staff/conversations?state=nonsense").first == 400);

  // Before anyone takes it, nobody may reply.
  CHECK(a.Post("/api/staff/conversations/" + id + "/reply", {{"text", "hi"}}).first == 409);

  // Two staff race for it: exactly one wins, the other is told who has it.
  std::atomic<int> won{0}, told{0};
  std::string loser_message;
  std::mutex mu;
  auto race = [&](const std::string& token) {
    httplib::Client cc("127.0.0.1", server.port());
    auto res = cc.Post(("/api/staff/conversations/" + id + "/takeover").c_str(), {{"Authorization", "Bearer " + token}},
                       "{}", "application/json");
    if (res && res->status == 200) ++won;
    if (res && res->status == 409) {
      ++told;
      std::lock_guard<std::mutex> l(mu);
      loser_message = json::parse(res->body)["message"];
    }
  };
  std::thread ta(race, ana_token), tb(race, bo_token);
  ta.join();
  tb.join();
  CHECK(won == 1);
  CHECK(told == 1);
  json view = a.Get("/api/staff/conversations/" + id).second;
  std::string holder = view["assignee"];
  CHECK(loser_message.find("is with " + holder) != std::string::npos);
  Api& has = holder == "ana" ? a : b;
  Api& other = holder == "ana" ? b : a;

  // The customer is told; the staff member sees transcript, claim and summary.
  json h = History(*c, session);
  CHECK(Transcript(h, "system", holder));
  CHECK(view["claim"]["payment_date"] == "2026-11-01");
  CHECK(view["summary"].get<std::string>().find("2026-11-01") != std::string::npos);
  CHECK(view["transcript"].size() >= 4);

  // The customer writes: the bot stays silent, staff see it unread.
  r = PostChat(*c, {{"session", session}, {"text", "are you there? the line keeps dropping"}});
  CHECK(r.body["replies"].empty());
  auto list = a.Get("/api/staff/conversations?state=handoff").second["conversations"];
  REQUIRE(list.size() == 1);
  CHECK(list[0]["unread"] == 1);
  CHECK(list[0]["needs_human"] == false);
  // Reading the conversation marks it read.
  a.Get("/api/staff/conversations/" + id);
  CHECK(a.Get("/api/staff/conversations?state=handoff").second["conversations"][0]["unread"] == 0);

  // Only the holder acts.
  CHECK(other.Post("/api/staff/conversations/" + id + "/reply", {{"text", "me too"}}).first == 409);
  CHECK(has.Post("/api/staff/conversations/" + id + "/reply", {{"text", ""}}).first == 400);
  CHECK(has.Post("/api/staff/conversations/" + id + "/reply", {{"text", "Hello, I'm looking at your line now."}}).first == 200);
  h = History(*c, session);
  CHECK(Transcript(h, "staff", "looking at your line"));

  // Staff set the activation date; a bad value is refused.
  CHECK(has.Post("/api/staff/conversations/" + id + "/slots", {{"slot", "activation_date"}, {"value", "2026-13-40"}}).first == 400);
  CHECK(has.Post("/api/staff/conversations/" + id + "/slots", {{"slot", "colour"}, {"value", "red"}}).first == 400);
  CHECK(has.Post("/api/staff/conversations/" + id + "/slots", {{"slot", "activation_date"}, {"value", "2026-11-05"}}).first == 200);

  // Hand back: the claim resumes at its next question, both dates kept.
  int before = static_cast<int>(h["messages"].back()["seq"]);
  CHECK(has.Post("/api/staff/conversations/" + id + "/handback").first == 200);
  h = History(*c, session, before);
  CHECK(h["state"] == "collecting");
  CHECK(h["pending_slot"] == "problems");
  CHECK(Transcript(h, "system", holder));
  r = PostChat(*c, {{"session", session}, {"text", "latency 400 ms every evening"}});
  CHECK(r.body["pending_slot"] == "evidence");

  // No credentials on any staff route: 401.
  httplib::Client anon("127.0.0.1", server.port());
  for (const std::string& path : std::vector<std::string>{"/api/staff/conversations", "/api/staff/conversations/" + id,
                                                         "/api/staff/tickets"}) {
    auto res = anon.Get(path.c_str());
    REQUIRE(res);
    CHECK(res->status == 401);
  }
  for (const std::string& path : std::vector<std::string>{
           "/api/staff/conversations/" + id + "/takeover", "/api/staff/conversations/" + id + "/reply",
           "/api/staff/tickets/RF-20261110-0001/status", "/api/staff/knowledge/reload"}) {
    auto res = anon.Post(path.c_str(), "{}", "application/json");
    REQUIRE(res);
    CHECK(res->status == 401);
  }
  CHECK(a.Get("/api/staff/conversations/cv_nosuch").first == 404);
}

TEST_CASE("transfer, filing by staff and ticket status changes the customer is told of", "[staff][tickets]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  std::string ana_token = Token(db, "ana"), bo_token = Token(db, "bo");
  ServerProcess server(db);
  server.Start();
  auto c = server.Client();
  Api a{*c, ana_token}, b{*c, bo_token};

  ChatReply r = PostChat(*c, {{"text", "我要退款，11月1日付款，11月5日开通，延迟400毫秒"}});
  std::string session = r.body["session"], id = r.body["conversation_id"];
  REQUIRE(a.Post("/api/staff/conversations/" + id + "/takeover").first == 200);
  CHECK(a.Post("/api/staff/conversations/" + id + "/takeover").first == 200);  // again: still hers
  CHECK(a.Post("/api/staff/conversations/" + id + "/transfer", {{"to", "nobody"}}).first == 400);
  REQUIRE(a.Post("/api/staff/conversations/" + id + "/transfer", {{"to", "bo"}}).first == 200);
  CHECK(a.Post("/api/staff/conversations/" + id + "/reply", {{"text", "still me"}}).first == 409);
  CHECK(Transcript(History(*c, session), "system", "bo"));

  // Bo files the claim as it stands.
  auto [status, filed] = b.Post("/api/staff/conversations/" + id + "/file");
  REQUIRE(status == 200);
  std::string ticket_id = filed["ticket_id"];
  CHECK(ticket_id.rfind("RF-20261110-", 0) == 0);
  json ticket = b.Get("/api/staff/tickets/" + ticket_id).second;
  CHECK(ticket["status"] == "open");
  CHECK(ticket["filed_by"] == "bo");
  CHECK(ticket["activation_date"] == "2026-11-05");
  CHECK(ticket["assessment"].contains("verdict"));
  json h = History(*c, session);
  CHECK(Transcript(h, "bot", ticket_id));
  CHECK(h["state"] == "filed");

  // Status changes follow open → in_review → approved → refunded, each told to the customer in Chinese.
  CHECK(a.Post("/api/staff/tickets/" + ticket_id + "/status", {{"status", "refunded"}}).first == 409);
  CHECK(a.Post("/api/staff/tickets/" + ticket_id + "/status", {{"status", "in_review"}}).first == 200);
  CHECK(Transcript(History(*c, session), "system", "审核中"));
  CHECK(a.Post("/api/staff/tickets/" + ticket_id + "/status", {{"status", "approved"}}).first == 200);
  auto [s2, refunded] = a.Post("/api/staff/tickets/" + ticket_id + "/status", {{"status", "refunded"}});
  CHECK(s2 == 200);
  CHECK(refunded["status"] == "refunded");
  CHECK(refunded["status_history"].size() == 3);
  CHECK(Transcript(History(*c, session), "system", "已退款"));
  CHECK(a.Post("/api/staff/tickets/RF-20000101-0001/status", {{"status", "in_review"}}).first == 404);
  CHECK(a.Post("/api/staff/tickets/" + ticket_id + "/status", {{"nope", 1}}).first == 400);

  // The ticket list filters by status; the customer's status question sees the new status.
  CHECK(a.Get("/api/staff/tickets?status=refunded").second["tickets"].size() == 1);
  CHECK(a.Get("/api/staff/tickets?status=open").second["tickets"].empty());
  r = PostChat(*c, {{"session", session}, {"text", "我的工单 " + ticket_id + " 现在什么状态？"}});
  CHECK(r.body["replies"][0]["text"].get<std::string>().find("已退款") != std::string::npos);

  // Close: another conversation ends without a ticket.
  r = PostChat(*c, {{"text", "hello"}});
  std::string other = r.body["conversation_id"];
  REQUIRE(a.Post("/api/staff/conversations/" + other + "/takeover").first == 200);
  CHECK(a.Post("/api/staff/conversations/" + other + "/close").first == 200);
  CHECK(a.Get("/api/staff/conversations/" + other).second["state"] == "cancelled");
}

TEST_CASE("evidence upload: stored with its SHA-256, on the claim, downloadable by staff; bad files refused", "[upload]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  std::string token = Token(db, "ana");
  ServerProcess server(db);
  server.Start();
  auto c = server.Client();
  Api a{*c, token};
  ChatReply r = PostChat(*c, {{"text", "I want a refund, paid 2026-11-01, activated 2026-11-05, latency 400ms"}});
  std::string session = r.body["session"], id = r.body["conversation_id"];
  CHECK(r.body["pending_slot"] == "evidence");

  auto upload = [&](const std::string& name, const std::string& bytes, const std::string& s) {
    httplib::MultipartFormDataItems items = {{"session", s, "", ""}, {"file", bytes, name, "application/octet-stream"}};
    auto res = c->Post("/api/chat/upload", items);
    REQUIRE(res);
    return std::make_pair(res->status, json::parse(res->body, nullptr, false));
  };
  const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + std::string(200, 'x');
  std::string before = Snapshot(db);
  CHECK(upload("speedtest.exe", "MZ....", session).second["error"] == "unsupported_type");
  CHECK(upload("speedtest.png", "not a png at all", session).second["error"] == "content_mismatch");
  CHECK(upload("notes.txt", std::string("a\0b", 3), session).second["error"] == "content_mismatch");
  CHECK(upload("speedtest.png", png, "no-such-session").first == 404);
  {
    // Refused from its Content-Length before the body is read; the client may not even finish sending.
    httplib::MultipartFormDataItems items = {{"session", session, "", ""},
                                             {"file", "%PDF-" + std::string(11 * 1024 * 1024, 'x'), "big.pdf", "application/pdf"}};
    auto res = c->Post("/api/chat/upload", items);
    CHECK((!res || res->status == 413));
  }
  CHECK(Snapshot(db) == before);
  CHECK((!fs::exists(dir.path / "uploads") || fs::is_empty(dir.path / "uploads")));

  auto [status, body] = upload("speedtest-singapore.png", png, session);
  REQUIRE(status == 200);
  const std::string sha = Sha256Hex(png);
  CHECK(body["attachment"]["sha256"] == sha);
  CHECK(body["pending_slot"] == "contact");  // the evidence question is answered
  CHECK(fs::file_size(dir.path / "uploads" / sha) == png.size());
  json view = a.Get("/api/staff/conversations/" + id).second;
  REQUIRE(view["claim"]["evidence"].size() == 1);
  CHECK(view["claim"]["evidence"][0]["type"] == "screenshot");  // a picture of a speed test
  CHECK(view["claim"]["evidence"][0]["attachment"]["sha256"] == sha);
  auto file = c->Get(("/api/staff/conversations/" + id + "/files/" + sha).c_str(), {{"Authorization", "Bearer " + token}});
  REQUIRE(file);
  CHECK(file->status == 200);
  CHECK(file->body == png);
  CHECK(file->get_header_value("Content-Disposition").rfind("attachment", 0) == 0);
  CHECK(c->Get(("/api/staff/conversations/" + id + "/files/" + sha).c_str())->status == 401);
  CHECK(Transcript(History(*c, session), "customer", "speedtest-singapore.png"));

  // Filed, the ticket carries the file's hash.
  r = PostChat(*c, {{"session", session}, {"text", "order 778899"}});
  r = PostChat(*c, {{"session", session}, {"text", "yes"}});
  REQUIRE(r.body.contains("ticket"));
  CHECK(r.body["ticket"]["evidence"][0]["attachment"]["sha256"] == sha);
}

}  // namespace rd::test
