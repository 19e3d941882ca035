#include "bot/channels/wecom.h"

#include <httplib.h>

#include <pugixml.hpp>

#include "bot/channels/wecom_crypto.h"
#include "bot/conversation_service.h"
#include "bot/file_types.h"
#include "bot/http_json.h"
#include "bot/log.h"
#include "dialogs/text.h"

namespace rd {

using nlohmann::json;

namespace {

// WeCom's XML never has a DTD; one in a request is an attack (external entities, "billion laughs").
bool HasDtd(const std::string& xml) {
  for (size_t lt = xml.find("<!"); lt != std::string::npos; lt = xml.find("<!", lt + 2)) {
    auto starts = [&](std::string_view word) {
      if (xml.size() - (lt + 2) < word.size()) return false;
      for (size_t i = 0; i < word.size(); ++i) {
        if (std::toupper(static_cast<unsigned char>(xml[lt + 2 + i])) != word[i]) return false;
      }
      return true;
    };
    if (starts("DOCTYPE") || starts("ENTITY")) return true;
  }
  return false;
}

// Parses without DOCTYPE processing (pugixml never expands custom entities or fetches anything).
bool ParseXml(const std::string& text, pugi::xml_document* doc) {
  if (text.empty() || HasDtd(text)) return false;
  pugi::xml_parse_result r = doc->load_buffer(text.data(), text.size(), pugi::parse_default & ~pugi::parse_doctype);
  return static_cast<bool>(r) && doc->child("xml");
}

std::string Field(const pugi::xml_node& xml, const char* name) { return xml.child(name).text().as_string(); }

// CDATA cannot hold "]]>": split it across two sections.
std::string Cdata(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 12);
  out += "<![CDATA[";
  size_t from = 0;
  for (size_t end = s.find("]]>"); end != std::string::npos; end = s.find("]]>", from)) {
    out.append(s, from, end - from);
    out += "]]]]><![CDATA[>";
    from = end + 3;
  }
  out.append(s, from, std::string::npos);
  out += "]]>";
  return out;
}

WebhookIntake Answer(HttpResponse response) { return WebhookIntake::Answered(std::move(response)); }

}  // namespace

std::unique_ptr<WeComCallback> WeComCallback::Create(const WeComSettings& settings, Random* random, std::string* error) {
  auto crypto = WeComCrypto::Create(settings.token, settings.aes_key, settings.corp_id, error);
  if (!crypto) return nullptr;
  return std::unique_ptr<WeComCallback>(new WeComCallback(std::move(*crypto), random, settings.max_clock_skew_seconds));
}

bool WeComCallback::Fresh(const std::string& timestamp) const {
  if (timestamp.empty() || timestamp.size() > 12 ||
      timestamp.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  const int64_t ts = std::stoll(timestamp), now = SystemClock()->NowUnix();
  return ts >= now - max_skew_ && ts <= now + max_skew_;
}

HttpResponse WeComCallback::VerifyUrl(const std::string& sig, const std::string& ts, const std::string& nonce,
                                      const std::string& echostr) const {
  if (!crypto_.Verify(sig, ts, nonce, echostr)) return JsonError(401, "bad_signature", "msg_signature does not match");
  std::string why;
  auto plain = crypto_.Decrypt(echostr, &why);
  if (!plain) return JsonError(400, "bad_echostr", why);
  HttpResponse r;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(*plain);
  return r;
}

WebhookIntake WeComCallback::Intake(const std::string& sig, const std::string& ts, const std::string& nonce,
                                    const std::string& body) const {
  pugi::xml_document outer;
  if (!ParseXml(body, &outer)) return Answer(JsonError(400, "malformed_xml", "the body is not WeCom's XML"));
  const std::string encrypted = Field(outer.child("xml"), "Encrypt");
  if (encrypted.empty()) return Answer(JsonError(400, "malformed_xml", "no Encrypt element"));
  if (!crypto_.Verify(sig, ts, nonce, encrypted)) {
    Log(LogLevel::kWarn, {{"event", "wecom_refused"}, {"reason", "bad signature"}});
    return Answer(JsonError(401, "bad_signature", "msg_signature does not match"));
  }
  // A signed callback replayed later is refused as Slack's are: its timestamp (signed with it) must be
  // within max_clock_skew_seconds of now.
  if (!Fresh(ts)) {
    Log(LogLevel::kWarn, {{"event", "wecom_refused"}, {"reason", "stale timestamp"}});
    return Answer(JsonError(401, "stale_timestamp", "the timestamp is not within the allowed window"));
  }
  std::string why;
  auto plain = crypto_.Decrypt(encrypted, &why);
  if (!plain) {
    Log(LogLevel::kWarn, {{"event", "wecom_refused"}, {"reason", why}});
    return Answer(JsonError(400, "bad_encrypt", why));
  }
  pugi::xml_document inner;
  if (!ParseXml(*plain, &inner)) return Answer(JsonError(400, "malformed_xml", "the decrypted message is not XML"));
  const pugi::xml_node msg = inner.child("xml");
  const std::string type = Field(msg, "MsgType"), from = Field(msg, "FromUserName"), msg_id = Field(msg, "MsgId");
  // Everything kept (keys, names, the download's payload) is text: bytes that are not UTF-8 are refused
  // here, not met later by a JSON writer (found by fuzzing: a MediaId of 0xFF bytes).
  for (const char* field : {"FromUserName", "MsgId", "CreateTime", "Title", "MediaId"}) {
    if (!IsValidUtf8(Field(msg, field))) {
      return Answer(JsonError(400, "invalid_utf8", std::string(field) + " is not valid UTF-8"));
    }
  }
  // Events and types the bot does not handle: acknowledged, ignored.
  if (from.empty() || (type != "text" && type != "image" && type != "file")) return Answer(EmptyAcknowledgement());
  WebhookIntake in;
  InboundMessage& m = in.message;
  m.channel = "wecom";
  m.channel_user = from;
  // Per sender: a MsgId is unique for one user's messages, so another user's equal MsgId is not a resend.
  m.dedupe_key = "wecom:" + from + ":" + (msg_id.empty() ? "t" + Field(msg, "CreateTime") : msg_id);
  m.channel_identifies_customer = true;
  if (type == "text") {
    m.text = Field(msg, "Content");
    if (!IsValidUtf8(m.text)) return Answer(JsonError(400, "invalid_utf8", "Content is not valid UTF-8"));
    if (Trim(m.text).empty()) return Answer(EmptyAcknowledgement());
    in.kind = WebhookIntake::Kind::kTurn;
    return in;
  }
  // An image (or a file): evidence on the claim, named after the message. Its MediaId expires after
  // three days, so the outbox fetches the bytes (media/get) at once.
  in.kind = WebhookIntake::Kind::kFiles;
  ChannelFile f;
  f.message = m;
  const std::string title = Field(msg, "Title");
  f.file.name = CleanFileName(!title.empty() ? title : (type == "image" ? "image-" + msg_id + ".jpg" : "file-" + msg_id));
  // Typed by our allow-list (the bytes are checked when they arrive), never by what WeCom says.
  const std::optional<std::string> content_type = ContentTypeForName(f.file.name);
  f.file.content_type = content_type.value_or("application/octet-stream");
  const std::string media_id = Field(msg, "MediaId");
  if (!media_id.empty() && content_type) f.download = OutboxRecord{0, "wecom_media", "", json{{"media_id", media_id}}.dump(), "", 0};
  in.files.push_back(std::move(f));
  return in;
}

HttpResponse WeComCallback::Reply(const InboundMessage& message, const TurnOutcome& out) const {
  if (!out.status.ok()) {
    // No answer: WeCom retries the callback, so nothing is lost.
    Log(LogLevel::kError, {{"event", "wecom_turn_failed"}, {"error", out.status.message()}});
    return JsonError(503, "unavailable", "the message could not be stored");
  }
  std::string text;
  const auto add = [&text](const std::string& reply, const std::vector<std::string>& quick_replies) {
    text += (text.empty() ? "" : "\n\n") + reply;
    for (const std::string& q : quick_replies) text += "\n· " + q;
  };
  for (const rd::Reply& r : out.replies) add(r.text, r.quick_replies);
  if (out.replies.empty()) {  // a replay, or a file's turn: the replies are in the answer
    const json answer = out.response_text.empty() ? out.response : json::parse(out.response_text, nullptr, false);
    if (answer.is_object()) {
      if (auto replies = answer.find("replies"); replies != answer.end() && replies->is_array()) {
        for (const auto& r : *replies) add(r.value("text", ""), r.value("quick_replies", std::vector<std::string>{}));
      }
    }
  }
  if (text.empty()) return EmptyAcknowledgement();  // e.g. staff have the conversation: the bot is silent
  // The passive reply: the answer encrypted for WeCom, signed with a fresh timestamp and nonce.
  const std::string now = std::to_string(SystemClock()->NowUnix());
  const std::string reply = "<xml><ToUserName>" + Cdata(message.channel_user) + "</ToUserName><FromUserName>" +
                            Cdata(crypto_.receive_id()) + "</FromUserName><CreateTime>" + now + "</CreateTime><MsgType>" +
                            Cdata("text") + "</MsgType><Content>" + Cdata(text) + "</Content></xml>";
  unsigned char rnd[16];
  random_->Fill(rnd, sizeof rnd);
  static const char kAlnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string prefix, reply_nonce;
  for (unsigned char b : rnd) prefix += kAlnum[b % 62];
  for (int i = 0; i < 10; ++i) reply_nonce += static_cast<char>('0' + rnd[i] % 10);
  const std::string enc = crypto_.Encrypt(reply, prefix);
  HttpResponse r;
  r.content_type = "application/xml; charset=utf-8";
  r.body = "<xml><Encrypt>" + Cdata(enc) + "</Encrypt><MsgSignature>" + Cdata(crypto_.Signature(now, reply_nonce, enc)) +
           "</MsgSignature><TimeStamp>" + now + "</TimeStamp><Nonce>" + Cdata(reply_nonce) + "</Nonce></xml>";
  return r;
}

void RegisterWeComRoutes(httplib::Server& s, const WeComCallback* callback, ConversationService* service) {
  if (!callback) return;
  s.Get("/wecom/callback", [callback](const httplib::Request& req, httplib::Response& res) {
    SendResponse(res, callback->VerifyUrl(req.get_param_value("msg_signature"), req.get_param_value("timestamp"),
                                          req.get_param_value("nonce"), req.get_param_value("echostr")));
  });
  s.Post("/wecom/callback", [callback, service](const httplib::Request& req, httplib::Response& res) {
    WebhookIntake in = callback->Intake(req.get_param_value("msg_signature"), req.get_param_value("timestamp"),
                                        req.get_param_value("nonce"), req.body);
    SendResponse(res, RunWebhookIntake(in, service, [callback](const InboundMessage& m, const TurnOutcome& out) {
                   return callback->Reply(m, out);
                 }));
  });
}

}  // namespace rd
