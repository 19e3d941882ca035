// The web chat API over real HTTP on loopback, against the real binary and a real SQLite file.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <thread>

#include "tests/bot/server_process.h"

namespace rd::test {

namespace {

struct Walk {
  std::string session;
  std::vector<json> responses;
};

// Sends each text in turn on one session, checking the state and pending slot the bot reports.
Walk Converse(httplib::Client& c, const std::vector<std::pair<std::string, std::string>>& turns,
              const std::string& lang = "") {
  Walk w;
  for (const auto& [text, expect_pending] : turns) {
    json body = {{"text", text}};
    if (!w.session.empty()) body["session"] = w.session;
    if (!lang.empty()) body["lang"] = lang;
    ChatReply r = PostChat(c, body);
    INFO(text << " -> " << r.body.dump());
    REQUIRE(r.status == 200);
    REQUIRE(r.body["replies"].is_array());
    REQUIRE(!r.body["replies"].empty());
    CHECK(r.body["session"].is_string());
    CHECK(r.body["conversation_id"].is_string());
    if (expect_pending == "null") CHECK(r.body["pending_slot"].is_null());
    else CHECK(r.body["pending_slot"] == expect_pending);
    if (w.session.empty()) w.session = r.body["session"];
    CHECK(r.body["session"] == w.session);
    w.responses.push_back(r.body);
  }
  return w;
}

std::string RunCli(const std::string& args) { return RunCommand(std::string(RD_REFUNDBOT) + " " + args).out; }

}  // namespace

TEST_CASE("an English claim from first message to filed ticket over HTTP", "[http]") {
  TempDir dir;
  ServerProcess server(dir.File("rd.sqlite3"));
  server.Start();
  auto c = server.Client();
  Walk w = Converse(*c, {{"Hi, I want a refund for our overseas live line", "payment_date"},
                         {"I paid on 2026-11-01 and it was activated on 2026-11-05", "problems"},
                         {"Singapore viewers can't connect at all, and latency elsewhere is 320ms", "evidence"},
                         {"I have the contract, the invoice and chat records", "contact"},
                         {"you can reach me at ops@streamco.example or order LL-2026-771", "confirmation"},
                         {"yes", "null"}});
  const json& last = w.responses.back();
  // The pending slot's kind, for the widget's date picker; none once filed.
  CHECK(w.responses[0]["pending_kind"] == "date");
  CHECK(w.responses[1]["pending_kind"] == "problems");
  CHECK(last["pending_kind"].is_null());
  CHECK(last["state"] == "filed");
  REQUIRE(last.contains("ticket"));
  const json& t = last["ticket"];
  CHECK(std::regex_match(t["id"].get<std::string>(), std::regex("RF-20261110-\\d{4}")));
  CHECK(t["conversation_id"] == last["conversation_id"]);
  CHECK(t["channel"] == "web");
  CHECK(t["created_at"] == "2026-11-10T02:00:00Z");
  CHECK(t["status"] == "open");
  CHECK(t["payment_date"] == "2026-11-01");
  CHECK(t["activation_date"] == "2026-11-05");
  REQUIRE(t["problems"].size() == 2);
  std::map<std::string, json> problems;
  for (const auto& p : t["problems"]) problems[p["category"]] = p;
  CHECK(problems["region_unreachable"]["metrics"]["region"] == "Singapore");
  CHECK(problems["latency"]["metrics"]["latency_ms"] == 320);
  CHECK(problems["latency"]["description"] == "Singapore viewers can't connect at all, and latency elsewhere is 320ms");
  std::set<std::string> evidence;
  for (const auto& e : t["evidence"]) evidence.insert(e["type"]);
  CHECK(evidence == std::set<std::string>{"contract", "payment_receipt", "communication_records"});
  CHECK(t["contact"]["email"] == "ops@streamco.example");
  CHECK(t["contact"]["order"] == "LL-2026-771");  // stored with its kind
  CHECK(t["contact"]["channel"] == "web");
  const json& a = t["assessment"];
  CHECK(a["window_start_basis"] == "activation");
  CHECK(a["window_end"] == "2026-11-12");
  CHECK(a["within_window"] == true);
  CHECK(a["verdict"] == "likely_eligible");
  CHECK(a["evidence_missing"] == json::array({"test_report"}));
  // The reply names the ticket; the CLI reads the same ticket from the database.
  CHECK(last["replies"][0]["text"].get<std::string>().find(t["id"].get<std::string>()) != std::string::npos);
  json shown = json::parse(RunCli("tickets show " + t["id"].get<std::string>() + " --json --db " + dir.File("rd.sqlite3")));
  CHECK(shown == t);
}

TEST_CASE("a Chinese claim from first message to filed ticket over HTTP", "[http]") {
  TempDir dir;
  ServerProcess server(dir.File("rd.sqlite3"));
  server.Start();
  auto c = server.Client();
  Walk w = Converse(*c, {{"你好，我们的海外直播专线有问题，想申请退款", "payment_date"},
                         {"2026年11月3日付的款", "activation_date"},
                         {"2026年11月4日开通的", "problems"},
                         {"东南亚那边一直卡，延迟400毫秒，丢包8%，可用性只有97%", "evidence"},
                         {"有付款凭证和测试报告", "contact"},
                         {"订单号 ZB-99812", "confirmation"},
                         {"确认", "null"}});
  const json& last = w.responses.back();
  REQUIRE(last.contains("ticket"));
  const json& t = last["ticket"];
  CHECK(t["payment_date"] == "2026-11-03");
  CHECK(t["activation_date"] == "2026-11-04");
  CHECK(t["lang"] == "zh");
  std::map<std::string, json> problems;
  for (const auto& p : t["problems"]) problems[p["category"]] = p["metrics"];
  CHECK(problems["latency"]["latency_ms"] == 400);
  CHECK(problems["latency"]["region"] == "东南亚");  // as the customer wrote it
  CHECK(problems["packet_loss"]["packet_loss_pct"] == 8);
  CHECK(problems["availability"]["availability_pct"] == 97);
  std::set<std::string> evidence;
  for (const auto& e : t["evidence"]) evidence.insert(e["type"]);
  CHECK(evidence == std::set<std::string>{"payment_receipt", "test_report"});
  CHECK(t["contact"]["order"] == "ZB-99812");
  CHECK(t["assessment"]["window_end"] == "2026-11-11");
  CHECK(t["assessment"]["verdict"] == "likely_eligible");
  std::string reply = last["replies"][0]["text"];
  CHECK(reply.find("工单号") != std::string::npos);  // answered in Chinese
}

TEST_CASE("after a cancel, a new refund request starts a fresh claim in the same conversation", "[http]") {
  TempDir dir;
  ServerProcess server(dir.File("rd.sqlite3"));
  server.Start();
  auto c = server.Client();
  Walk w = Converse(*c, {{"I want a refund", "payment_date"},
                         {"I paid on 2026-11-01", "activation_date"}});
  json cancel = PostChat(*c, {{"session", w.session}, {"text", "cancel"}}).body;
  CHECK(cancel["state"] == "cancelled");
  json again = PostChat(*c, {{"session", w.session}, {"text", "I want a refund again"}}).body;
  CHECK(again["state"] == "collecting");
  CHECK(again["pending_slot"] == "payment_date");  // nothing of the cancelled claim carried over
  CHECK(again["pending_kind"] == "date");
  CHECK(again["conversation_id"] == w.responses[0]["conversation_id"]);
}

TEST_CASE("history returns the transcript since message N", "[http]") {
  TempDir dir;
  ServerProcess server(dir.File("rd.sqlite3"));
  server.Start();
  auto c = server.Client();
  Walk w = Converse(*c, {{"hello", "payment_date"}, {"paid 2026-11-01, activated 2026-11-02", "problems"}});
  auto r = c->Get(("/api/chat/history?session=" + w.session).c_str());
  REQUIRE(r);
  REQUIRE(r->status == 200);
  json h = json::parse(r->body);
  CHECK(h["state"] == "collecting");
  CHECK(h["pending_slot"] == "problems");
  REQUIRE(h["messages"].size() == 6);  // customer, 2 bot; customer, 2 bot
  CHECK(h["messages"][0]["author"] == "customer");
  CHECK(h["messages"][0]["text"] == "hello");
  CHECK(h["messages"][0]["seq"] == 1);
  CHECK(h["messages"][1]["author"] == "bot");
  CHECK(h["messages"][5]["quick_replies"].size() == 6);
  CHECK(h["messages"][0]["at"] == "2026-11-10T02:00:00Z");
  r = c->Get(("/api/chat/history?session=" + w.session + "&after=4").c_str());
  REQUIRE(r);
  json tail = json::parse(r->body);
  REQUIRE(tail["messages"].size() == 2);
  CHECK(tail["messages"][0]["seq"] == 5);
  r = c->Get("/api/chat/history?session=nosuchsession");
  CHECK(r->status == 404);
  CHECK(json::parse(r->body)["error"] == "unknown_session");
  r = c->Get("/api/chat/history");
  CHECK(r->status == 400);
  r = c->Get(("/api/chat/history?session=" + w.session + "&after=-1").c_str());
  CHECK(r->status == 400);
  r = c->Get("/healthz");
  CHECK(r->status == 200);
}

TEST_CASE("bad input gets a clear error and changes nothing", "[http]") {
  TempDir dir;
  ServerProcess server(dir.File("rd.sqlite3"));
  server.Start();
  auto c = server.Client();
  Walk w = Converse(*c, {{"hello", "payment_date"}});
  std::string before = Snapshot(dir.File("rd.sqlite3"));

  struct Case { std::string name, body; int status; std::string error; };
  std::vector<Case> cases = {
      {"malformed JSON", "{\"text\": \"hi\"", 400, "malformed_json"},
      {"not an object", "[\"hi\"]", 400, "malformed_json"},
      {"missing text", "{\"session\": \"" + w.session + "\"}", 400, "missing_text"},
      {"text not a string", "{\"text\": 42}", 400, "missing_text"},
      {"text an object", "{\"text\": {\"text\": \"hi\"}}", 400, "missing_text"},
      {"text given twice, the last not a string", "{\"text\": \"hi\", \"text\": [\"hi\"]}", 400, "missing_text"},
      {"trailing garbage", "{\"text\": \"hi\"} x", 400, "malformed_json"},
      {"client_message_id not a string", "{\"text\": \"hi\", \"client_message_id\": 5}", 400, "bad_client_message_id"},
      {"empty text", "{\"text\": \"\", \"session\": \"" + w.session + "\"}", 400, "empty_text"},
      {"blank text", "{\"text\": \"  \\n \", \"session\": \"" + w.session + "\"}", 400, "empty_text"},
      {"invalid UTF-8", "{\"text\": \"caf\xc3\x28 \xff\", \"session\": \"" + w.session + "\"}", 400, "invalid_utf8"},
      {"lone surrogate escape", "{\"text\": \"\\ud800\", \"session\": \"" + w.session + "\"}", 400, "malformed_json"},
      {"unknown session", "{\"text\": \"I paid on 2026-11-01\", \"session\": \"forged-session\"}", 404, "unknown_session"},
      {"session not a string", "{\"text\": \"hi\", \"session\": 7}", 400, "bad_session"},
      {"bad lang", "{\"text\": \"hi\", \"lang\": \"fr\"}", 400, "bad_lang"},
      {"body over 64 KiB", "{\"text\": \"" + std::string(70 * 1024, 'a') + "\"}", 413, "body_too_large"},
  };
  for (const auto& k : cases) {
    INFO(k.name);
    ChatReply r = PostRaw(*c, k.body);
    CHECK(r.status == k.status);
    REQUIRE(r.body.is_object());
    CHECK(r.body["error"] == k.error);
    CHECK(r.body["message"].is_string());
  }
  CHECK(Snapshot(dir.File("rd.sqlite3")) == before);
  // The conversation goes on as if nothing happened; members it does not know are skipped, even when
  // they hold one named like its own.
  ChatReply ok = PostRaw(*c, "{\"extra\": {\"text\": 5, \"session\": [1]}, \"session\": \"" + w.session +
                                  "\", \"text\": \"2026-11-01\", \"lang\": null}");
  CHECK(ok.status == 200);
  CHECK(ok.body["pending_slot"] == "activation_date");
}

TEST_CASE("a resent client_message_id gives one turn and one answer, also concurrently", "[http]") {
  TempDir dir;
  ServerProcess server(dir.File("rd.sqlite3"));
  server.Start();
  auto c = server.Client();
  Walk w = Converse(*c, {{"hello", "payment_date"}});
  json body = {{"session", w.session}, {"text", "I paid on 2026-11-01"}, {"client_message_id", "m-1"}};
  ChatReply first = PostChat(*c, body);
  REQUIRE(first.status == 200);
  std::string after_first = Snapshot(dir.File("rd.sqlite3"));
  ChatReply again = PostChat(*c, body);
  CHECK(again.status == 200);
  CHECK(again.body == first.body);
  CHECK(Snapshot(dir.File("rd.sqlite3")) == after_first);

  // Eight clients send the same new message at once.
  json burst = {{"session", w.session}, {"text", "activated on 2026-11-04"}, {"client_message_id", "m-2"}};
  std::vector<json> answers(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      httplib::Client own("127.0.0.1", server.port());
      auto r = own.Post("/api/chat", burst.dump(), "application/json");
      if (r && r->status == 200) answers[i] = json::parse(r->body);
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& a : answers) CHECK(a == answers[0]);
  CHECK(answers[0]["pending_slot"] == "problems");
  auto h = json::parse(c->Get(("/api/chat/history?session=" + w.session).c_str())->body);
  int customer_turns = 0;
  for (const auto& m : h["messages"]) customer_turns += m["author"] == "customer";
  CHECK(customer_turns == 3);  // hello, the payment date, the activation date — each once

  // A first message (no session yet) resent with the same long id starts one conversation, not two.
  json opening = {{"text", "hello there"}, {"client_message_id", "0f8a2c5e-4b1d-4c8e-9a7f-2d6b3e1c9f00"}};
  ChatReply o1 = PostChat(*c, opening);
  ChatReply o2 = PostChat(*c, opening);
  CHECK(o1.body == o2.body);
  CHECK(o1.body["session"].is_string());
}

TEST_CASE("SIGKILL in the middle of a conversation loses nothing and duplicates nothing", "[http]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  std::string session;
  {
    ServerProcess server(db);
    server.Start();
    auto c = server.Client();
    Walk w = Converse(*c, {{"hello", "payment_date"},
                           {"paid on 2026-11-01 and activated on 2026-11-05", "problems"},
                           {"packet loss 6% every evening", "evidence"}});
    session = w.session;
    server.Kill(SIGKILL);
  }
  ServerProcess restarted(db);
  restarted.Start();
  auto c = restarted.Client();
  // The state survived: the bot still asks for evidence, with the earlier answers kept.
  ChatReply r = PostChat(*c, {{"session", session}, {"text", "screenshots and a test report"}, {"client_message_id", "k1"}});
  REQUIRE(r.status == 200);
  CHECK(r.body["pending_slot"] == "contact");
  r = PostChat(*c, {{"session", session}, {"text", "ops@example.org"}});
  CHECK(r.body["pending_slot"] == "confirmation");
  std::string summary = r.body["replies"].back()["text"];
  CHECK(summary.find("2026-11-01") != std::string::npos);
  CHECK(summary.find("6%") != std::string::npos);
  r = PostChat(*c, {{"session", session}, {"text", "yes"}});
  REQUIRE(r.body.contains("ticket"));
  std::string ticket_id = r.body["ticket"]["id"];
  restarted.Kill(SIGKILL);

  ServerProcess again(db);
  again.Start();
  auto c2 = again.Client();
  // A retry of a message acknowledged before the crash is answered from the store, not run again.
  ChatReply retry = PostChat(*c2, {{"session", session}, {"text", "screenshots and a test report"}, {"client_message_id", "k1"}});
  CHECK(retry.body["pending_slot"] == "contact");
  CHECK(retry.body["pending_kind"] == "contact");
  json h = json::parse(c2->Get(("/api/chat/history?session=" + session).c_str())->body);
  CHECK(h["state"] == "filed");
  int64_t expected_seq = 1;
  int customer = 0;
  for (const auto& m : h["messages"]) {
    CHECK(m["seq"] == expected_seq++);  // contiguous: nothing lost, nothing doubled
    customer += m["author"] == "customer";
  }
  CHECK(customer == 6);
  json tickets = json::parse(RunCli("tickets list --json --db " + db));
  REQUIRE(tickets.size() == 1);
  CHECK(tickets[0]["id"] == ticket_id);
}

TEST_CASE("SIGHUP reloads the knowledge; a broken set is refused and the old one kept", "[http]") {
  TempDir dir;
  fs::path knowledge = dir.path / "knowledge";
  fs::copy(RD_KNOWLEDGE_DIR, knowledge, fs::copy_options::recursive);
  // Each probe below opens a conversation, up to 100 from this one address: past the default
  // new-conversation and message buckets (README.md "Security limits").
  std::ofstream(dir.File("config.json"))
      << R"({"rate_limits": {"new_conversations": {"per_minute": 0}, "messages": {"per_minute": 0}}})";
  ServerProcess server(dir.File("rd.sqlite3"), {"--knowledge", knowledge.string(), "--config", dir.File("config.json")});
  server.Start();
  auto c = server.Client();
  auto greeting = [&] {
    ChatReply r = PostChat(*c, {{"text", "hello there, I need help"}});
    REQUIRE(r.status == 200);
    return r.body["replies"][0]["text"].get<std::string>();
  };
  auto reload_and_wait = [&](const std::string& expect_in_greeting, bool expect) {
    server.Signal(SIGHUP);
    std::string g;
    for (int i = 0; i < 50; ++i) {  // the reload happens on the signal thread, shortly after
      g = greeting();
      if ((g.find(expect_in_greeting) != std::string::npos) == expect) break;
      usleep(20000);
    }
    return g;
  };
  CHECK(greeting().find("LiveLine Overseas") != std::string::npos);
  // A broken policy file: refused, the bot keeps answering with the old knowledge.
  std::ofstream(knowledge / "policy.json") << "{ \"provider_name\": \"Broken\", ";
  usleep(100000);
  std::string g = reload_and_wait("Broken", true);
  CHECK(g.find("LiveLine Overseas") != std::string::npos);
  // A valid change: taken for the conversations that start afterwards.
  std::string policy;
  {
    std::ifstream in(std::string(RD_KNOWLEDGE_DIR) + "/policy.json");
    policy.assign(std::istreambuf_iterator<char>(in), {});
  }
  policy.replace(policy.find("LiveLine Overseas"), std::string("LiveLine Overseas").size(), "StreamWay Global");
  std::ofstream(knowledge / "policy.json", std::ios::trunc) << policy;
  g = reload_and_wait("StreamWay Global", true);
  CHECK(g.find("StreamWay Global") != std::string::npos);
}

TEST_CASE("logs: one JSON line per request and per turn, no secrets, no customer text at info", "[http]") {
  TempDir dir;
  std::string log = dir.File("server.log");
  {
    ServerProcess server(dir.File("rd.sqlite3"), {}, log);
    server.Start();
    auto c = server.Client();
    Walk w = Converse(*c, {{"hello", "payment_date"}, {"my secret words 2026-11-01", "activation_date"}});
    c->Get(("/api/chat/history?session=" + w.session).c_str());
    // Info lines are gathered, but reach the file soon without waiting for the process to end.
    auto lines_now = [&] {
      std::ifstream in(log);
      return std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n');
    };
    for (int i = 0; i < 100 && lines_now() < 6; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(lines_now() >= 6);  // the listening line, three requests, two turns
    server.Kill(SIGTERM);
    std::ifstream in(log);
    std::string line, all;
    int http_lines = 0, turn_lines = 0;
    while (std::getline(in, line)) {
      all += line;
      json j = json::parse(line, nullptr, false);
      REQUIRE(!j.is_discarded());
      CHECK(j.contains("ts"));
      if (j["event"] == "http") {
        ++http_lines;
        CHECK(j.contains("status"));
        CHECK(j.contains("latency_ms"));
        CHECK(j.contains("route"));
      }
      if (j["event"] == "turn") {
        ++turn_lines;
        CHECK(j.contains("state_before"));
        CHECK(j.contains("state_after"));
        CHECK(j.contains("conversation_id"));
      }
    }
    CHECK(http_lines == 3);
    CHECK(turn_lines == 2);
    CHECK(all.find(w.session) == std::string::npos);
    CHECK(all.find("secret words") == std::string::npos);
  }
}

TEST_CASE("GET /metrics counts turns, resends, tickets, handoffs and requests in Prometheus text", "[http][metrics]") {
  TempDir dir;
  ServerProcess server(dir.File("rd.sqlite3"));
  server.Start();
  auto c = server.Client();
  auto metric = [&](const std::string& name) {
    auto r = c->Get("/metrics");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    CHECK(r->get_header_value("Content-Type").rfind("text/plain", 0) == 0);
    size_t at = r->body.find("\n" + name + " ");
    REQUIRE(at != std::string::npos);
    return std::stod(r->body.substr(at + name.size() + 2));
  };
  CHECK(metric("refundbot_turns_total") == 0);
  CHECK(metric("refundbot_faq_entries") >= 40);
  Walk w = Converse(*c, {{"hi, paid on 2026-11-01, activated on 2026-11-05", "problems"},
                         {"latency 400ms", "evidence"}, {"contract", "contact"}, {"order 123456", "confirmation"},
                         {"yes", "null"}});
  CHECK(metric("refundbot_turns_total") == 5);
  CHECK(metric("refundbot_tickets_filed_total") == 1);
  json resend = {{"session", w.session}, {"text", "thanks"}, {"client_message_id", "resend-0000000001"}};
  PostChat(*c, resend);
  PostChat(*c, resend);
  CHECK(metric("refundbot_turns_total") == 6);
  CHECK(metric("refundbot_duplicate_deliveries_total") == 1);
  PostChat(*c, {{"session", w.session}, {"text", "human please"}});
  CHECK(metric("refundbot_handoffs_total") == 1);
  PostRaw(*c, "{broken");
  CHECK(metric("refundbot_http_requests_total{code=\"4xx\"}") >= 1);
  CHECK(metric("refundbot_turn_duration_seconds_count") == 7);
}

}  // namespace rd::test
