// What a platform's webhook request asks of the bot, decided before any turn runs: the signature
// checked, the body decrypted and parsed. Both of the bot's paths start here: the HTTP loop batches the
// text turns (bot/http_server.cpp), the router runs what is left (files: their download and the
// evidence turn block on locks the loop must not wait for).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bot/conversation_service.h"
#include "bot/http_loop.h"

namespace rd {

// A file a platform user sent, and the outbox job that fetches its bytes (when the platform lets us).
struct ChannelFile {
  InboundMessage message;
  AttachmentRecord file;
  std::optional<OutboxRecord> download;
};

struct WebhookIntake {
  enum class Kind {
    kAnswer,  // answered as it stands: refused (401/400), a challenge, an event the bot ignores (200)
    kTurn,    // a text message: `message` runs one turn
    kFiles,   // files: each in `files` is recorded as evidence, then `message` runs if its text is not empty
  };
  Kind kind = Kind::kAnswer;
  HttpResponse answer;
  InboundMessage message;
  std::vector<ChannelFile> files;

  // kAnswer with `response`.
  static WebhookIntake Answered(HttpResponse response);
};

// The platforms' "taken, nothing to say": 200 with an empty body.
HttpResponse EmptyAcknowledgement();

// Runs what `intake` asks for, one turn after the other on the calling thread (the router's path), and
// returns the answer: `render` of the last turn; the first failed turn's when one fails (the platform
// then retries, and the turns already taken are answered from the store).
HttpResponse RunWebhookIntake(const WebhookIntake& intake, ConversationService* service,
                              const std::function<HttpResponse(const InboundMessage&, const TurnOutcome&)>& render);

}  // namespace rd
