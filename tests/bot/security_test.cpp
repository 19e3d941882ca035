// Security limits of README.md end to end, on the real binary over loopback: message length, the size
// of a conversation and its history pages, first-message dedupe scoped to its sender, rate limits per
// client (429 + Retry-After, counted in /metrics), one staff notice per waiting conversation, and no
// exception text in any answer.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "bot/channels/slack.h"
#include "tests/bot/server_process.h"

namespace rd::test {

namespace {

int64_t CountRows(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  const int64_t n = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(h);
  return n;
}

// A config file with `options` (a JSON object) in `dir`; the flags for ServerProcess.
std::vector<std::string> WithConfig(const TempDir& dir, const json& options) {
  const std::string path = dir.File("refundbot.json");
  std::ofstream(path) << options.dump();
  return {"--config", path};
}

std::string StaffToken(const std::string& db) {
  TempDir tmp;
  std::ofstream(tmp.File("pw")) << "long enough password\n";
  REQUIRE(RunCommand(std::string(RD_REFUNDBOT) + " staff add ana --password-stdin --db " + db + " < " + tmp.File("pw") +
                     " 2>/dev/null").code == 0);
  std::string token = RunCommand(std::string(RD_REFUNDBOT) + " staff token ana --db " + db).out;
  while (!token.empty() && token.back() == '\n') token.pop_back();
  return token;
}

ChatReply PostFrom(httplib::Client& c, const std::string& address, const json& body) {
  auto r = c.Post("/api/chat", {{"X-Forwarded-For", address}}, body.dump(), "application/json");
  REQUIRE(r);
  return {r->status, json::parse(r->body, nullptr, false)};
}

std::string Repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

double MillisSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

int64_t MetricValue(httplib::Client& c, const std::string& series) {
  auto r = c.Get("/metrics");
  REQUIRE(r);
  const size_t at = r->body.find(series + " ");
  REQUIRE(at != std::string::npos);
  return std::stoll(r->body.substr(at + series.size() + 1));
}

size_t Occurrences(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

// Writes `requests` on one connection at once and reads until `answers` status lines came (or 20 s).
std::string Pipeline(int port, const std::string& requests, size_t answers) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  for (size_t sent = 0; sent < requests.size();) {
    const ssize_t n = ::send(fd, requests.data() + sent, requests.size() - sent, MSG_NOSIGNAL);
    REQUIRE(n > 0);
    sent += static_cast<size_t>(n);
  }
  std::string in;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (Occurrences(in, "HTTP/1.1 ") < answers && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    char buf[65536];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return in;
}

}  // namespace

TEST_CASE("a 60 KB message of dates is refused at once with 413; nothing is stored; a normal message works",
          "[limits][http]") {
  TempDir dir;
  const std::string db = dir.File("rd.sqlite3");
  ServerProcess server(db);
  server.Start();
  auto c = server.Client();
  ChatReply first = PostChat(*c, {{"text", "I paid on 2026-11-01"}});
  REQUIRE(first.status == 200);
  const std::string session = first.body["session"];
  const std::string before = Snapshot(db);

  // 60,000 bytes (30,000 characters): larger than any message of 4,000 characters can be, refused before
  // its body is read; 4,001 characters (16 KB): parsed, and refused before any understanding.
  const std::string dates = Repeat("5号", 15000), just_over = Repeat("5号", 2000) + "5";
  for (const auto& [text, code] : std::vector<std::pair<std::string, std::string>>{
           {dates, "body_too_large"}, {just_over, "message_too_long"}}) {
    for (const json& body : {json{{"text", text}}, json{{"text", text}, {"session", session}}}) {
      const auto t = std::chrono::steady_clock::now();
      ChatReply r = PostChat(*c, body);
      const double ms = MillisSince(t);
      INFO(r.body.dump());
      CHECK(r.status == 413);
      CHECK(r.body["error"] == code);
      CHECK(ms < 50);
    }
  }
  CHECK(Snapshot(db) == before);
  // Just at the limit is still a message.
  ChatReply at_limit = PostChat(*c, {{"text", Repeat("延", 4000)}, {"session", session}});
  CHECK(at_limit.status == 200);
  ChatReply normal = PostChat(*c, {{"text", "activated on 2026-11-05"}, {"session", session}});
  CHECK(normal.status == 200);
  CHECK(normal.body["replies"].size() >= 1);
  CHECK(MetricValue(*c, "refundbot_limited_total{limit=\"message_chars\"}") == 2);
}

TEST_CASE("a full conversation takes no more messages (429) but staff still see it; history and the staff view come in pages",
          "[limits][http]") {
  TempDir dir;
  const std::string db = dir.File("rd.sqlite3");
  ServerProcess server(db, WithConfig(dir, {{"max_conversation_messages", 60}, {"max_conversation_bytes", 65536},
                                            {"history_page_messages", 25}}));
  server.Start();
  auto c = server.Client();
  ChatReply first = PostChat(*c, {{"text", "human"}, {"lang", "en"}});  // handoff: the engine stays silent from here
  REQUIRE(first.status == 200);
  const std::string session = first.body["session"], id = first.body["conversation_id"];
  int accepted = 1, refused = 0;
  for (int i = 0; i < 80 && refused == 0; ++i) {
    ChatReply r = PostChat(*c, {{"text", "message " + std::to_string(i)}, {"session", session}});
    if (r.status == 200) ++accepted;
    else {
      CHECK(r.status == 429);
      CHECK(r.body["error"] == "conversation_full");
      ++refused;
    }
  }
  REQUIRE(refused == 1);
  const int64_t stored = CountRows(db, "SELECT max(seq) FROM messages");
  CHECK(stored <= 60);
  const std::string full = Snapshot(db);
  CHECK(PostChat(*c, {{"text", "one more"}, {"session", session}}).status == 429);
  CHECK(Snapshot(db) == full);  // nothing of a refused message is stored

  // History: pages of 25, oldest first after `after`, and backwards with `before`.
  auto page = [&](const std::string& query) {
    auto r = c->Get(("/api/chat/history?session=" + session + query).c_str());
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return json::parse(r->body);
  };
  json p1 = page("&after=0");
  CHECK(p1["messages"].size() == 25);
  CHECK(p1["messages"][0]["seq"] == 1);
  CHECK(p1["has_more"] == true);
  int64_t seen = 0;
  for (json p = p1;; p = page("&after=" + std::to_string(seen))) {
    seen = p["messages"].back()["seq"];
    if (!p["has_more"]) break;
  }
  CHECK(seen == stored);
  json newest = page("&before=" + std::to_string(stored + 1) + "&limit=10");
  CHECK(newest["messages"].size() == 10);
  CHECK(newest["messages"].back()["seq"] == stored);
  CHECK(newest["older_before"] == stored - 9);
  CHECK(c->Get(("/api/chat/history?session=" + session + "&limit=5000").c_str())->status == 400);

  // Staff: the newest page and a cursor to the older ones.
  const std::string token = StaffToken(db);
  const httplib::Headers auth = {{"Authorization", "Bearer " + token}};
  auto view = c->Get(("/api/staff/conversations/" + id).c_str(), auth);
  REQUIRE(view);
  REQUIRE(view->status == 200);
  json v = json::parse(view->body);
  CHECK(v["transcript"].size() == 25);
  CHECK(v["transcript"].back()["seq"] == stored);
  REQUIRE(v["older_before"].is_number());
  auto older = c->Get(("/api/staff/conversations/" + id + "?before=" + std::to_string(v["older_before"].get<int64_t>())).c_str(), auth);
  REQUIRE(older);
  json o = json::parse(older->body);
  CHECK(o["transcript"].back()["seq"] == v["older_before"].get<int64_t>() - 1);
  // Staff can still act on it: take it over and reply.
  auto take = c->Post(("/api/staff/conversations/" + id + "/takeover").c_str(), auth, "", "application/json");
  CHECK(take->status == 200);
}

TEST_CASE("a conversation's bytes are bounded too", "[limits][http]") {
  TempDir dir;
  const std::string db = dir.File("rd.sqlite3");
  ServerProcess server(db, WithConfig(dir, {{"max_conversation_bytes", 65536}}));
  server.Start();
  auto c = server.Client();
  ChatReply first = PostChat(*c, {{"text", "human"}, {"lang", "en"}});
  const std::string session = first.body["session"];
  const std::string big = Repeat("延迟很高", 1000);  // 12,000 bytes, 4,000 characters
  int accepted = 0, refused = 0;
  for (int i = 0; i < 10; ++i) {
    ChatReply r = PostChat(*c, {{"text", big}, {"session", session}});
    if (r.status == 200) ++accepted;
    else if (r.status == 429 && r.body["error"] == "conversation_full") ++refused;
  }
  CHECK(accepted == 5);  // 5 × 12,000 fit in 64 KiB, a sixth would not
  CHECK(refused == 5);
  CHECK(CountRows(db, "SELECT count(*) FROM messages WHERE author = 'customer'") == 6);
}

TEST_CASE("a resent first message returns its session to its sender only, never to another client", "[limits][http][dedupe]") {
  TempDir dir;
  const std::string db = dir.File("rd.sqlite3");
  ServerProcess server(db, WithConfig(dir, {{"trusted_proxy", "127.0.0.1"}}));
  server.Start();
  auto c = server.Client();
  const json message = {{"text", "I paid on 2026-11-01, please refund"}, {"client_message_id", "msg-2026-12-04-000001"}};
  ChatReply victim = PostFrom(*c, "198.51.100.7", message);
  REQUIRE(victim.status == 200);
  const std::string session = victim.body["session"];

  // A legitimate retry: same id, same text, same client: the same answer, one conversation.
  ChatReply retry = PostFrom(*c, "198.51.100.7", message);
  CHECK(retry.status == 200);
  CHECK(retry.body["session"] == session);
  CHECK(retry.body["conversation_id"] == victim.body["conversation_id"]);
  CHECK(CountRows(db, "SELECT count(*) FROM conversations") == 1);

  // Someone else who knows (or guesses) the id: with the same text, or any other, a conversation of their own.
  for (const auto& [address, text] : std::vector<std::pair<std::string, std::string>>{
           {"203.0.113.9", message["text"]}, {"203.0.113.9", "hello"}, {"198.51.100.7", "hello"}}) {
    json attack = message;
    attack["text"] = text;
    ChatReply r = PostFrom(*c, address, attack);
    INFO(address << " " << text);
    CHECK(r.status == 200);
    CHECK(r.body["session"] != session);
    CHECK(r.body["conversation_id"] != victim.body["conversation_id"]);
    auto history = c->Get(("/api/chat/history?session=" + r.body["session"].get<std::string>()).c_str());
    REQUIRE(history);
    CHECK(json::parse(history->body)["conversation_id"] != victim.body["conversation_id"]);
  }
  CHECK(CountRows(db, "SELECT count(*) FROM conversations") == 4);
}

TEST_CASE("floods are rate limited per client: new conversations, messages, uploads (429 + Retry-After, in /metrics)",
          "[limits][http][rate]") {
  TempDir dir;
  const std::string db = dir.File("rd.sqlite3");
  ServerProcess server(db, WithConfig(dir, {{"trusted_proxy", "127.0.0.1"},
                                            {"max_upload_bytes", 4096},
                                            {"max_upload_bytes_per_day", 5000},
                                            {"max_uploads_per_conversation", 3},
                                            {"rate_limits", {{"new_conversations", {{"per_minute", 1}, {"burst", 5}}},
                                                             {"messages", {{"per_minute", 1}, {"burst", 8}}},
                                                             {"uploads", {{"per_minute", 1}, {"burst", 4}}}}}}));
  server.Start();
  auto c = server.Client();
  std::vector<std::string> sessions;
  int refused = 0;
  for (int i = 0; i < 7; ++i) {
    auto r = c->Post("/api/chat", {{"X-Forwarded-For", "192.0.2.1"}}, json{{"text", "hello"}}.dump(), "application/json");
    REQUIRE(r);
    if (r->status == 200) {
      sessions.push_back(json::parse(r->body)["session"]);
      continue;
    }
    CHECK(r->status == 429);
    CHECK(json::parse(r->body)["error"] == "rate_limited");
    CHECK(std::stoi(r->get_header_value("Retry-After")) >= 1);
    ++refused;
  }
  CHECK(sessions.size() == 5);
  CHECK(refused == 2);
  CHECK(CountRows(db, "SELECT count(*) FROM conversations") == 5);
  // Another client is not held back by the first one's flood.
  CHECK(PostFrom(*c, "192.0.2.2", {{"text", "hello"}}).status == 200);
  // Messages: 8 in the burst for the address, 7 of them taken by the attempts above.
  CHECK(PostFrom(*c, "192.0.2.1", {{"text", "paid on 2026-11-01"}, {"session", sessions[0]}}).status == 200);
  ChatReply limited = PostFrom(*c, "192.0.2.1", {{"text", "paid on 2026-11-01"}, {"session", sessions[0]}});
  CHECK(limited.status == 429);
  CHECK(MetricValue(*c, "refundbot_limited_total{limit=\"new_conversations\"}") == 2);
  CHECK(MetricValue(*c, "refundbot_limited_total{limit=\"messages\"}") == 1);

  // Uploads: per conversation at most 3 files and 5,000 bytes a day; per client 4 in a burst.
  auto upload = [&](const std::string& session, const std::string& name, size_t size) {
    httplib::MultipartFormDataItems items = {{"session", session, "", ""},
                                             {"file", "%PDF-" + std::string(size - 5, static_cast<char>('a' + name[0] % 26)), name,
                                              "application/pdf"}};
    auto r = c->Post("/api/chat/upload", {{"X-Forwarded-For", "192.0.2.3"}}, items);
    REQUIRE(r);
    return std::make_pair(r->status, json::parse(r->body, nullptr, false));
  };
  CHECK(upload(sessions[1], "a.pdf", 2000).first == 200);
  CHECK(upload(sessions[1], "b.pdf", 2000).first == 200);
  auto over_day = upload(sessions[1], "c.pdf", 2000);  // 6,000 bytes today
  CHECK(over_day.first == 429);
  CHECK(over_day.second["error"] == "upload_limit");
  CHECK(CountRows(db, "SELECT count(*) FROM attachments") == 2);
  auto flood = upload(sessions[2], "d.pdf", 100);  // the client's fourth upload: still in its burst
  CHECK(flood.first == 200);
  auto fifth = upload(sessions[2], "e.pdf", 100);
  CHECK(fifth.first == 429);
  CHECK(fifth.second["error"] == "rate_limited");
  CHECK(CountRows(db, "SELECT count(*) FROM attachments") == 3);
  CHECK(MetricValue(*c, "refundbot_limited_total{limit=\"uploads\"}") == 1);
  CHECK(MetricValue(*c, "refundbot_limited_total{limit=\"upload_quota\"}") == 1);
}

TEST_CASE("a conversation waiting for a person is announced to staff once, however often the customer asks",
          "[limits][http][notices]") {
  TempDir dir;
  const std::string db = dir.File("rd.sqlite3");
  // Notices go to a WeCom group robot (nothing listens there: they stay queued, which is what is counted).
  setenv("WECOM_ROBOT_WEBHOOK", "http://127.0.0.1:9/cgi-bin/webhook/send?key=k", 1);
  ServerProcess server(db, WithConfig(dir, {{"refusal_delay_ms", 0}}));  // the tarpit is tested below
  server.Start();
  unsetenv("WECOM_ROBOT_WEBHOOK");
  auto c = server.Client();
  ChatReply first = PostChat(*c, {{"text", "human"}, {"lang", "en"}});
  REQUIRE(first.status == 200);
  for (int i = 0; i < 30; ++i) {
    CHECK(PostChat(*c, {{"text", i % 2 ? "human" : "转人工"}, {"session", first.body["session"]}}).status == 200);
  }
  CHECK(CountRows(db, "SELECT count(*) FROM outbox WHERE kind = 'wecom_robot'") == 1);
  // A second conversation asking is a second notice.
  CHECK(PostChat(*c, {{"text", "human"}}).status == 200);
  CHECK(CountRows(db, "SELECT count(*) FROM outbox WHERE kind = 'wecom_robot'") == 2);

  // 300 first messages asking for a person, pipelined on one connection: the client's new-conversation
  // bucket (default burst 20, two taken above) lets 18 open, the rest are refused — 18 more notices, not 300.
  std::string pipelined;
  const std::string body = json{{"text", "human"}}.dump();
  for (int i = 0; i < 300; ++i) {
    pipelined += "POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  const std::string answers = Pipeline(server.port(), pipelined, 300);
  CHECK(Occurrences(answers, "HTTP/1.1 429") == 282);
  CHECK(CountRows(db, "SELECT count(*) FROM conversations") == 20);
  CHECK(CountRows(db, "SELECT count(*) FROM outbox WHERE kind = 'wecom_robot'") == 20);
}

TEST_CASE("a client refused again and again gets its refusals late (a tarpit); others are answered at once",
          "[limits][http][rate]") {
  TempDir dir;
  ServerProcess server(dir.File("rd.sqlite3"), WithConfig(dir, {{"refusal_delay_ms", 400},
                                                                {"rate_limits", {{"refusals", {{"per_minute", 1}, {"burst", 3}}}}}}));
  server.Start();
  auto flood = server.Client();
  auto other = server.Client();
  const json too_long = {{"text", Repeat("5号", 2001)}};
  std::vector<double> ms;
  for (int i = 0; i < 6; ++i) {
    const auto t = std::chrono::steady_clock::now();
    CHECK(PostChat(*flood, too_long).status == 413);
    ms.push_back(MillisSince(t));
  }
  for (int i = 0; i < 3; ++i) CHECK(ms[i] < 200);   // within the bucket: at once
  for (int i = 3; i < 6; ++i) CHECK(ms[i] >= 390);  // past it: held
  // A body too large to read is held too (and the connection closed after it); meanwhile nobody else
  // waits: a held answer costs the loop nothing.
  const auto t = std::chrono::steady_clock::now();
  int held_status = 0;
  double held_ms = 0;
  std::thread held([&] {
    held_status = PostChat(*flood, {{"text", Repeat("5号", 15000)}}).status;
    held_ms = MillisSince(t);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto h = std::chrono::steady_clock::now();
  CHECK(other->Get("/healthz")->status == 200);
  CHECK(MillisSince(h) < 200);
  CHECK(PostChat(*other, {{"text", "hello"}}).status == 200);
  held.join();
  CHECK(held_status == 413);
  CHECK(held_ms >= 390);
  CHECK(MetricValue(*other, "refundbot_limited_total{limit=\"refusals_held\"}") == 4);
}

TEST_CASE("a route that throws answers 500 without the exception's text", "[limits][http][errors]") {
  TempDir dir;
  const std::string db = dir.File("rd.sqlite3");
  const std::string log = dir.File("bot.log");
  const char* secret = "test-signing-secret-0123456789";
  setenv("SLACK_SIGNING_SECRET", secret, 1);
  setenv("SLACK_BOT_TOKEN", "xoxb-test", 1);
  setenv("SLACK_API_BASE", "http://127.0.0.1:9/api", 1);
  ServerProcess server(db, {}, log);
  server.Start();
  for (const char* v : {"SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "SLACK_API_BASE"}) unsetenv(v);
  auto c = server.Client();
  const std::string body = "payload=" + httplib::detail::encode_query_param(json{{"type", 5}}.dump());
  const std::string ts = std::to_string(std::time(nullptr));
  auto r = c->Post("/slack/interactivity", {{"X-Slack-Request-Timestamp", ts}, {"X-Slack-Signature", SlackSignature(secret, ts, body)}},
                   body, "application/x-www-form-urlencoded");
  REQUIRE(r);
  CHECK(r->status == 500);
  CHECK(!r->has_header("EXCEPTION_WHAT"));
  std::string all = r->body;
  for (const auto& [name, value] : r->headers) all += name + ": " + value + "\n";
  INFO(all);
  CHECK(all.find("type_error") == std::string::npos);
  CHECK(all.find("type must be") == std::string::npos);
  CHECK(json::parse(r->body)["error"] == "internal_error");
  // Logged instead.
  std::string logged;
  for (int i = 0; i < 50 && logged.find("route_exception") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::ifstream in(log);
    logged.assign(std::istreambuf_iterator<char>(in), {});
  }
  CHECK(logged.find("route_exception") != std::string::npos);
  CHECK(logged.find(secret) == std::string::npos);
}

}  // namespace rd::test
