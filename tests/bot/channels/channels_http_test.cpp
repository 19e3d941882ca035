// Slack and WeCom end to end: the real refundbot on loopback, fake platforms for its outgoing calls.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <ctime>
#include <tuple>

#include "bot/channels/slack.h"
#include "bot/env.h"
#include "bot/channels/wecom_crypto.h"
#include "tests/bot/channels/fake_platform.h"
#include "tests/bot/channels/test_pki.h"
#include "tests/bot/server_process.h"

namespace rd::test {

namespace fs = std::filesystem;

namespace {

const char kSecret[] = "test-signing-secret-0123456789";
const char kWeComToken[] = "QDG6eK";
const char kWeComKey[] = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const char kCorpId[] = "wx5823bf96d3bd56c7";

// Starts refundbot with Slack and WeCom pointed at `fake`; the environment carries the secrets, as in
// production, and is cleared again once the child has it.
void StartWithChannels(ServerProcess& server, FakePlatform& fake, bool staff_notices = false) {
  setenv("SLACK_SIGNING_SECRET", kSecret, 1);
  setenv("SLACK_BOT_TOKEN", "xoxb-test", 1);
  setenv("SLACK_API_BASE", fake.Base("/api").c_str(), 1);
  setenv("SLACK_BOT_USER_ID", "UBOT", 1);
  setenv("WECOM_CORP_ID", kCorpId, 1);
  setenv("WECOM_TOKEN", kWeComToken, 1);
  setenv("WECOM_AES_KEY", kWeComKey, 1);
  setenv("WECOM_AGENT_ID", "218", 1);
  setenv("WECOM_SECRET", "wecom-secret", 1);
  setenv("WECOM_API_BASE", fake.Base("/cgi-bin").c_str(), 1);
  setenv("SLACK_FILE_HOSTS", "127.0.0.1", 1);  // the fake platform serves the files
  if (staff_notices) {
    setenv("SLACK_STAFF_CHANNEL", "CSTAFF", 1);
    setenv("WECOM_ROBOT_WEBHOOK", fake.Base("/cgi-bin/webhook/send?key=robot-key").c_str(), 1);
  }
  server.Start();
  for (const char* v : {"SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "SLACK_API_BASE", "SLACK_BOT_USER_ID", "WECOM_CORP_ID",
                        "WECOM_TOKEN", "WECOM_AES_KEY", "WECOM_AGENT_ID", "WECOM_SECRET", "WECOM_API_BASE",
                        "SLACK_STAFF_CHANNEL", "WECOM_ROBOT_WEBHOOK", "SLACK_FILE_HOSTS"}) {
    unsetenv(v);
  }
}

int64_t Count(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  int64_t n = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(h);
  return n;
}

struct Slack {
  httplib::Client& c;
  int n = 0;
  httplib::Result Post(const std::string& path, const std::string& body, const std::string& type, int64_t ts_offset = 0,
                       const std::string& retry = "", bool sign = true) {
    const std::string ts = std::to_string(std::time(nullptr) + ts_offset);
    httplib::Headers h = {{"X-Slack-Request-Timestamp", ts}};
    if (sign) h.emplace("X-Slack-Signature", SlackSignature(kSecret, ts, body));
    if (!retry.empty()) h.emplace("X-Slack-Retry-Num", retry);
    return c.Post(path.c_str(), h, body, type.c_str());
  }
  // A DM from customer U123: event `id` with message timestamp `ts`.
  std::string Event(const std::string& text, const std::string& ts, const std::string& channel = "D0CUSTOMER") {
    return json{{"type", "event_callback"}, {"event_id", "Ev" + ts},
                {"event", {{"type", "message"}, {"channel", channel}, {"channel_type", "im"}, {"user", "U123"},
                           {"text", text}, {"ts", ts}}}}.dump();
  }
  int Say(const std::string& text) {
    const std::string ts = "17000000" + std::to_string(10 + n++) + ".000100";
    auto r = Post("/slack/events", Event(text, ts), "application/json");
    REQUIRE(r);
    return r->status;
  }
};

// The first accepted chat.postMessage body that `match` accepts, waiting for it.
json WaitPosted(FakePlatform& fake, const std::function<bool(const json&)>& match, double seconds = 10) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  while (std::chrono::steady_clock::now() < deadline) {
    for (const auto& call : fake.Calls("/api/chat.postMessage")) {
      if (call.status != 200) continue;
      json body = json::parse(call.body);
      if (match(body)) return body;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return json();
}

bool HasButtons(const json& p) {
  return p.contains("blocks") && p["blocks"].back().contains("elements") && p["blocks"].back()["elements"][0]["type"] == "button";
}

std::vector<json> Posted(FakePlatform& fake, size_t n) {
  std::vector<json> out;
  for (const auto& call : fake.WaitForAccepted("/api/chat.postMessage", n)) out.push_back(json::parse(call.body));
  return out;
}

struct WeCom {
  httplib::Client& c;
  WeComCrypto crypto;
  // An encrypted callback carrying `inner` XML; returns the HTTP answer.
  // `ts_offset`: seconds from now of the signed timestamp.
  httplib::Result Send(const std::string& inner, const std::string& corp_id = kCorpId, bool good_signature = true,
                       int64_t ts_offset = 0) {
    std::string error;
    WeComCrypto sender = *WeComCrypto::Create(kWeComToken, kWeComKey, corp_id, &error);
    const std::string enc = sender.Encrypt(inner, "0123456789abcdef");
    const std::string ts = std::to_string(std::time(nullptr) + ts_offset), nonce = "42";
    std::string sig = crypto.Signature(ts, nonce, enc);
    if (!good_signature) sig[0] = sig[0] == 'a' ? 'b' : 'a';
    const std::string body = "<xml><ToUserName><![CDATA[" + std::string(kCorpId) + "]]></ToUserName><Encrypt><![CDATA[" +
                             enc + "]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>";
    return c.Post(("/wecom/callback?msg_signature=" + sig + "&timestamp=" + ts + "&nonce=" + nonce).c_str(), body,
                  "application/xml");
  }
  static std::string Text(const std::string& from, const std::string& text, const std::string& msg_id) {
    return "<xml><ToUserName><![CDATA[" + std::string(kCorpId) + "]]></ToUserName><FromUserName><![CDATA[" + from +
           "]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[" +
           text + "]]></Content><MsgId>" + msg_id + "</MsgId><AgentID>218</AgentID></xml>";
  }
  // The text inside a passive reply, after checking its signature and receive id.
  std::string Open(const httplib::Result& r) {
    REQUIRE(r);
    REQUIRE(r->status == 200);
    auto field = [&](const std::string& body, const std::string& name) {
      size_t a = body.find("<" + name + ">"), b = body.find("</" + name + ">");
      REQUIRE(a != std::string::npos);
      std::string v = body.substr(a + name.size() + 2, b - a - name.size() - 2);
      if (v.rfind("<![CDATA[", 0) == 0) v = v.substr(9, v.size() - 12);
      return v;
    };
    const std::string enc = field(r->body, "Encrypt");
    CHECK(crypto.Verify(field(r->body, "MsgSignature"), field(r->body, "TimeStamp"), field(r->body, "Nonce"), enc));
    std::string error;
    auto inner = crypto.Decrypt(enc, &error);
    REQUIRE(inner);
    return field(*inner, "Content");
  }
};

}  // namespace

TEST_CASE("Slack: a whole claim in a DM to a filed ticket, replies through chat.postMessage with buttons and a datepicker",
          "[slack][channels]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  FakePlatform fake;
  ServerProcess server(db);
  StartWithChannels(server, fake, true);
  auto c = server.Client();
  Slack slack{*c};

  auto verify = slack.Post("/slack/events", R"({"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})",
                           "application/json");
  REQUIRE(verify);
  CHECK(verify->status == 200);
  CHECK(json::parse(verify->body)["challenge"] == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");

  CHECK(slack.Say("Hi <@UBOT>, I want a refund, we paid on 2026-11-01") == 200);
  // What one turn says is one Slack message: greeting, what was noted and the next question.
  auto posted = Posted(fake, 1);
  REQUIRE(posted.size() == 1);
  CHECK(posted[0]["channel"] == "D0CUSTOMER");
  CHECK(fake.Calls("/api/chat.postMessage")[0].headers.find("Authorization")->second == "Bearer xoxb-test");
  // The date question carries a datepicker.
  const json& ask = posted[0];
  CHECK(ask["text"].get<std::string>().find("activat") != std::string::npos);
  CHECK(ask["blocks"].back()["elements"].back()["type"] == "datepicker");

  // The customer picks the date in the datepicker: an interactivity payload, signed like events.
  json payload = {{"type", "block_actions"}, {"trigger_id", "trig-1"}, {"user", {{"id", "U123"}}},
                  {"channel", {{"id", "D0CUSTOMER"}}}, {"container", {{"message_ts", "1700000010.000100"}}},
                  {"actions", json::array({{{"type", "datepicker"}, {"action_id", "date"}, {"selected_date", "2026-11-05"},
                                            {"action_ts", "1700000020.1"}}})}};
  auto click = slack.Post("/slack/interactivity", "payload=" + httplib::detail::encode_query_param(payload.dump()),
                          "application/x-www-form-urlencoded");
  REQUIRE(click);
  CHECK(click->status == 200);
  // The problems question offers Block Kit buttons; clicking one is the same as typing it.
  const json problems = WaitPosted(fake, [](const json& p) { return HasButtons(p); });
  REQUIRE(!problems.is_null());
  const json buttons = problems["blocks"].back()["elements"];
  REQUIRE(buttons.size() >= 3);
  CHECK(buttons[0]["type"] == "button");
  payload["actions"] = json::array({{{"type", "button"}, {"action_id", "qr_0"}, {"value", buttons[0]["value"]},
                                     {"action_ts", "1700000030.1"}}});
  click = slack.Post("/slack/interactivity", "payload=" + httplib::detail::encode_query_param(payload.dump()),
                     "application/x-www-form-urlencoded");
  REQUIRE(click);
  CHECK(click->status == 200);

  REQUIRE(!WaitPosted(fake, [&](const json& p) { return HasButtons(p) && p != problems; }).is_null());  // the evidence question
  CHECK(slack.Say("latency 400ms every evening; I have the contract and the invoice") == 200);
  CHECK(slack.Say("yes") == 200);
  REQUIRE(Count(db, "SELECT count(*) FROM tickets") == 1);
  CHECK(Count(db, "SELECT count(*) FROM tickets WHERE json_extract(body, '$.channel') = 'slack'") == 1);
  // No contact question on Slack: the platform says who the customer is.
  CHECK(Count(db, "SELECT count(*) FROM tickets WHERE json_extract(body, '$.contact.channel_user') = 'D0CUSTOMER'") == 1);
  auto mentions_ticket = [](const std::string& channel) {
    return [channel](const json& p) { return p["channel"] == channel && p["text"].get<std::string>().find("RF-") != std::string::npos; };
  };
  CHECK(!WaitPosted(fake, mentions_ticket("D0CUSTOMER")).is_null());
  CHECK(!WaitPosted(fake, mentions_ticket("CSTAFF")).is_null());  // staff hear of the new ticket in their channel
  CHECK(fake.WaitForAccepted("/cgi-bin/webhook/send", 1).size() == 1);  // and in their WeCom group
  // The robot's key goes to WeCom only: the outbox row names the robot, the URL comes from the config.
  CHECK(fake.Calls("/cgi-bin/webhook/send")[0].query.find("key=robot-key") != std::string::npos);
  CHECK(Snapshot(db).find("robot-key") == std::string::npos);
  CHECK(Count(db, "SELECT count(*) FROM outbox WHERE kind = 'wecom_robot' AND target = 'wecom_robot'") == 1);

  // Ignored: the bot's own messages, other bots, edits.
  const int64_t turns = Count(db, "SELECT count(*) FROM messages WHERE author = 'customer'");
  for (const json& e : {json{{"type", "message"}, {"channel", "D0CUSTOMER"}, {"channel_type", "im"}, {"user", "UBOT"}, {"text", "hi"}, {"ts", "1.1"}},
                        json{{"type", "message"}, {"channel", "D0CUSTOMER"}, {"channel_type", "im"}, {"bot_id", "B1"}, {"user", "U9"}, {"text", "hi"}, {"ts", "1.2"}},
                        json{{"type", "message"}, {"subtype", "message_changed"}, {"channel", "D0CUSTOMER"}, {"channel_type", "im"}, {"user", "U123"}, {"ts", "1.3"}},
                        json{{"type", "reaction_added"}, {"user", "U123"}}}) {
    auto r = slack.Post("/slack/events", json{{"type", "event_callback"}, {"event_id", "EvX"}, {"event", e}}.dump(), "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  CHECK(Count(db, "SELECT count(*) FROM messages WHERE author = 'customer'") == turns);
}

TEST_CASE("Slack: a retried event and a message seen twice give one turn and one reply; bad requests store nothing",
          "[slack][channels]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  FakePlatform fake;
  ServerProcess server(db);
  StartWithChannels(server, fake);
  auto c = server.Client();
  Slack slack{*c};
  const std::string event = slack.Event("hello, I need a refund", "1700000100.000200");
  auto first = slack.Post("/slack/events", event, "application/json");
  auto retry = slack.Post("/slack/events", event, "application/json", 0, "1");
  // The same message as an app_mention (another event id, same channel and ts).
  json mention = json::parse(event);
  mention["event_id"] = "EvOther";
  mention["event"]["type"] = "app_mention";
  auto again = slack.Post("/slack/events", mention.dump(), "application/json");
  REQUIRE((first && retry && again));
  CHECK(first->status == 200);
  CHECK(retry->status == 200);
  CHECK(again->status == 200);
  CHECK(Count(db, "SELECT count(*) FROM messages WHERE author = 'customer'") == 1);
  fake.WaitForAccepted("/api/chat.postMessage", 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  CHECK(fake.Calls("/api/chat.postMessage").size() == 1);  // one turn, one message

  const std::string before = Snapshot(db);
  const std::string body = slack.Event("another message", "1700000200.000300");
  auto unsigned_request = slack.Post("/slack/events", body, "application/json", 0, "", false);
  CHECK(unsigned_request->status == 401);
  auto stale = slack.Post("/slack/events", body, "application/json", -301);
  CHECK(stale->status == 401);
  {
    const std::string ts = std::to_string(std::time(nullptr));
    auto forged = c->Post("/slack/events", {{"X-Slack-Request-Timestamp", ts}, {"X-Slack-Signature", SlackSignature("wrong-secret", ts, body)}},
                          body, "application/json");
    CHECK(forged->status == 401);
  }
  auto not_json = slack.Post("/slack/events", "{not json", "application/json");
  CHECK(not_json->status == 400);
  auto bad_payload = slack.Post("/slack/interactivity", "payload=%7Bbroken", "application/x-www-form-urlencoded");
  CHECK(bad_payload->status == 400);
  CHECK(Snapshot(db) == before);
}

TEST_CASE("Slack: an answer of the wrong shape fails that reply alone, with the reason; the next replies go out",
          "[slack][outbox]") {
  TempDir dir;
  const std::string db = dir.File("rd.sqlite3");
  FakePlatform fake;
  fake.Script("/api/chat.postMessage", {200, R"({"ok": "yes", "ts": 5})", {}});
  ServerProcess server(db);
  StartWithChannels(server, fake);
  auto c = server.Client();
  Slack slack{*c};
  REQUIRE(slack.Say("hello") == 200);
  const char* failed = "SELECT count(*) FROM outbox WHERE status = 'failed' AND last_error LIKE '%bad answer%'";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Count(db, failed) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(Count(db, failed) == 1);
  REQUIRE(slack.Say("we paid on 2026-11-01") == 200);
  auto calls = fake.WaitForAccepted("/api/chat.postMessage", 2, 10);
  CHECK(calls.size() == 2);
  const char* delivered = "SELECT count(*) FROM outbox WHERE status = 'delivered'";
  while (Count(db, delivered) == 0 && std::chrono::steady_clock::now() < deadline + std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(Count(db, delivered) == 1);
}

TEST_CASE("Slack: 429 Retry-After then 500 then 200 delivers exactly once", "[slack][outbox]") {
  TempDir dir;
  FakePlatform fake;
  fake.Script("/api/chat.postMessage", {429, R"({"ok": false, "error": "ratelimited"})", {{"Retry-After", "1"}}});
  fake.Script("/api/chat.postMessage", {500, "oops", {}});
  ServerProcess server(dir.File("rd.sqlite3"));
  StartWithChannels(server, fake);
  auto c = server.Client();
  Slack slack{*c};
  const auto started = std::chrono::steady_clock::now();
  REQUIRE(slack.Say("hello") == 200);
  auto delivered = fake.WaitForAccepted("/api/chat.postMessage", 1, 15);
  REQUIRE(delivered.size() >= 1);
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  CHECK(waited >= 1.0);  // Retry-After was honoured
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto calls = fake.Calls("/api/chat.postMessage");
  REQUIRE(calls.size() >= 3);
  CHECK(calls[0].status == 429);
  CHECK(calls[1].status == 500);
  CHECK(calls[2].status == 200);
  CHECK(calls[2].body == calls[0].body);
  // The greeting is one message: exactly one accepted copy of it.
  int copies = 0;
  for (const auto& call : calls) copies += call.status == 200 && call.body == calls[0].body;
  CHECK(copies == 1);
}

TEST_CASE("Slack: replies to messages sent faster than Slack takes them go out one at a time, in order",
          "[slack][outbox]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  FakePlatform fake;
  fake.SetDefault("/api/chat.postMessage", {200, R"({"ok": true, "ts": "1.1"})", {}, "application/json", 300});
  ServerProcess server(db);
  StartWithChannels(server, fake);
  auto c = server.Client();
  Slack slack{*c};
  // Each message is acknowledged once stored; its reply is still on its way when the next one comes.
  for (const char* text : {"hello, I need a refund", "I paid on 2026-11-01", "it was activated on 2026-11-05"}) {
    REQUIRE(slack.Say(text) == 200);
  }
  auto calls = fake.WaitForAccepted("/api/chat.postMessage", 3, 15);
  REQUIRE(calls.size() == 3);
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, "SELECT json_extract(payload, '$.text') FROM outbox WHERE target = 'slack:D0CUSTOMER' ORDER BY id",
                             -1, &st, nullptr) == SQLITE_OK);
  std::vector<std::string> queued;
  while (sqlite3_step(st) == SQLITE_ROW) queued.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  sqlite3_finalize(st);
  sqlite3_close(h);
  REQUIRE(queued.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    INFO(i);
    CHECK(json::parse(calls[i].body)["text"] == queued[i]);  // in the order the turns committed them
    if (i > 0) CHECK(calls[i].arrived >= calls[i - 1].answered);  // never two at once to one conversation
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (Count(db, "SELECT count(*) FROM outbox WHERE status = 'delivered'") < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(Count(db, "SELECT count(*) FROM outbox WHERE status = 'delivered'") == 3);
}

TEST_CASE("Slack: messages still in the outbox when the bot is killed are delivered after restart, once each",
          "[slack][outbox][crash]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  FakePlatform fake;
  fake.SetDefault("/api/chat.postMessage", {503, "down", {}});
  {
    ServerProcess server(db);
    StartWithChannels(server, fake);
    auto c = server.Client();
    Slack slack{*c};
    REQUIRE(slack.Say("hello, I need a refund") == 200);
    REQUIRE(Count(db, "SELECT count(*) FROM outbox") >= 1);
    // The reply goes out at once (handed over by its commit): let the platform answer that attempt
    // (503) before the kill. A request still unread when the platform comes back could be accepted
    // from the dead process — a real second copy, at-least-once delivery, but not what this tests.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (fake.Calls("/api/chat.postMessage").empty() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    REQUIRE(fake.Calls("/api/chat.postMessage").size() == 1);
    server.Kill(SIGKILL);
  }
  const int64_t queued = Count(db, "SELECT count(*) FROM outbox");
  CHECK(Count(db, "SELECT count(*) FROM outbox WHERE status = 'delivered'") == 0);
  fake.SetDefault("/api/chat.postMessage", {200, R"({"ok": true, "ts": "1.1"})", {}});
  ServerProcess again(db);
  StartWithChannels(again, fake);
  // Rows the dead process had claimed come back when their lease ends; unclaimed ones at once.
  auto delivered = fake.WaitForAccepted("/api/chat.postMessage", static_cast<size_t>(queued), 90);
  CHECK(delivered.size() == static_cast<size_t>(queued));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::map<std::string, int> copies;
  for (const auto& call : fake.Calls("/api/chat.postMessage")) if (call.status == 200) copies[call.body]++;
  for (const auto& [body, n] : copies) CHECK(n == 1);
  CHECK(Count(db, "SELECT count(*) FROM outbox WHERE status = 'delivered'") == queued);
}

TEST_CASE("Slack: a reply queued by an earlier version (its fields, not the post's body) still goes out whole",
          "[slack][outbox]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  FakePlatform fake;
  {
    ServerProcess first(db);  // creates the schema
    StartWithChannels(first, fake);
    first.Kill(SIGTERM);
  }
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
  const char* legacy =
      "INSERT INTO outbox(kind, target, payload, idempotency_key, status, attempts, next_attempt_at, created_at) "
      "VALUES('slack_message', 'slack:COLD/1700000000.000100', "
      "'{\"channel\":\"COLD\",\"text\":\"Paid <when>? A & B\",\"thread_ts\":\"1700000000.000100\","
      "\"quick_replies\":[\"Yes\",\"No\"],\"date_picker\":true}', 'legacy:1', 'pending', 0, 0, 1700000000)";
  REQUIRE(sqlite3_exec(h, legacy, nullptr, nullptr, nullptr) == SQLITE_OK);
  // Members of the wrong type read as absent (they once would have stopped the worker).
  const char* odd =
      "INSERT INTO outbox(kind, target, payload, idempotency_key, status, attempts, next_attempt_at, created_at) "
      "VALUES('slack_message', 'slack:DODD', '{\"channel\":\"DODD\",\"text\":\"odd\",\"date_picker\":\"yes\","
      "\"quick_replies\":\"no\"}', 'legacy:2', 'pending', 0, 0, 1700000000)";
  REQUIRE(sqlite3_exec(h, odd, nullptr, nullptr, nullptr) == SQLITE_OK);
  const char* broken =
      "INSERT INTO outbox(kind, target, payload, idempotency_key, status, attempts, next_attempt_at, created_at) "
      "VALUES('wecom_message', 'wecom:zhangsan', '{\"touser\":5,\"text\":\"x\"}', 'legacy:3', 'pending', 0, 0, 1700000000)";
  REQUIRE(sqlite3_exec(h, broken, nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(h);

  ServerProcess again(db);
  StartWithChannels(again, fake);
  auto posts = fake.WaitForAccepted("/api/chat.postMessage", 2, 20);
  REQUIRE(posts.size() == 2);
  json body = json::parse(posts[0].body), odd_body = json::parse(posts[1].body);
  if (body["channel"] == "DODD") std::swap(body, odd_body);
  CHECK(odd_body["text"] == "odd");
  CHECK(odd_body["blocks"].size() == 1);  // the text alone: no buttons, no datepicker
  CHECK(body["channel"] == "COLD");
  CHECK(body["thread_ts"] == "1700000000.000100");
  CHECK(body["text"] == "Paid <when>? A & B");
  CHECK(body["blocks"][0]["text"]["text"] == "Paid &lt;when&gt;? A &amp; B");
  const json& elements = body["blocks"][1]["elements"];
  REQUIRE(elements.size() == 3);
  CHECK(elements[0]["value"] == "Yes");
  CHECK(elements[1]["value"] == "No");
  CHECK(elements[2]["type"] == "datepicker");
  const char* delivered = "SELECT count(*) FROM outbox WHERE idempotency_key = 'legacy:1' AND status = 'delivered'";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Count(db, delivered) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(Count(db, delivered) == 1);
  // A row no worker can make sense of fails alone, with the reason.
  const char* failed = "SELECT count(*) FROM outbox WHERE idempotency_key = 'legacy:3' AND status = 'failed' "
                       "AND last_error LIKE '%bad payload%'";
  while (Count(db, failed) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(Count(db, failed) == 1);
}

TEST_CASE("Slack over HTTPS: replies reach a platform whose certificate chains to the configured CAs, and none "
          "reaches one that does not", "[slack][outbox][tls]") {
  TempDir dir;
  TestPki pki;
  FakePlatform fake(pki.File("server.pem"), pki.File("server.key"));
  {
    ServerProcess trusting(dir.File("trusting.sqlite3"));
    setenv("REFUNDBOT_TLS_CA_FILE", pki.File("ca.pem").c_str(), 1);
    StartWithChannels(trusting, fake);
    unsetenv("REFUNDBOT_TLS_CA_FILE");
    auto c = trusting.Client();
    Slack slack{*c};
    REQUIRE(slack.Say("hello, I need a refund") == 200);
    auto posted = Posted(fake, 1);
    REQUIRE(posted.size() == 1);
    CHECK(posted[0]["channel"] == "D0CUSTOMER");
  }
  // The system's CAs do not know the test CA: the reply stays queued, with the reason, and is retried.
  const std::string db = dir.File("default.sqlite3");
  ServerProcess strict(db);
  StartWithChannels(strict, fake);
  auto c = strict.Client();
  Slack slack{*c};
  slack.n = 5;  // other message timestamps than the first bot's
  REQUIRE(slack.Say("hello, I need a refund") == 200);
  const std::string refused =
      "SELECT count(*) FROM outbox WHERE status = 'pending' AND last_error LIKE '%certificate%' AND attempts >= 1";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Count(db, refused) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(Count(db, refused) == 1);
  CHECK(fake.Calls("/api/chat.postMessage").size() == 1);  // the first bot's only
}

TEST_CASE("WeCom: URL check, a claim by encrypted messages with passive replies, a repeated MsgId, bad input",
          "[wecom][channels]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  FakePlatform fake;
  ServerProcess server(db);
  StartWithChannels(server, fake);
  auto c = server.Client();
  std::string error;
  WeCom wecom{*c, *WeComCrypto::Create(kWeComToken, kWeComKey, kCorpId, &error)};

  // The official URL-check vector, URL-encoded as WeCom sends it.
  auto check = c->Get("/wecom/callback?msg_signature=5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3&timestamp=1409659589&nonce=263014780"
                      "&echostr=P9nAzCzyDtyTWESHep1vC5X9xho%2FqYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp%2B4RPcs8TgAE7OaBO%2BFZXvnaqQ%3D%3D");
  REQUIRE(check);
  CHECK(check->status == 200);
  CHECK(check->body == "1616140317555161061");
  auto bad_check = c->Get("/wecom/callback?msg_signature=0000&timestamp=1409659589&nonce=263014780&echostr=abcd");
  CHECK(bad_check->status == 401);

  std::string reply = wecom.Open(wecom.Send(WeCom::Text("zhangsan", "你好，我要退款，11月1日付款，11月5日开通", "1001")));
  CHECK(reply.find("问题") != std::string::npos);  // the next question, in Chinese
  // WeCom retries a callback it got no answer to: the same MsgId is one turn, answered the same way.
  std::string again = wecom.Open(wecom.Send(WeCom::Text("zhangsan", "你好，我要退款，11月1日付款，11月5日开通", "1001")));
  CHECK(again == reply);
  CHECK(Count(db, "SELECT count(*) FROM messages WHERE author = 'customer'") == 1);
  reply = wecom.Open(wecom.Send(WeCom::Text("zhangsan", "直播延迟400毫秒，丢包8%", "1002")));
  reply = wecom.Open(wecom.Send(WeCom::Text("zhangsan", "有合同和付款凭证", "1003")));
  CHECK(reply.find("确认") != std::string::npos);  // no contact question: WeCom says who it is
  reply = wecom.Open(wecom.Send(WeCom::Text("zhangsan", "对", "1004")));
  CHECK(reply.find("RF-") != std::string::npos);
  CHECK(Count(db, "SELECT count(*) FROM tickets WHERE json_extract(body, '$.contact.channel_user') = 'zhangsan'") == 1);

  const std::string before = Snapshot(db);
  auto forged = wecom.Send(WeCom::Text("zhangsan", "hi", "2001"), kCorpId, false);
  CHECK(forged->status == 401);
  auto other_corp = wecom.Send(WeCom::Text("zhangsan", "hi", "2002"), "wx0000000000000000");
  CHECK(other_corp->status == 400);
  {
    // Ciphertext of the wrong length (not whole AES blocks), correctly signed.
    const std::string enc = "QUJDRA==", ts = std::to_string(std::time(nullptr));
    const std::string body = "<xml><Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>";
    auto r = c->Post(("/wecom/callback?msg_signature=" + wecom.crypto.Signature(ts, "2", enc) + "&timestamp=" + ts + "&nonce=2").c_str(),
                     body, "application/xml");
    CHECK(r->status == 400);
  }
  for (const std::string& hostile : {
           std::string("<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><xml><Encrypt>&xxe;</Encrypt></xml>"),
           std::string("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
                       "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]><xml><Encrypt>&lol3;</Encrypt></xml>"),
           std::string("<?xml version=\"1.0\"?><!doctype xml [<!entity xxe SYSTEM \"file:///etc/passwd\">]><xml><Encrypt>&xxe;</Encrypt></xml>"),
           std::string("{\"not\": \"xml\"}"), std::string("<xml><Encrypt>")}) {
    auto r = c->Post("/wecom/callback?msg_signature=x&timestamp=1&nonce=2", hostile, "application/xml");
    REQUIRE(r);
    CHECK(r->status == 400);
  }
  CHECK(Snapshot(db) == before);
  // An event (entering the app): acknowledged, ignored.
  auto event = wecom.Send("<xml><ToUserName>" + std::string(kCorpId) + "</ToUserName><FromUserName>zhangsan</FromUserName>"
                          "<CreateTime>1700000300</CreateTime><MsgType>event</MsgType><Event>enter_agent</Event></xml>");
  CHECK(event->status == 200);
  CHECK(event->body.empty());
  CHECK(Snapshot(db) == before);
}

TEST_CASE("a new platform user's messages arriving at once open one conversation, each message one turn",
          "[wecom][slack][channels]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  FakePlatform fake;
  ServerProcess server(db);
  StartWithChannels(server, fake);
  std::string error;
  const WeComCrypto crypto = *WeComCrypto::Create(kWeComToken, kWeComKey, kCorpId, &error);
  const std::vector<std::string> texts = {"我要退款", "我是2026年11月1日付款的", "11月5日开通的", "直播延迟400毫秒",
                                          "有合同", "有付款凭证"};
  // Six messages of one new WeCom user, and one of them delivered twice, each on its own connection, at once.
  std::vector<int> statuses(texts.size() + 1, 0);
  std::vector<std::string> replies(texts.size() + 1);
  std::vector<std::thread> senders;
  for (size_t i = 0; i <= texts.size(); ++i) {
    senders.emplace_back([&, i] {
      auto c = server.Client();
      WeCom wecom{*c, crypto};
      const size_t k = i == texts.size() ? 0 : i;  // the last sender repeats the first message
      auto r = wecom.Send(WeCom::Text("lisi", texts[k], std::to_string(3000 + k)));
      if (!r) return;
      statuses[i] = r->status;
      if (r->status == 200) replies[i] = wecom.Open(r);
    });
  }
  for (auto& t : senders) t.join();
  for (size_t i = 0; i <= texts.size(); ++i) {
    INFO(i);
    CHECK(statuses[i] == 200);
    CHECK_FALSE(replies[i].empty());  // every message answered with a passive reply
  }
  CHECK(replies[texts.size()] == replies[0]);  // the repeat gets the first delivery's answer
  CHECK(Count(db, "SELECT count(*) FROM conversations WHERE channel = 'wecom' AND channel_user = 'lisi'") == 1);
  CHECK(Count(db, "SELECT count(*) FROM messages WHERE author = 'customer'") == static_cast<int64_t>(texts.size()));

  // A Slack event delivered on four connections at once (Slack's retries can overlap): one turn, one reply.
  auto c = server.Client();
  Slack slack{*c};
  const std::string event = slack.Event("hello, I need a refund", "1700000900.000100", "D0RACER");
  std::vector<std::thread> racers;
  std::vector<int> acks(4, 0);
  for (int i = 0; i < 4; ++i) {
    racers.emplace_back([&, i] {
      auto client = server.Client();
      Slack s{*client};
      auto r = s.Post("/slack/events", event, "application/json", 0, i == 0 ? "" : std::to_string(i));
      if (r) acks[static_cast<size_t>(i)] = r->status;
    });
  }
  for (auto& t : racers) t.join();
  for (int status : acks) CHECK(status == 200);
  CHECK(Count(db, "SELECT count(*) FROM conversations WHERE channel = 'slack' AND channel_user = 'D0RACER'") == 1);
  fake.WaitForAccepted("/api/chat.postMessage", 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  CHECK(fake.Calls("/api/chat.postMessage").size() == 1);
}

TEST_CASE("WeCom: staff replies go out by message/send; an expired token is refreshed and the send retried",
          "[wecom][outbox]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  FakePlatform fake;
  ServerProcess server(db);
  StartWithChannels(server, fake);
  auto c = server.Client();
  std::string error;
  WeCom wecom{*c, *WeComCrypto::Create(kWeComToken, kWeComKey, kCorpId, &error)};
  wecom.Open(wecom.Send(WeCom::Text("lisi", "我要退款", "3001")));
  wecom.Open(wecom.Send(WeCom::Text("lisi", "转人工", "3002")));
  {
    TempDir tmp;
    std::ofstream(tmp.File("pw")) << "long enough password\n";
    REQUIRE(RunCommand(std::string(RD_REFUNDBOT) + " staff add ana --password-stdin --db " + db + " < " + tmp.File("pw")).code == 0);
  }
  std::string token = RunCommand(std::string(RD_REFUNDBOT) + " staff token ana --db " + db).out;
  token.pop_back();
  const std::string id = json::parse(c->Get("/api/staff/conversations?state=needs_human",
                                            {{"Authorization", "Bearer " + token}})->body)["conversations"][0]["id"];
  // The first send finds the token expired: the bot fetches a new one and sends again.
  fake.Script("/cgi-bin/message/send", {200, R"({"errcode": 42001, "errmsg": "access_token expired"})", {}});
  auto post = [&](const std::string& path, const json& body) {
    return c->Post(path.c_str(), {{"Authorization", "Bearer " + token}}, body.dump(), "application/json");
  };
  REQUIRE(post("/api/staff/conversations/" + id + "/takeover", json::object())->status == 200);
  REQUIRE(post("/api/staff/conversations/" + id + "/reply", {{"text", "您好，我是客服小安。"}})->status == 200);
  // "Ana joined" and her reply, each delivered once, in order.
  fake.WaitForAccepted("/cgi-bin/message/send", 3);  // the refused one (errcode 42001, HTTP 200) and two sent
  std::vector<json> accepted;
  for (const auto& call : fake.Calls("/cgi-bin/message/send")) {
    json b = json::parse(call.body);
    if (call.status == 200 && call.query.find("token-2") != std::string::npos) accepted.push_back(b);
  }
  REQUIRE(accepted.size() == 2);
  CHECK(accepted[0]["touser"] == "lisi");
  CHECK(accepted[0]["agentid"] == 218);
  CHECK(accepted[1]["text"]["content"] == "您好，我是客服小安。");
  CHECK(fake.Calls("/cgi-bin/gettoken").size() == 2);  // the expired one, then the fresh one
  CHECK(fake.Calls("/cgi-bin/gettoken")[0].query.find("corpsecret=wecom-secret") != std::string::npos);
}

TEST_CASE("files from Slack and WeCom are downloaded into the data folder and put on the claim", "[channels][files]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  FakePlatform fake;
  const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + std::string(500, 'p');
  const std::string jpg = std::string("\xff\xd8\xff", 3) + std::string(700, 'j');
  fake.SetDefault("/files/F1/speedtest.png", {200, png, {}, "image/png"});
  fake.SetDefault("/cgi-bin/media/get", {200, jpg, {}, "image/jpeg"});
  ServerProcess server(db);
  StartWithChannels(server, fake);
  auto c = server.Client();
  Slack slack{*c};
  REQUIRE(slack.Say("hi, I need a refund") == 200);
  json share = json::parse(slack.Event("here is my speed test", "1700000500.000100"));
  share["event"]["subtype"] = "file_share";
  share["event"]["files"] = json::array({{{"id", "F1"}, {"name", "speedtest.png"}, {"size", png.size()}, {"mimetype", "image/png"},
                                          {"url_private", fake.Base("/files/F1/speedtest.png")}}});
  auto r = slack.Post("/slack/events", share.dump(), "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  std::string error;
  WeCom wecom{*c, *WeComCrypto::Create(kWeComToken, kWeComKey, kCorpId, &error)};
  wecom.Open(wecom.Send(WeCom::Text("wangwu", "我要退款", "5001")));
  wecom.Send("<xml><ToUserName>" + std::string(kCorpId) + "</ToUserName><FromUserName>wangwu</FromUserName><CreateTime>1700000600"
             "</CreateTime><MsgType>image</MsgType><PicUrl>http://example.invalid/p.jpg</PicUrl><MediaId>MEDIA-9</MediaId>"
             "<MsgId>5002</MsgId></xml>");
  // Both land in uploads/ by SHA-256 and in the attachments table, fetched with the platform's token.
  for (int i = 0; i < 100 && Count(db, "SELECT count(*) FROM attachments") < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(Count(db, "SELECT count(*) FROM attachments") == 2);
  CHECK(fs::file_size(dir.path / "uploads" / Sha256Hex(png)) == png.size());
  CHECK(fs::file_size(dir.path / "uploads" / Sha256Hex(jpg)) == jpg.size());
  auto file_calls = fake.Calls("/files/F1/speedtest.png");
  REQUIRE(!file_calls.empty());
  CHECK(file_calls[0].headers.find("Authorization")->second == "Bearer xoxb-test");
  CHECK(fake.Calls("/cgi-bin/media/get")[0].query.find("media_id=MEDIA-9") != std::string::npos);
  CHECK(Count(db, "SELECT count(*) FROM conversations WHERE dialog LIKE '%" + Sha256Hex(png) + "%'") == 1);
  CHECK(Count(db, "SELECT count(*) FROM conversations WHERE dialog LIKE '%" + Sha256Hex(jpg) + "%'") == 1);
}

TEST_CASE("Slack: a signed file_share whose members have the wrong types is taken; the server serves on",
          "[slack][channels][files][hardening]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  FakePlatform fake;
  ServerProcess server(db);
  StartWithChannels(server, fake);
  auto c = server.Client();
  Slack slack{*c};
  REQUIRE(slack.Say("hi, I need a refund") == 200);
  for (const json& file : {json{{"id", "F1"}, {"name", 5}, {"size", 10}, {"url_private", fake.Base("/files/F1/a.png")}},
                           json{{"id", "F2"}, {"name", "b.png"}, {"size", "big"}, {"mimetype", 7}},
                           json{{"id", 3}, {"name", json::array()}, {"size", -4}, {"url_private", 12}}}) {
    INFO(file.dump());
    json share = json::parse(slack.Event("a file", "17000009" + std::to_string(10 + slack.n++) + ".000100"));
    share["event"]["subtype"] = "file_share";
    share["event"]["files"] = json::array({file});
    auto r = slack.Post("/slack/events", share.dump(), "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  auto health = c->Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(slack.Say("the latency was 400 ms") == 200);
  CHECK(Count(db, "SELECT count(*) FROM messages WHERE author = 'customer' AND text LIKE '%400 ms%'") == 1);
}

TEST_CASE("Slack and WeCom files are typed by our checks and fetched from Slack's file hosts only",
          "[slack][wecom][channels][files][hardening]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  FakePlatform fake;
  const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + std::string(50, 'p');
  fake.SetDefault("/files/F1/page.html", {200, "<script>alert(1)</script>", {}, "text/html"});
  fake.SetDefault("/files/F2/logo.svg", {200, "<svg onload=alert(1)>", {}, "image/svg+xml"});
  fake.SetDefault("/files/F3/report.pdf", {200, "<html>not a pdf</html>", {}, "application/pdf"});
  fake.SetDefault("/files/F4/shot.png", {200, png, {}, "text/html"});
  fake.SetDefault("/files/F5/elsewhere.png", {200, png, {}, "image/png"});
  fake.SetDefault("/cgi-bin/media/get", {200, "<html>a page, not an image</html>", {}, "image/jpeg"});
  ServerProcess server(db);
  StartWithChannels(server, fake);
  auto c = server.Client();
  Slack slack{*c};
  REQUIRE(slack.Say("hi, I need a refund") == 200);
  // localhost is the fake platform too, but not a configured file host (SLACK_FILE_HOSTS=127.0.0.1).
  std::string elsewhere = fake.Base("/files/F5/elsewhere.png");
  elsewhere.replace(elsewhere.find("127.0.0.1"), 9, "localhost");
  json share = json::parse(slack.Event("my files", "1700000500.000100"));
  share["event"]["subtype"] = "file_share";
  share["event"]["files"] = json::array();
  for (const auto& [id, name, mime, url] : std::vector<std::tuple<std::string, std::string, std::string, std::string>>{
           {"F1", "page.html", "text/html", fake.Base("/files/F1/page.html")},
           {"F2", "logo.svg", "image/svg+xml", fake.Base("/files/F2/logo.svg")},
           {"F3", "report.pdf", "application/pdf", fake.Base("/files/F3/report.pdf")},
           {"F4", "shot.png", "text/html", fake.Base("/files/F4/shot.png")},
           {"F5", "elsewhere.png", "image/png", elsewhere}}) {
    share["event"]["files"].push_back({{"id", id}, {"name", name}, {"size", 60}, {"mimetype", mime}, {"url_private", url}});
  }
  auto r = slack.Post("/slack/events", share.dump(), "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  std::string error;
  WeCom wecom{*c, *WeComCrypto::Create(kWeComToken, kWeComKey, kCorpId, &error)};
  wecom.Open(wecom.Send(WeCom::Text("wangwu", "我要退款", "5001")));
  wecom.Send("<xml><ToUserName>" + std::string(kCorpId) + "</ToUserName><FromUserName>wangwu</FromUserName><CreateTime>1700000600"
             "</CreateTime><MsgType>image</MsgType><MediaId>MEDIA-9</MediaId><MsgId>5002</MsgId></xml>");
  // Only the PNG (its bytes a PNG, whatever Slack called it) is kept, typed image/png.
  for (int i = 0; i < 100 && Count(db, "SELECT count(*) FROM attachments") < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  for (int i = 0; i < 100 && fake.Calls("/cgi-bin/media/get").empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(Count(db, "SELECT count(*) FROM attachments") == 1);
  CHECK(Count(db, "SELECT count(*) FROM attachments WHERE content_type = 'image/png' AND sha256 = '" + Sha256Hex(png) + "'") == 1);
  CHECK(Count(db, "SELECT count(*) FROM conversations WHERE dialog LIKE '%text/html%' OR dialog LIKE '%svg%xml%'") == 0);
  // Types off the list are not even fetched; the foreign host never sees the bot token.
  CHECK(fake.Calls("/files/F1/page.html").empty());
  CHECK(fake.Calls("/files/F2/logo.svg").empty());
  CHECK(fake.Calls("/files/F5/elsewhere.png").empty());
  CHECK(fake.Calls("/files/F3/report.pdf").size() == 1);  // fetched, refused: not a PDF
  CHECK(Count(db, "SELECT count(*) FROM outbox WHERE kind IN ('slack_file', 'wecom_media') AND status = 'failed'") == 2);
}

TEST_CASE("WeCom: a callback outside the timestamp window is refused; MsgIds are per sender", "[wecom][channels][hardening]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  FakePlatform fake;
  ServerProcess server(db);
  StartWithChannels(server, fake);
  auto c = server.Client();
  std::string error;
  WeCom wecom{*c, *WeComCrypto::Create(kWeComToken, kWeComKey, kCorpId, &error)};
  const std::string before = Snapshot(db);
  for (int64_t offset : {int64_t{-301}, int64_t{301}, int64_t{1000000000} - std::time(nullptr)}) {
    INFO(offset);
    auto stale = wecom.Send(WeCom::Text("zhangsan", "我要退款", "7001"), kCorpId, true, offset);
    REQUIRE(stale);
    CHECK(stale->status == 401);
  }
  CHECK(Snapshot(db) == before);
  CHECK(wecom.Send(WeCom::Text("zhangsan", "我要退款", "7001"), kCorpId, true, -200)->status == 200);
  // Another user's message with the same MsgId is their own message, not a resend.
  std::string reply = wecom.Open(wecom.Send(WeCom::Text("lisi", "我要退款，11月1日付款", "7001")));
  CHECK(!reply.empty());
  CHECK(Count(db, "SELECT count(*) FROM messages WHERE author = 'customer'") == 2);
  CHECK(Count(db, "SELECT count(*) FROM conversations WHERE channel = 'wecom'") == 2);
  // The same sender's resend is still one turn.
  wecom.Open(wecom.Send(WeCom::Text("lisi", "我要退款，11月1日付款", "7001")));
  CHECK(Count(db, "SELECT count(*) FROM messages WHERE author = 'customer'") == 2);
  // Found by fuzzing: a file whose MediaId (or sender) is not UTF-8 is refused, and the server serves on.
  const std::string after = Snapshot(db);
  for (const std::string& fields : {std::string("<FromUserName>lisi</FromUserName><MediaId>M\xff\xff</MediaId>"),
                                    std::string("<FromUserName>li\xffsi</FromUserName><MediaId>M1</MediaId>")}) {
    auto bad = wecom.Send("<xml><ToUserName>" + std::string(kCorpId) + "</ToUserName>" + fields +
                          "<MsgType>file</MsgType><Title>合同.pdf</Title><MsgId>7002</MsgId></xml>");
    REQUIRE(bad);
    CHECK(bad->status == 400);
  }
  CHECK(Snapshot(db) == after);
  CHECK(!wecom.Open(wecom.Send(WeCom::Text("lisi", "11月5日开通", "7003"))).empty());
}

TEST_CASE("outbox: delivered rows are deleted after the retention period; rows of an earlier version lose the robot key",
          "[channels][outbox][hardening]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  {
    ServerProcess first(db);  // creates the schema
    first.Start();
  }
  const int64_t now = std::time(nullptr);
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
  const std::string insert = "INSERT INTO outbox(kind, target, payload, idempotency_key, status, attempts, next_attempt_at, "
                             "created_at, delivered_at) VALUES";
  const std::string rows =
      "('slack_post', 'slack:C1', '{\"text\":\"old\"}', 'k1', 'delivered', 1, 0, " + std::to_string(now - 9 * 86400) + ", " +
      std::to_string(now - 8 * 86400) + "), "
      "('slack_post', 'slack:C1', '{\"text\":\"recent\"}', 'k2', 'delivered', 1, 0, " + std::to_string(now - 86400) + ", " +
      std::to_string(now - 86400) + "), "
      "('slack_post', 'slack:C1', '{\"text\":\"failed long ago\"}', 'k3', 'failed', 10, 0, " + std::to_string(now - 9 * 86400) +
      ", " + std::to_string(now - 8 * 86400) + ")";
  REQUIRE(sqlite3_exec(h, (insert + rows).c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  // As an earlier version (schema 11) queued it: the robot's webhook URL, key and all, as the target.
  REQUIRE(sqlite3_exec(h, "ALTER TABLE staff DROP COLUMN disabled_at; DROP INDEX staff_credentials_name; "
                          "PRAGMA user_version = 11;", nullptr, nullptr, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_exec(h, "UPDATE outbox SET target = 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET', "
                          "kind = 'wecom_robot' WHERE idempotency_key = 'k3'", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(h);
  {
    ServerProcess server(db);
    server.Start();
    for (int i = 0; i < 100 && Count(db, "SELECT count(*) FROM outbox WHERE idempotency_key = 'k1'") == 1; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(Count(db, "SELECT count(*) FROM outbox WHERE idempotency_key = 'k1'") == 0);  // delivered 8 days ago
    CHECK(Count(db, "SELECT count(*) FROM outbox WHERE idempotency_key = 'k2'") == 1);  // a day ago: kept
    CHECK(Count(db, "SELECT count(*) FROM outbox WHERE idempotency_key = 'k3'") == 1);  // failed: kept for staff
  }
  CHECK(Snapshot(db).find("SECRET") == std::string::npos);
}

TEST_CASE("a channel whose secrets are missing is off: its routes answer 404", "[channels]") {
  TempDir dir;
  ServerProcess server(dir.File("rd.sqlite3"));
  server.Start();
  auto c = server.Client();
  CHECK(c->Post("/slack/events", "{}", "application/json")->status == 404);
  CHECK(c->Post("/slack/interactivity", "payload=%7B%7D", "application/x-www-form-urlencoded")->status == 404);
  CHECK(c->Get("/wecom/callback?echostr=x")->status == 404);
  CHECK(c->Post("/wecom/callback", "<xml/>", "application/xml")->status == 404);
}

}  // namespace rd::test
