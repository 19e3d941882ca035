// Process configuration: defaults, then the JSON config file (comments allowed), then environment
// variables (REFUNDBOT_*; secrets belong there or in a root-readable file), then command-line flags.
#pragma once

#include <string>
#include <vector>

#include "bot/channels/platform.h"
#include "bot/rate_limit.h"

namespace rd {

struct Config {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string db_path = "data/refunddesk.sqlite3";
  std::string knowledge_dir = "knowledge";
  std::string sqlite_synchronous = "normal";  // normal | full (see storage/sqlite_store.h)
  int utc_offset_minutes = 480;               // the zone whose calendar decides "today" (+08:00)
  int idle_timeout_days = 7;                  // a claim idle longer than this expires
  std::string default_lang = "zh";            // when the first message does not tell
  int http_loops = 1;                         // event-loop threads owning the connections (bot/http_loop.h)
  int http_threads = 16;                      // workers running the routes other than chat turns
  size_t max_body_bytes = 64 * 1024;
  size_t max_upload_bytes = 10 * 1024 * 1024;  // evidence files (POST /api/chat/upload)
  std::string uploads_dir;                      // where they are kept; empty: "uploads" beside the database
  std::string log_level = "info";
  std::string fixed_now;                      // tests and demos: "2026-11-27T10:00:00Z" stops the clock
  bool staff_cookie_secure = false;           // mark the staff login cookie Secure (serve over HTTPS)
  std::string public_base_url = "http://localhost:8080";  // links in staff notices point here
  int outbox_workers = 4;                     // threads delivering to Slack/WeCom
  int outbox_retention_days = 7;              // delivered outbox rows are deleted after this many days
  int staff_token_days = 90;                  // API tokens (refundbot staff token) expire after this many days
  std::string tls_ca_file = "/etc/ssl/certs/ca-certificates.crt";  // CA bundle for the platforms' HTTPS
  // Security limits (README.md "Security limits"): what one message, one conversation and one client may
  // cost.
  size_t max_message_chars = 4000;             // a customer message, in characters (longer: 413 on the web)
  int max_conversation_messages = 2000;        // transcript entries (customer, bot, staff); then 429
  size_t max_conversation_bytes = 2 * 1024 * 1024;  // UTF-8 bytes of the transcript's texts; then 429
  int history_page_messages = 100;             // default page of history and the staff view (max 1000)
  int max_uploads_per_conversation = 20;
  size_t max_upload_bytes_per_day = 100 * 1024 * 1024;  // per conversation per UTC day
  // Token buckets per client address (web) or platform user (Slack, WeCom): per minute, burst.
  RateLimit rate_new_conversations{20, 20};
  RateLimit rate_messages{120, 60};
  RateLimit rate_uploads{10, 10};
  RateLimit rate_platform_messages{60, 30};
  // Refused requests per client (413, 429, bad chat bodies): past this bucket each refusal is held
  // refusal_delay_ms before it is sent (a tarpit for floods).
  RateLimit rate_refusals{60, 10};
  int refusal_delay_ms = 1000;
  std::string trusted_proxy;                   // the reverse proxy's address: read its X-Forwarded-For
  SlackSettings slack;                        // off unless signing secret and bot token are set
  WeComSettings wecom;                        // off unless corp id, token and AES key are set
};

// Reads `path` into `cfg` (only the keys present change). False with `error` on a bad file or value.
bool LoadConfigFile(const std::string& path, Config* cfg, std::string* error);
// Applies REFUNDBOT_HOST, REFUNDBOT_PORT, REFUNDBOT_DB, REFUNDBOT_KNOWLEDGE_DIR, REFUNDBOT_LOG_LEVEL,
// REFUNDBOT_UTC_OFFSET_MINUTES, REFUNDBOT_FIXED_NOW, REFUNDBOT_PUBLIC_URL, REFUNDBOT_TLS_CA_FILE and the channel secrets
// (SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_BASE, SLACK_BOT_USER_ID, SLACK_STAFF_CHANNEL,
// WECOM_CORP_ID, WECOM_TOKEN, WECOM_AES_KEY, WECOM_AGENT_ID, WECOM_SECRET, WECOM_API_BASE,
// WECOM_ROBOT_WEBHOOK) when set, and SLACK_FILE_HOSTS (comma-separated).
bool ApplyEnvironment(Config* cfg, std::string* error);
// Checks ranges and enumerations.
bool ValidateConfig(const Config& cfg, std::string* error);

}  // namespace rd
