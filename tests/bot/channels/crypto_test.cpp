// Conformance with the platforms' official test vectors (../shared/protocols.md), and with Tencent's own
// implementation (npm @wecom/crypto) as the independent side for what we encrypt.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bot/channels/platform.h"
#include "bot/channels/slack.h"
#include "bot/channels/wecom_crypto.h"
#include "tests/bot/server_process.h"

namespace rd::test {

namespace {

const char kSlackSecret[] = "8f742231b10e8888abcd99yyyzzz85a5";
const char kSlackBody[] =
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar"
    "&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com"
    "%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121."
    "803a0bc887a14d10d2c447fce8b6703c";
const char kSlackSignature[] = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

WeComCrypto Crypto(const std::string& token, const std::string& key, const std::string& id) {
  std::string error;
  auto c = WeComCrypto::Create(token, key, id, &error);
  INFO(error);
  REQUIRE(c);
  return *c;
}

}  // namespace

TEST_CASE("Slack: the official signature example verifies; one changed byte, a stale or missing header does not",
          "[slack][conformance]") {
  std::string error;
  CHECK(SlackSignature(kSlackSecret, "1531420618", kSlackBody) == kSlackSignature);
  CHECK(VerifySlackRequest(kSlackSecret, "1531420618", kSlackBody, kSlackSignature, 1531420618 + 60, 300, &error));
  std::string changed = kSlackBody;
  changed[10] ^= 1;
  CHECK(!VerifySlackRequest(kSlackSecret, "1531420618", changed, kSlackSignature, 1531420618, 300, &error));
  CHECK(error == "bad signature");
  std::string sig = kSlackSignature;
  sig.back() = sig.back() == '3' ? '4' : '3';
  CHECK(!VerifySlackRequest(kSlackSecret, "1531420618", kSlackBody, sig, 1531420618, 300, &error));
  CHECK(!VerifySlackRequest(kSlackSecret, "1531420618", kSlackBody, kSlackSignature, 1531420618 + 301, 300, &error));
  CHECK(error.find("stale") != std::string::npos);
  CHECK(!VerifySlackRequest(kSlackSecret, "", kSlackBody, kSlackSignature, 1531420618, 300, &error));
  CHECK(!VerifySlackRequest(kSlackSecret, "1531420618x", kSlackBody, kSlackSignature, 1531420618, 300, &error));
}

// The key is derived once per thread and secret: a signature under another secret in between, or on
// another thread, must not leave the official example signed with the wrong key.
TEST_CASE("Slack: signatures under different secrets and threads never mix their keys", "[slack][conformance]") {
  const std::string other = SlackSignature("another-signing-secret", "1531420618", kSlackBody);
  CHECK(other.size() == std::string(kSlackSignature).size());
  CHECK(other != kSlackSignature);
  CHECK(SlackSignature(kSlackSecret, "1531420618", kSlackBody) == kSlackSignature);
  CHECK(SlackSignature("another-signing-secret", "1531420618", kSlackBody) == other);
  CHECK(SlackSignature(kSlackSecret, "1531420618", kSlackBody) == kSlackSignature);  // the first key again
  std::vector<std::string> on_threads(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < on_threads.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int n = 0; n < 50; ++n) {
        const bool ours = (n + i) % 2 == 0;
        const std::string sig = SlackSignature(ours ? kSlackSecret : "another-signing-secret", "1531420618", kSlackBody);
        if (sig != (ours ? std::string(kSlackSignature) : other)) { on_threads[i] = sig; return; }
      }
      on_threads[i] = "ok";
    });
  }
  for (auto& t : threads) t.join();
  for (const std::string& result : on_threads) CHECK(result == "ok");
}

TEST_CASE("WeCom: the official URL-check and message vectors verify and decrypt", "[wecom][conformance]") {
  {
    WeComCrypto c = Crypto("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7");
    const std::string echostr = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==";
    CHECK(c.Signature("1409659589", "263014780", echostr) == "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3");
    CHECK(c.Verify("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780", echostr));
    std::string error;
    CHECK(c.Decrypt(echostr, &error).value_or("") == "1616140317555161061");
    const std::string enc =
        "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXx"
        "accAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7"
        "PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o"
        "0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==";
    CHECK(c.Verify("477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149", enc));
    auto xml = c.Decrypt(enc, &error);
    REQUIRE(xml);
    CHECK(xml->find("<Content><![CDATA[hello]]></Content>") != std::string::npos);
    CHECK(xml->find("<MsgId>4561255354251345929</MsgId>") != std::string::npos);
    CHECK(xml->find("mycreate") != std::string::npos);
    // A one-character change breaks the signature; the same ciphertext under another corp id is refused.
    CHECK(!c.Verify("477715d11cdb4164915debcba66cb864d751f3e7", "1409659813", "1372623149", enc));
    WeComCrypto other = Crypto("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx0000000000000000");
    CHECK(!other.Decrypt(enc, &error));
    CHECK(error == "the receive id is not our corp id");
    CHECK(!c.Decrypt(enc.substr(0, 44), &error));  // not whole 32-byte blocks
    CHECK(!c.Decrypt("not base64!", &error));
  }
  {
    // The second official set: Chinese content, length counted in UTF-8 bytes.
    WeComCrypto c = Crypto("hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt", "ww1436e0e65a779aee");
    std::string error;
    const std::string echostr = "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==";
    CHECK(c.Verify("012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb", "1476416373", "47744683", echostr));
    CHECK(c.Decrypt(echostr, &error).value_or("") == "1288432023552776189");
    const std::string enc =
        "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00f"
        "T0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EY"
        "JIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+";
    CHECK(c.Verify("0c3914025cb4b4d68103f6bfc8db550f79dcf48e", "1476422779", "1597212914", enc));
    CHECK(c.Decrypt(enc, &error).value_or("") ==
          "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName><CreateTime>1476422779"
          "</CreateTime><MsgType>text</MsgType><Content>你好</Content><MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>");
  }
  {
    // The encryption-side vector, with its random prefix injected.
    WeComCrypto c = Crypto("any-token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wxb11529c136998cb6");
    CHECK(c.Encrypt("我是中文abcd123", "aaaabbbbccccdddd") ==
          "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==");
  }
  std::string error;
  CHECK(!WeComCrypto::Create("t", "too-short", "id", &error));
}

TEST_CASE("WeCom: what we encrypt and sign, Tencent's @wecom/crypto opens; what it seals, we open", "[wecom][conformance]") {
  const std::string token = "QDG6eK", key = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", id = "wx5823bf96d3bd56c7";
  WeComCrypto c = Crypto(token, key, id);
  const std::vector<std::string> messages = {
      "<xml><Content><![CDATA[您的退款申请已提交，工单号 RF-20261127-0001。]]></Content></xml>", "short", std::string(31, 'x'),
      std::string(32, 'y'), std::string(1000, 'z') + "结束"};
  TempDir tmp;
  std::string input = tmp.File("in.jsonl");
  {
    std::ofstream in(input);
    for (size_t i = 0; i < messages.size(); ++i) {
      const std::string enc = c.Encrypt(messages[i], "0123456789abcdef");
      in << json{{"op", "open"}, {"token", token}, {"aes_key", key}, {"timestamp", "1700000000"},
                 {"nonce", std::to_string(i)}, {"encrypt", enc}, {"signature", c.Signature("1700000000", std::to_string(i), enc)}}
                .dump()
         << "\n";
    }
    in << json{{"op", "seal"}, {"token", token}, {"aes_key", key}, {"id", id}, {"message", "来自腾讯的实现"},
               {"timestamp", "1700000001"}, {"nonce", "77"}}
              .dump()
       << "\n";
  }
  CommandRun run = RunCommand("node " RD_SOURCE_DIR "/tests/web/wecom_crypto_check.mjs < " + input);
  REQUIRE(run.code == 0);
  std::istringstream lines(run.out);
  std::string line;
  for (size_t i = 0; i < messages.size(); ++i) {
    REQUIRE(std::getline(lines, line));
    json r = json::parse(line);
    INFO(line);
    CHECK(r["signature_ok"] == true);
    CHECK(r["message"] == messages[i]);
    CHECK(r["id"] == id);
  }
  REQUIRE(std::getline(lines, line));
  json sealed = json::parse(line);
  CHECK(c.Verify(sealed["signature"], "1700000001", "77", sealed["encrypt"]));
  std::string error;
  CHECK(c.Decrypt(sealed["encrypt"], &error).value_or("") == "来自腾讯的实现");
}

TEST_CASE("Slack events: the reader takes the event's own members, wherever Slack puts more", "[slack]") {
  SlackSettings settings;
  settings.signing_secret = "secret";
  settings.bot_token = "xoxb-1";
  settings.bot_user_id = "UBOT";
  const int64_t now = 1700000000;
  const auto intake = [&](const std::string& body) {
    const std::string ts = std::to_string(now);
    return SlackEventIntake(settings, ts, SlackSignature("secret", ts, body), body, now);
  };
  // A real event's shape: nested blocks with their own "type", "text" and "user", authorizations after
  // the event, keys in any order.
  const std::string dm =
      R"({"token":"x","event":{"blocks":[{"type":"rich_text","elements":[{"type":"user","user_id":"UBOT","text":"zzz"}]}],)"
      R"("client_msg_id":"m1","text":"I paid on 2026-11-01 &amp; want a refund","user":"U1","ts":"1700000000.000100",)"
      R"("type":"message","channel":"D42","channel_type":"im","files_count":0},"type":"event_callback",)"
      R"("authorizations":[{"user_id":"UBOT","is_bot":true,"type":"authorization"}],"event_id":"Ev1"})";
  WebhookIntake in = intake(dm);
  REQUIRE(in.kind == WebhookIntake::Kind::kTurn);
  CHECK(in.message.text == "I paid on 2026-11-01 & want a refund");
  CHECK(in.message.channel_user == "D42");
  CHECK(in.message.dedupe_key == "slack:1700000000.000100:D42");

  // A thread reply in a shared channel: one conversation per thread.
  in = intake(R"({"type":"event_callback","event":{"type":"message","channel":"C7","user":"U1","text":"more",)"
              R"("ts":"1700000001.000200","thread_ts":"1700000000.000100"}})");
  REQUIRE(in.kind == WebhookIntake::Kind::kTurn);
  CHECK(in.message.channel_user == "C7/1700000000.000100");

  // A later "event" replaces an earlier one, as in a tree; a text that is not a string is no text.
  in = intake(R"({"type":"event_callback","event":{"type":"message","channel":"D1","bot_id":"B1","text":"first","ts":"1.1"},)"
              R"("event":{"type":"message","channel":"D2","user":"U2","text":"second","ts":"2.2"}})");
  REQUIRE(in.kind == WebhookIntake::Kind::kTurn);
  CHECK(in.message.text == "second");
  CHECK(in.message.channel_user == "D2");
  in = intake(R"({"type":"event_callback","event":{"type":"message","channel":"D1","user":"U1","text":42,"ts":"1.1"}})");
  CHECK(in.kind == WebhookIntake::Kind::kAnswer);
  CHECK(in.answer.status == 200);

  // Ignored, acknowledged: the bot itself, another bot, an edit, a message without a user, an
  // "event" that is not an object.
  for (const std::string& body :
       {std::string(R"({"type":"event_callback","event":{"type":"message","channel":"D1","user":"UBOT","text":"hi","ts":"1.1"}})"),
        std::string(R"({"type":"event_callback","event":{"type":"message","channel":"D1","bot_id":"B1","user":"U9","text":"hi","ts":"1.1"}})"),
        std::string(R"({"type":"event_callback","event":{"type":"message","subtype":"message_changed","channel":"D1","user":"U1","text":"hi","ts":"1.1"}})"),
        std::string(R"({"type":"event_callback","event":{"type":"message","channel":"D1","blocks":[{"user":"U1"}],"text":"hi","ts":"1.1"}})"),
        std::string(R"({"type":"event_callback","event":"message"})")}) {
    INFO(body);
    in = intake(body);
    CHECK(in.kind == WebhookIntake::Kind::kAnswer);
    CHECK(in.answer.status == 200);
    CHECK(in.answer.body.empty());
  }
  // The URL check, and bodies that are not a JSON object.
  in = intake(R"({"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})");
  CHECK(in.answer.body == R"({"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})");
  CHECK(intake(R"(["type","event_callback"])").answer.status == 400);
  CHECK(intake(R"({"type":"event_callback","event":{)").answer.status == 400);
}

TEST_CASE("platform base URLs: https anywhere, plain http only on loopback", "[channels]") {
  BaseUrl b;
  std::string error;
  CHECK(ParseBaseUrl("https://slack.com/api", &b, &error));
  CHECK(b.scheme_host_port == "https://slack.com");
  CHECK(b.path == "/api");
  CHECK(ParseBaseUrl("http://127.0.0.1:8999/api/", &b, &error));
  CHECK(b.path == "/api");
  CHECK(!ParseBaseUrl("http://slack.com/api", &b, &error));
  CHECK(error.find("loopback") != std::string::npos);
  CHECK(!ParseBaseUrl("ftp://x", &b, &error));
}

}  // namespace rd::test
