#include "bot/channels/slack.h"

#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstdlib>
#include <optional>

#include "bot/conversation_service.h"
#include "bot/env.h"
#include "bot/http_json.h"
#include "bot/log.h"
#include "dialogs/text.h"
#include "storage/json_writer.h"

namespace rd {

using nlohmann::json;

namespace {

// HMAC-SHA256 keyed once per thread and secret. OpenSSL's one-shot HMAC() fetches both algorithms by
// name and derives the key's pads on every call: 2.6 % of the bot's CPU per Slack turn, more than
// hashing the event. EVP_MAC_init without a key starts again from the pads already derived.
class ThreadHmacSha256 {
 public:
  // The context for `secret`, ready for EVP_MAC_update; nullptr when OpenSSL fails.
  static EVP_MAC_CTX* Begin(const std::string& secret) {
    thread_local ThreadHmacSha256 hmac;
    return hmac.Start(secret);
  }

 private:
  ThreadHmacSha256() = default;
  ~ThreadHmacSha256() { EVP_MAC_CTX_free(ctx_); }

  EVP_MAC_CTX* Start(const std::string& secret) {
    if (ctx_ && secret == secret_) return EVP_MAC_init(ctx_, nullptr, 0, nullptr) == 1 ? ctx_ : nullptr;
    static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    EVP_MAC_CTX_free(ctx_);
    ctx_ = mac ? EVP_MAC_CTX_new(mac) : nullptr;
    secret_.clear();
    if (!ctx_) return nullptr;
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0), OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(ctx_, reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), params) != 1) return nullptr;
    secret_ = secret;
    return ctx_;
  }

  EVP_MAC_CTX* ctx_ = nullptr;
  std::string secret_;  // the key ctx_ holds; empty when none
};

}  // namespace

std::string SlackSignature(const std::string& secret, const std::string& timestamp, const std::string& body) {
  EVP_MAC_CTX* ctx = ThreadHmacSha256::Begin(secret);
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t len = 0;
  const auto update = [&](std::string_view part) {
    return EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(part.data()), part.size()) == 1;
  };
  // No signature at all rather than a wrong one: "" never equals what Slack sent.
  if (!ctx || !update("v0:") || !update(timestamp) || !update(":") || !update(body) ||
      EVP_MAC_final(ctx, mac, &len, sizeof mac) != 1) {
    return "";
  }
  return "v0=" + Hex(mac, len);
}

bool VerifySlackRequest(const std::string& secret, const std::string& timestamp, const std::string& body,
                        const std::string& signature, int64_t now, int64_t max_skew, std::string* error) {
  if (timestamp.empty() || signature.empty()) { *error = "missing X-Slack-Request-Timestamp or X-Slack-Signature"; return false; }
  char* end = nullptr;
  const long long ts = std::strtoll(timestamp.c_str(), &end, 10);
  if (*end != '\0' || timestamp.size() > 12) { *error = "malformed timestamp"; return false; }
  if (std::llabs(now - ts) > max_skew) { *error = "stale timestamp (replay?)"; return false; }
  const std::string expected = SlackSignature(secret, timestamp, body);
  if (expected.empty()) { *error = "the signature could not be computed (OpenSSL)"; return false; }
  if (signature.size() != expected.size() || CRYPTO_memcmp(signature.data(), expected.data(), expected.size()) != 0) {
    *error = "bad signature";
    return false;
  }
  return true;
}

namespace {

// "<@U123> refund please" -> "refund please": mentions address the bot, they are not the message.
std::string WithoutMentions(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, 2, "<@") == 0) {
      size_t close = text.find('>', i);
      if (close != std::string::npos) { i = close + 1; continue; }
    }
    out += text[i++];
  }
  return Trim(out);
}

// Slack sends &, < and > escaped in message text.
std::string Unescape(std::string s) {
  for (auto [from, to] : {std::pair<const char*, const char*>{"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}}) {
    for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + 1)) s.replace(p, std::strlen(from), to);
  }
  return s;
}

// The 401 for a request that is not Slack's (unsigned, forged, stale), logged; nothing when it is.
std::optional<HttpResponse> Refusal(const SlackSettings& settings, const std::string& timestamp,
                                    const std::string& signature, const std::string& body, int64_t now) {
  std::string error;
  if (VerifySlackRequest(settings.signing_secret, timestamp, body, signature, now, settings.max_clock_skew_seconds,
                         &error)) {
    return std::nullopt;
  }
  Log(LogLevel::kWarn, {{"event", "slack_refused"}, {"reason", error}});
  return JsonError(401, "bad_signature", error);
}

WebhookIntake Answer(HttpResponse response) { return WebhookIntake::Answered(std::move(response)); }

// Slack's mrkdwn treats &, < and > as markup.
std::string MrkdwnEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

std::string_view Truncated(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // never cut a UTF-8 sequence
  return s.substr(0, n);
}

// The conversation key: a DM channel, or a thread in a shared channel ("C123/1700000000.000100").
std::string ConversationKey(const json& event) {
  const std::string channel = event.value("channel", "");
  const bool direct = event.value("channel_type", "") == "im" || (!channel.empty() && channel[0] == 'D');
  if (direct) return channel;
  const std::string thread = event.contains("thread_ts") && event["thread_ts"].is_string() ? event["thread_ts"].get<std::string>()
                                                                                             : event.value("ts", "");
  return channel + "/" + thread;
}

}  // namespace

std::string SlackPostBody(std::string_view channel, std::string_view thread_ts, std::string_view text,
                          const std::vector<std::string>& quick_replies, bool date_picker) {
  // Written straight to text (JsonWriter): as a tree it was a sixth of a Slack delivery's CPU.
  JsonWriter w;
  w.BeginObject().Member("channel", channel).Member("text", text);
  if (!thread_ts.empty()) w.Member("thread_ts", thread_ts);
  w.Key("blocks").BeginArray();
  w.BeginObject().Member("type", "section").Key("text").BeginObject().Member("type", "mrkdwn")
      .Member("text", MrkdwnEscape(Truncated(text, 2900))).EndObject().EndObject();
  const size_t buttons = std::min<size_t>(quick_replies.size(), 24);  // Slack's limit is 25 elements
  if (buttons > 0 || date_picker) {
    w.BeginObject().Member("type", "actions").Key("elements").BeginArray();
    for (size_t i = 0; i < buttons; ++i) {
      w.BeginObject().Member("type", "button").Member("action_id", "qr_" + std::to_string(i))
          .Key("text").BeginObject().Member("type", "plain_text").Member("text", Truncated(quick_replies[i], 75)).EndObject()
          .Member("value", Truncated(quick_replies[i], 2000)).EndObject();
    }
    if (date_picker) w.BeginObject().Member("type", "datepicker").Member("action_id", "date").EndObject();
    w.EndArray().EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

WebhookIntake SlackEventIntake(const SlackSettings& settings, const std::string& timestamp, const std::string& signature,
                               const std::string& body_text, int64_t now) {
  if (auto refusal = Refusal(settings, timestamp, signature, body_text, now)) return Answer(std::move(*refusal));
  json body = json::parse(body_text, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return Answer(JsonError(400, "malformed_json", "the body is not a JSON object"));
  const std::string type = body.value("type", "");
  if (type == "url_verification") {
    HttpResponse r;
    r.body = json{{"challenge", body.value("challenge", "")}}.dump(-1, ' ', false, json::error_handler_t::replace);
    return Answer(std::move(r));
  }
  // An event type we do not handle: acknowledged, ignored.
  if (type != "event_callback" || !body.contains("event") || !body["event"].is_object()) return Answer(EmptyAcknowledgement());
  const json& event = body["event"];
  const std::string etype = event.value("type", "");
  const std::string subtype = event.value("subtype", "");
  // Loops and noise: the bot's own messages, other bots, edits, deletes, joins.
  if ((etype != "message" && etype != "app_mention") || event.contains("bot_id") ||
      (!settings.bot_user_id.empty() && event.value("user", "") == settings.bot_user_id) ||
      (!subtype.empty() && subtype != "file_share") || !event.contains("user")) {
    return Answer(EmptyAcknowledgement());
  }
  if (etype == "message" && event.value("channel_type", "") != "im" && event.value("channel", "").rfind('D', 0) != 0 &&
      !event.contains("thread_ts")) {
    return Answer(EmptyAcknowledgement());  // in shared channels the bot answers where it is mentioned (app_mention), or in its threads
  }
  WebhookIntake in;
  InboundMessage& m = in.message;
  m.channel = "slack";
  m.channel_user = ConversationKey(event);
  // One key per Slack message: a retry of the event and the same message arriving as both `message`
  // and `app_mention` are one turn. Its ts first: keys then reach the store's dedupe index in time
  // order (channel ids are random).
  m.dedupe_key = "slack:" + event.value("ts", "") + ":" + event.value("channel", "");
  m.channel_identifies_customer = true;
  m.replies_via_outbox = true;
  m.store_response = false;
  m.text = WithoutMentions(Unescape(event.value("text", "")));
  if (!IsValidUtf8(m.text)) return Answer(JsonError(400, "invalid_utf8", "the text is not valid UTF-8"));
  if (Trim(m.text).empty()) m.text.clear();
  if (event.contains("files") && event["files"].is_array() && !event["files"].empty()) {
    in.kind = WebhookIntake::Kind::kFiles;
    for (size_t i = 0; i < event["files"].size(); ++i) {
      const json& f = event["files"][i];
      ChannelFile file;
      file.file.name = f.value("name", "file");
      file.file.size = f.value("size", int64_t{0});
      file.file.content_type = f.value("mimetype", "application/octet-stream");
      file.message = m;
      file.message.dedupe_key = m.dedupe_key + ":file:" + f.value("id", std::to_string(i));
      // The bytes are fetched by the outbox (url_private needs the bot token), never in this request.
      if (f.contains("url_private") && f["url_private"].is_string()) {
        file.download = OutboxRecord{0, "slack_file", "", json{{"url", f["url_private"]}, {"size", file.file.size}}.dump(), "", 0};
      }
      in.files.push_back(std::move(file));
    }
    return in;
  }
  if (m.text.empty()) return Answer(EmptyAcknowledgement());
  in.kind = WebhookIntake::Kind::kTurn;
  return in;
}

HttpResponse SlackAcknowledgement(const InboundMessage&, const TurnOutcome& out) {
  if (out.status.ok()) return EmptyAcknowledgement();
  // Not stored: a 5xx makes Slack retry the delivery, so nothing is lost.
  Log(LogLevel::kError, {{"event", "slack_turn_failed"}, {"error", out.status.message()}});
  return JsonError(503, "unavailable", "the message could not be stored");
}

void RegisterSlackRoutes(httplib::Server& s, const SlackSettings& settings, ConversationService* service) {
  if (!settings.enabled()) return;

  s.Post("/slack/events", [settings, service](const httplib::Request& req, httplib::Response& res) {
    WebhookIntake in = SlackEventIntake(settings, req.get_header_value("X-Slack-Request-Timestamp"),
                                        req.get_header_value("X-Slack-Signature"), req.body, SystemClock()->NowUnix());
    SendResponse(res, RunWebhookIntake(in, service, SlackAcknowledgement));
  });

  s.Post("/slack/interactivity", [settings, service](const httplib::Request& req, httplib::Response& res) {
    if (auto refusal = Refusal(settings, req.get_header_value("X-Slack-Request-Timestamp"),
                               req.get_header_value("X-Slack-Signature"), req.body, SystemClock()->NowUnix())) {
      return SendResponse(res, *refusal);
    }
    const std::string raw = req.has_param("payload") ? req.get_param_value("payload") : "";
    json payload = json::parse(raw, nullptr, false);
    if (payload.is_discarded() || !payload.is_object()) return SendError(res, 400, "malformed_payload", "payload is not JSON");
    if (payload.value("type", "") != "block_actions" || !payload.contains("actions") || !payload["actions"].is_array() ||
        payload["actions"].empty()) {
      res.status = 200;
      return;
    }
    const json& action = payload["actions"][0];
    std::string text;
    if (action.value("type", "") == "datepicker") text = action.value("selected_date", "");
    else text = action.value("value", "");
    if (Trim(text).empty() || !IsValidUtf8(text)) {
      res.status = 200;
      return;
    }
    json event = {{"channel", payload.value("channel", json::object()).value("id", "")}};
    const json container = payload.value("container", json::object());
    const json message = payload.value("message", json::object());
    if (message.contains("thread_ts")) event["thread_ts"] = message["thread_ts"];
    else if (container.contains("thread_ts")) event["thread_ts"] = container["thread_ts"];
    event["ts"] = container.value("message_ts", "");
    InboundMessage m;
    m.channel = "slack";
    m.channel_user = ConversationKey(event);
    m.text = text;
    m.dedupe_key = "slack:action:" + action.value("action_ts", payload.value("trigger_id", ""));
    m.channel_identifies_customer = true;
    m.replies_via_outbox = true;
    m.store_response = false;
    SendResponse(res, SlackAcknowledgement(m, service->HandleChannelMessage(m)));
  });
}

}  // namespace rd
