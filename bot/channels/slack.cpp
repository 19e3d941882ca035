#include "bot/channels/slack.h"

#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <optional>

#include "bot/conversation_service.h"
#include "bot/env.h"
#include "bot/file_types.h"
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


// The members of an Events API body a turn needs, taken as the parser meets them: Slack's bodies
// carry much more (authorizations, rich-text blocks), and a tree of it all was the largest part of
// reading an event. A member given twice counts as its last value, as in a tree; a member that is not
// a string reads as absent.
class SlackEventReader : public nlohmann::json_sax<json> {
 public:
  struct Event {
    std::string type, subtype, user, channel, channel_type, thread_ts, ts, text;
    bool has_user = false, has_bot_id = false, has_thread_ts = false, has_files = false;
  };
  bool is_object = false;
  std::string type, challenge;
  bool has_event = false;  // "event" is an object
  Event event;

  bool null() override { return Scalar(nullptr); }
  bool boolean(bool) override { return Scalar(nullptr); }
  bool number_integer(number_integer_t) override { return Scalar(nullptr); }
  bool number_unsigned(number_unsigned_t) override { return Scalar(nullptr); }
  bool number_float(number_float_t, const string_t&) override { return Scalar(nullptr); }
  bool string(string_t& s) override { return Scalar(&s); }
  bool binary(binary_t&) override { return Scalar(nullptr); }
  bool start_object(std::size_t) override { return Open(true); }
  bool start_array(std::size_t) override { return Open(false); }
  bool end_object() override { return Close(); }
  bool end_array() override { return Close(); }
  bool key(string_t& k) override {
    if (depth_ == 1) {
      top_ = k == "type" ? &type : k == "challenge" ? &challenge : nullptr;
      event_key_ = k == "event";
    } else if (depth_ == 2 && in_event_) {
      field_ = k == "type" ? &event.type : k == "subtype" ? &event.subtype : k == "user" ? &event.user
             : k == "channel" ? &event.channel : k == "channel_type" ? &event.channel_type
             : k == "thread_ts" ? &event.thread_ts : k == "ts" ? &event.ts : k == "text" ? &event.text : nullptr;
      if (k == "user") event.has_user = true;
      if (k == "bot_id") event.has_bot_id = true;
      if (k == "thread_ts") event.has_thread_ts = true;
      if (k == "files") event.has_files = true;
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  bool Scalar(std::string* s) {
    if (depth_ == 1) {
      if (top_) *top_ = s ? std::move(*s) : std::string();
      if (event_key_) { has_event = false; event = Event{}; }
      top_ = nullptr;
      event_key_ = false;
    } else if (depth_ == 2 && in_event_ && field_) {
      *field_ = s ? std::move(*s) : std::string();
      field_ = nullptr;
    }
    return true;
  }
  bool Open(bool object) {
    if (depth_ == 0) is_object = object;
    if (depth_ == 1) {
      if (top_) top_->clear();
      if (event_key_) {  // a later "event" replaces an earlier one, as in a tree
        has_event = object;
        event = Event{};
        in_event_ = object;
      }
      top_ = nullptr;
      event_key_ = false;
    } else if (depth_ == 2 && in_event_ && field_) {
      field_->clear();
      field_ = nullptr;
    }
    ++depth_;
    return true;
  }
  bool Close() {
    if (--depth_ == 1) in_event_ = false;
    return true;
  }
  int depth_ = 0;
  std::string* top_ = nullptr;
  std::string* field_ = nullptr;
  bool event_key_ = false, in_event_ = false;
};

// The conversation key: a DM channel, or a thread in a shared channel ("C123/1700000000.000100").
std::string ConversationKey(const SlackEventReader::Event& event) {
  const bool direct = event.channel_type == "im" || (!event.channel.empty() && event.channel[0] == 'D');
  if (direct) return event.channel;
  return event.channel + "/" + (event.has_thread_ts && !event.thread_ts.empty() ? event.thread_ts : event.ts);
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
      .Member("text", MrkdwnEscape(Utf8Prefix(text, 2900))).EndObject().EndObject();
  const size_t buttons = std::min<size_t>(quick_replies.size(), 24);  // Slack's limit is 25 elements
  if (buttons > 0 || date_picker) {
    w.BeginObject().Member("type", "actions").Key("elements").BeginArray();
    for (size_t i = 0; i < buttons; ++i) {
      w.BeginObject().Member("type", "button").Member("action_id", "qr_" + std::to_string(i))
          .Key("text").BeginObject().Member("type", "plain_text").Member("text", Utf8Prefix(quick_replies[i], 75)).EndObject()
          .Member("value", Utf8Prefix(quick_replies[i], 2000)).EndObject();
    }
    if (date_picker) w.BeginObject().Member("type", "datepicker").Member("action_id", "date").EndObject();
    w.EndArray().EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

bool SlackFileUrlAllowed(const SlackSettings& settings, const std::string& url) {
  BaseUrl base;
  std::string ignored;
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos || !ParseBaseUrl(url, &base, &ignored)) return false;
  std::string host = base.scheme_host_port.substr(scheme_end + 3);
  if (host.find('@') != std::string::npos) return false;  // no user info: "files.slack.com@evil.example"
  if (size_t colon = host.rfind(':'); colon != std::string::npos && host.front() != '[') host.resize(colon);
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return std::find(settings.file_hosts.begin(), settings.file_hosts.end(), host) != settings.file_hosts.end();
}

namespace {

// One file of a file_share event. Members of the wrong type are taken as missing: a signed event is
// still the sender's data.
ChannelFile SlackFile(const SlackSettings& settings, const json& f, size_t index, const InboundMessage& m) {
  const auto text = [&f](const char* key) {
    auto it = f.find(key);
    return it != f.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const auto size = f.find("size");
  ChannelFile file;
  file.file.name = CleanFileName(text("name"));
  file.file.size = size != f.end() && size->is_number_unsigned()
                       ? static_cast<int64_t>(std::min<uint64_t>(size->get<uint64_t>(), INT64_MAX)) : 0;
  // Typed by our allow-list, never by Slack's "mimetype"; the bytes are checked when they arrive.
  const std::optional<std::string> type = ContentTypeForName(file.file.name);
  file.file.content_type = type.value_or("application/octet-stream");
  file.message = m;
  const std::string id = text("id");
  file.message.dedupe_key = m.dedupe_key + ":file:" + (id.empty() ? std::to_string(index) : id);
  // The bytes are fetched by the outbox (url_private needs the bot token), never in this request, and
  // only from Slack's file hosts: the token goes nowhere a signed event names.
  const std::string url = text("url_private");
  if (type && SlackFileUrlAllowed(settings, url)) {
    file.download = OutboxRecord{0, "slack_file", "", json{{"url", url}, {"size", file.file.size}}.dump(), "", 0};
  } else if (!url.empty()) {
    Log(LogLevel::kWarn, {{"event", "slack_file_refused"}, {"reason", type ? "file host not allowed" : "type not allowed"}});
  }
  return file;
}

}  // namespace

WebhookIntake SlackEventIntake(const SlackSettings& settings, const std::string& timestamp, const std::string& signature,
                               const std::string& body_text, int64_t now) {
  if (auto refusal = Refusal(settings, timestamp, signature, body_text, now)) return Answer(std::move(*refusal));
  SlackEventReader body;
  if (!json::sax_parse(body_text, &body) || !body.is_object) {
    return Answer(JsonError(400, "malformed_json", "the body is not a JSON object"));
  }
  if (body.type == "url_verification") {
    HttpResponse r;
    r.body = json{{"challenge", body.challenge}}.dump(-1, ' ', false, json::error_handler_t::replace);
    return Answer(std::move(r));
  }
  // An event type we do not handle: acknowledged, ignored.
  if (body.type != "event_callback" || !body.has_event) return Answer(EmptyAcknowledgement());
  const SlackEventReader::Event& event = body.event;
  // Loops and noise: the bot's own messages, other bots, edits, deletes, joins.
  if ((event.type != "message" && event.type != "app_mention") || event.has_bot_id ||
      (!settings.bot_user_id.empty() && event.user == settings.bot_user_id) ||
      (!event.subtype.empty() && event.subtype != "file_share") || !event.has_user) {
    return Answer(EmptyAcknowledgement());
  }
  if (event.type == "message" && event.channel_type != "im" && event.channel.rfind('D', 0) != 0 && !event.has_thread_ts) {
    return Answer(EmptyAcknowledgement());  // in shared channels the bot answers where it is mentioned (app_mention), or in its threads
  }
  WebhookIntake in;
  InboundMessage& m = in.message;
  m.channel = "slack";
  m.channel_user = ConversationKey(event);
  // One key per Slack message: a retry of the event and the same message arriving as both `message`
  // and `app_mention` are one turn. Its ts first: keys then reach the store's dedupe index in time
  // order (channel ids are random).
  m.dedupe_key = "slack:" + event.ts + ":" + event.channel;
  m.channel_identifies_customer = true;
  m.replies_via_outbox = true;
  m.store_response = false;
  m.text = WithoutMentions(Unescape(event.text));
  if (!IsValidUtf8(m.text)) return Answer(JsonError(400, "invalid_utf8", "the text is not valid UTF-8"));
  if (Trim(m.text).empty()) m.text.clear();
  // A file share (rare): its file list read from a tree of the body.
  json files;
  if (event.has_files) {
    const json tree = json::parse(body_text, nullptr, false);
    const auto ev = tree.is_object() ? tree.find("event") : tree.end();
    if (tree.is_object() && ev != tree.end() && ev->is_object()) files = ev->value("files", json());
  }
  if (files.is_array() && !files.empty()) {
    in.kind = WebhookIntake::Kind::kFiles;
    for (size_t i = 0; i < files.size(); ++i) {
      if (files[i].is_object()) in.files.push_back(SlackFile(settings, files[i], i, m));
    }
    return in;
  }
  if (m.text.empty()) return Answer(EmptyAcknowledgement());
  in.kind = WebhookIntake::Kind::kTurn;
  return in;
}

HttpResponse SlackAcknowledgement(const InboundMessage&, const TurnOutcome& out) {
  // A full conversation (README.md "Security limits"): acknowledged, so Slack does not retry in vain.
  if (out.status.ok() || out.status.code() == Status::Code::kLimit) return EmptyAcknowledgement();
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
    const auto string_in = [&](const char* object, const char* key) {
      auto o = payload.find(object);
      if (o == payload.end() || !o->is_object()) return std::optional<std::string>();
      auto v = o->find(key);
      return v != o->end() && v->is_string() ? std::optional<std::string>(v->get<std::string>()) : std::nullopt;
    };
    SlackEventReader::Event event;  // where the clicked message was, as an event would say
    event.channel = string_in("channel", "id").value_or("");
    const std::optional<std::string> thread = string_in("message", "thread_ts") ? string_in("message", "thread_ts")
                                                                                 : string_in("container", "thread_ts");
    event.has_thread_ts = thread.has_value();
    event.thread_ts = thread.value_or("");
    event.ts = string_in("container", "message_ts").value_or("");
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
