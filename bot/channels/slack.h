// Slack: the Events API (POST /slack/events) and interactivity (POST /slack/interactivity). Requests are
// verified (HMAC-SHA256 over "v0:{timestamp}:{raw body}" with the signing secret, constant-time, at most
// 5 minutes old) before anything is parsed; unsigned or stale requests get 401 and store nothing. A
// message event runs its turn at once (milliseconds; the HTTP loop batches it with other turns) and is
// acknowledged once stored; the replies go out through the outbox. Retries and the same message seen
// twice (message + app_mention) never run a turn twice.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "bot/channels/intake.h"
#include "bot/channels/platform.h"

namespace httplib { class Server; }

namespace rd {

class ConversationService;

// "v0=" + hex(HMAC-SHA256(secret, "v0:" + timestamp + ":" + body)).
std::string SlackSignature(const std::string& signing_secret, const std::string& timestamp, const std::string& body);
// True when `signature` is right and `timestamp` within `max_skew` seconds of `now`; else `error` says why.
bool VerifySlackRequest(const std::string& signing_secret, const std::string& timestamp, const std::string& body,
                        const std::string& signature, int64_t now, int64_t max_skew, std::string* error);

// True when `url` is https:// (http:// for loopback, tests) on one of settings.file_hosts exactly:
// the only URLs the outbox sends the bot token to when it fetches a shared file.
bool SlackFileUrlAllowed(const SlackSettings& settings, const std::string& url);

// What an Events API request asks for: refused (401) unless signed and at most
// settings.max_clock_skew_seconds from `now`; a challenge answered; a DM, a thread reply or a mention
// of the bot as a turn (a file share as kFiles); anything else (other bots, edits, unknown types)
// acknowledged and ignored.
WebhookIntake SlackEventIntake(const SlackSettings& settings, const std::string& timestamp,
                               const std::string& signature, const std::string& body, int64_t now);
// Slack's answer to a message once its turn ran: 200 when stored (replies go through the outbox), else
// 503 so that Slack retries the delivery and nothing is lost.
HttpResponse SlackAcknowledgement(const InboundMessage& message, const TurnOutcome& outcome);

// A chat.postMessage body: `text` as a mrkdwn section, with `quick_replies` as buttons (action ids
// qr_0, qr_1, ...; a click comes back as the label) and a datepicker (action id "date") when
// `date_picker`. `thread_ts` empty: not in a thread. Built once, when the turn queues the reply.
std::string SlackPostBody(std::string_view channel, std::string_view thread_ts, std::string_view text,
                          const std::vector<std::string>& quick_replies, bool date_picker);

// Registers the routes when Slack is configured; otherwise they do not exist (404).
void RegisterSlackRoutes(httplib::Server& server, const SlackSettings& settings, ConversationService* service);

}  // namespace rd
