// What the bot knows of the chat platforms it talks to (configuration, outgoing HTTP) — shared by the
// channel adapters and the outbox worker.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rd {

// Per-platform settings. A platform whose secrets are missing is off: its routes answer 404 and nothing
// is sent to it. Secrets come from the environment (SLACK_SIGNING_SECRET, ...) or the config file.
struct SlackSettings {
  std::string signing_secret;
  std::string bot_token;                       // xoxb-…
  std::string api_base = "https://slack.com/api";
  std::string bot_user_id;                     // the bot's own user: its messages are ignored
  std::string staff_channel;                   // where staff notices go (optional)
  int64_t max_clock_skew_seconds = 300;
  // Hosts url_private may name: the bot token is sent to these only (tests add their loopback host).
  std::vector<std::string> file_hosts = {"files.slack.com"};
  bool enabled() const { return !signing_secret.empty() && !bot_token.empty(); }
};

struct WeComSettings {
  std::string corp_id, token, aes_key, agent_id, secret;
  std::string api_base = "https://qyapi.weixin.qq.com/cgi-bin";
  std::string robot_webhook;                   // group robot for staff notices (optional, full URL)
  int64_t max_clock_skew_seconds = 300;        // a callback's timestamp at most this far from now
  bool enabled() const { return !corp_id.empty() && !token.empty() && !aes_key.empty(); }
};

// "https://host[:port]/path" split into origin and path; plain "http://" only for loopback hosts, so a
// misconfigured base URL cannot send a token in clear text over a network.
struct BaseUrl {
  std::string scheme_host_port;  // "https://slack.com"
  std::string path;              // "/api"
};
bool ParseBaseUrl(const std::string& url, BaseUrl* out, std::string* error);

}  // namespace rd
