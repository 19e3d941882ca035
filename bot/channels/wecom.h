// WeCom (企业微信) self-built application callback at /wecom/callback. GET verifies the URL (signature
// over echostr, decrypt, answer the plain text). POST carries encrypted XML: signature checked, AES
// decrypted, receive id checked against the corp id, the inner XML parsed with pugixml (documents with
// a DTD are refused: no external entity, no entity expansion). A text message runs its turn (the HTTP
// loop batches it with other turns) and the answer goes back as a passive encrypted reply; an image or
// a file is recorded as evidence; events and unknown types are acknowledged and ignored. A repeated
// MsgId of the same sender (FromUserName) runs no second turn; a POST whose timestamp is more than
// wecom.max_clock_skew_seconds (default 300) from now is refused (401), like a stale Slack request.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "bot/channels/intake.h"
#include "bot/channels/platform.h"
#include "bot/channels/wecom_crypto.h"
#include "bot/env.h"

namespace httplib { class Server; }

namespace rd {

class ConversationService;

class WeComCallback {
 public:
  // Nothing (with `error`) when the EncodingAESKey is malformed. `random` makes the replies' nonces.
  static std::unique_ptr<WeComCallback> Create(const WeComSettings& settings, Random* random, std::string* error);

  // GET: the URL check WeCom makes when the callback is configured; the decrypted echostr, or 401/400.
  HttpResponse VerifyUrl(const std::string& msg_signature, const std::string& timestamp, const std::string& nonce,
                         const std::string& echostr) const;
  // POST: what the encrypted message asks for (the query's signature, timestamp and nonce, the body).
  WebhookIntake Intake(const std::string& msg_signature, const std::string& timestamp, const std::string& nonce,
                       const std::string& body) const;
  // The answer to a message once its turn ran: the bot's replies as a passive encrypted reply (an
  // empty 200 when the bot stays silent, as when staff hold the conversation); 503 when the turn could
  // not be stored, so that WeCom retries.
  HttpResponse Reply(const InboundMessage& message, const TurnOutcome& outcome) const;

 private:
  WeComCallback(WeComCrypto crypto, Random* random, int64_t max_skew)
      : crypto_(std::move(crypto)), random_(random), max_skew_(max_skew) {}
  // `timestamp` (decimal seconds) within max_skew_ of the system clock.
  bool Fresh(const std::string& timestamp) const;
  WeComCrypto crypto_;
  Random* random_;
  int64_t max_skew_;
};

// Registers the routes when `callback` is set (WeCom configured); otherwise they do not exist (404).
void RegisterWeComRoutes(httplib::Server& server, const WeComCallback* callback, ConversationService* service);

}  // namespace rd
