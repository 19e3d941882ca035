#include "bot/config.h"

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace rd {

using nlohmann::json;

bool LoadConfigFile(const std::string& path, Config* cfg, std::string* error) {
  std::ifstream in(path);
  if (!in) { *error = "cannot read config file " + path; return false; }
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false, /*ignore_comments=*/true);
  if (j.is_discarded() || !j.is_object()) { *error = path + ": not a valid JSON object"; return false; }
  try {
    for (const auto& [key, v] : j.items()) {
      if (key == "host") cfg->host = v.get<std::string>();
      else if (key == "port") cfg->port = v.get<int>();
      else if (key == "db") cfg->db_path = v.get<std::string>();
      else if (key == "knowledge_dir") cfg->knowledge_dir = v.get<std::string>();
      else if (key == "sqlite_synchronous") cfg->sqlite_synchronous = v.get<std::string>();
      else if (key == "utc_offset_minutes") cfg->utc_offset_minutes = v.get<int>();
      else if (key == "idle_timeout_days") cfg->idle_timeout_days = v.get<int>();
      else if (key == "default_lang") cfg->default_lang = v.get<std::string>();
      else if (key == "http_loops") cfg->http_loops = v.get<int>();
      else if (key == "http_threads") cfg->http_threads = v.get<int>();
      else if (key == "max_body_bytes") cfg->max_body_bytes = v.get<size_t>();
      else if (key == "max_upload_bytes") cfg->max_upload_bytes = v.get<size_t>();
      else if (key == "uploads_dir") cfg->uploads_dir = v.get<std::string>();
      else if (key == "log_level") cfg->log_level = v.get<std::string>();
      else if (key == "fixed_now") cfg->fixed_now = v.get<std::string>();
      else if (key == "staff_cookie_secure") cfg->staff_cookie_secure = v.get<bool>();
      else if (key == "public_base_url") cfg->public_base_url = v.get<std::string>();
      else if (key == "outbox_workers") cfg->outbox_workers = v.get<int>();
      else if (key == "outbox_retention_days") cfg->outbox_retention_days = v.get<int>();
      else if (key == "staff_token_days") cfg->staff_token_days = v.get<int>();
      else if (key == "tls_ca_file") cfg->tls_ca_file = v.get<std::string>();
      else if (key == "max_message_chars") cfg->max_message_chars = v.get<size_t>();
      else if (key == "max_conversation_messages") cfg->max_conversation_messages = v.get<int>();
      else if (key == "max_conversation_bytes") cfg->max_conversation_bytes = v.get<size_t>();
      else if (key == "history_page_messages") cfg->history_page_messages = v.get<int>();
      else if (key == "max_uploads_per_conversation") cfg->max_uploads_per_conversation = v.get<int>();
      else if (key == "max_upload_bytes_per_day") cfg->max_upload_bytes_per_day = v.get<size_t>();
      else if (key == "trusted_proxy") cfg->trusted_proxy = v.get<std::string>();
      else if (key == "refusal_delay_ms") cfg->refusal_delay_ms = v.get<int>();
      else if (key == "rate_limits") {
        for (const auto& [k, x] : v.items()) {
          RateLimit* r = k == "new_conversations" ? &cfg->rate_new_conversations : k == "messages" ? &cfg->rate_messages
                       : k == "uploads" ? &cfg->rate_uploads : k == "platform_messages" ? &cfg->rate_platform_messages
                       : k == "refusals" ? &cfg->rate_refusals : nullptr;
          if (!r) { *error = path + ": unknown option \"rate_limits." + k + "\""; return false; }
          for (const auto& [f, y] : x.items()) {
            if (f == "per_minute") r->per_minute = y.get<double>();
            else if (f == "burst") r->burst = y.get<double>();
            else { *error = path + ": unknown option \"rate_limits." + k + "." + f + "\""; return false; }
          }
        }
      }
      else if (key == "slack") {
        for (const auto& [k, x] : v.items()) {
          SlackSettings& sl = cfg->slack;
          if (k == "signing_secret") sl.signing_secret = x.get<std::string>();
          else if (k == "bot_token") sl.bot_token = x.get<std::string>();
          else if (k == "api_base") sl.api_base = x.get<std::string>();
          else if (k == "bot_user_id") sl.bot_user_id = x.get<std::string>();
          else if (k == "staff_channel") sl.staff_channel = x.get<std::string>();
          else if (k == "file_hosts") sl.file_hosts = x.get<std::vector<std::string>>();
          else if (k == "max_clock_skew_seconds") sl.max_clock_skew_seconds = x.get<int64_t>();
          else { *error = path + ": unknown option \"slack." + k + "\""; return false; }
        }
      } else if (key == "wecom") {
        for (const auto& [k, x] : v.items()) {
          WeComSettings& w = cfg->wecom;
          if (k == "corp_id") w.corp_id = x.get<std::string>();
          else if (k == "token") w.token = x.get<std::string>();
          else if (k == "aes_key") w.aes_key = x.get<std::string>();
          else if (k == "agent_id") w.agent_id = x.get<std::string>();
          else if (k == "secret") w.secret = x.get<std::string>();
          else if (k == "api_base") w.api_base = x.get<std::string>();
          else if (k == "robot_webhook") w.robot_webhook = x.get<std::string>();
          else if (k == "max_clock_skew_seconds") w.max_clock_skew_seconds = x.get<int64_t>();
          else { *error = path + ": unknown option \"wecom." + k + "\""; return false; }
        }
      }
      else { *error = path + ": unknown option \"" + key + "\""; return false; }
    }
  } catch (const json::exception& e) {
    *error = path + ": " + e.what();
    return false;
  }
  return true;
}

bool ApplyEnvironment(Config* cfg, std::string* error) {
  auto str = [](const char* name, std::string* out) {
    if (const char* v = std::getenv(name); v && *v) *out = v;
  };
  auto num = [&](const char* name, int* out) {
    if (const char* v = std::getenv(name); v && *v) {
      char* end = nullptr;
      long n = std::strtol(v, &end, 10);
      if (*end != '\0') { *error = std::string(name) + " must be a whole number"; return false; }
      *out = static_cast<int>(n);
    }
    return true;
  };
  str("REFUNDBOT_HOST", &cfg->host);
  str("REFUNDBOT_DB", &cfg->db_path);
  str("REFUNDBOT_KNOWLEDGE_DIR", &cfg->knowledge_dir);
  str("REFUNDBOT_LOG_LEVEL", &cfg->log_level);
  str("REFUNDBOT_FIXED_NOW", &cfg->fixed_now);
  str("REFUNDBOT_PUBLIC_URL", &cfg->public_base_url);
  str("REFUNDBOT_TLS_CA_FILE", &cfg->tls_ca_file);
  str("SLACK_SIGNING_SECRET", &cfg->slack.signing_secret);
  str("SLACK_BOT_TOKEN", &cfg->slack.bot_token);
  str("SLACK_API_BASE", &cfg->slack.api_base);
  str("SLACK_BOT_USER_ID", &cfg->slack.bot_user_id);
  str("SLACK_STAFF_CHANNEL", &cfg->slack.staff_channel);
  str("WECOM_CORP_ID", &cfg->wecom.corp_id);
  str("WECOM_TOKEN", &cfg->wecom.token);
  str("WECOM_AES_KEY", &cfg->wecom.aes_key);
  str("WECOM_AGENT_ID", &cfg->wecom.agent_id);
  str("WECOM_SECRET", &cfg->wecom.secret);
  str("WECOM_API_BASE", &cfg->wecom.api_base);
  str("WECOM_ROBOT_WEBHOOK", &cfg->wecom.robot_webhook);
  if (const char* v = std::getenv("SLACK_FILE_HOSTS"); v && *v) {
    cfg->slack.file_hosts.clear();
    std::stringstream list(v);
    for (std::string host; std::getline(list, host, ',');) {
      if (!host.empty()) cfg->slack.file_hosts.push_back(host);
    }
  }
  return num("REFUNDBOT_PORT", &cfg->port) && num("REFUNDBOT_UTC_OFFSET_MINUTES", &cfg->utc_offset_minutes);
}

bool ValidateConfig(const Config& c, std::string* error) {
  if (c.port < 0 || c.port > 65535) { *error = "port must be 0–65535"; return false; }
  if (c.sqlite_synchronous != "normal" && c.sqlite_synchronous != "full") { *error = "sqlite_synchronous must be normal or full"; return false; }
  if (c.utc_offset_minutes < -720 || c.utc_offset_minutes > 840) { *error = "utc_offset_minutes must be -720–840"; return false; }
  if (c.idle_timeout_days < 1) { *error = "idle_timeout_days must be at least 1"; return false; }
  if (c.default_lang != "zh" && c.default_lang != "en") { *error = "default_lang must be zh or en"; return false; }
  if (c.http_loops < 1 || c.http_loops > 64) { *error = "http_loops must be 1–64"; return false; }
  if (c.http_threads < 1 || c.http_threads > 4096) { *error = "http_threads must be 1–4096"; return false; }
  if (c.max_body_bytes < 1024) { *error = "max_body_bytes must be at least 1024"; return false; }
  if (c.outbox_workers < 1 || c.outbox_workers > 64) { *error = "outbox_workers must be 1–64"; return false; }
  if (c.max_message_chars < 100) { *error = "max_message_chars must be at least 100"; return false; }
  if (c.max_conversation_messages < 50) { *error = "max_conversation_messages must be at least 50"; return false; }
  if (c.max_conversation_bytes < 64 * 1024) { *error = "max_conversation_bytes must be at least 64 KiB"; return false; }
  if (c.history_page_messages < 1 || c.history_page_messages > 1000) { *error = "history_page_messages must be 1–1000"; return false; }
  if (c.max_uploads_per_conversation < 1) { *error = "max_uploads_per_conversation must be at least 1"; return false; }
  if (c.max_upload_bytes_per_day < c.max_upload_bytes) { *error = "max_upload_bytes_per_day must be at least max_upload_bytes"; return false; }
  if (c.refusal_delay_ms < 0 || c.refusal_delay_ms > 10000) { *error = "refusal_delay_ms must be 0–10000"; return false; }
  for (const RateLimit* r : {&c.rate_new_conversations, &c.rate_messages, &c.rate_uploads, &c.rate_platform_messages,
                             &c.rate_refusals}) {
    if (r->per_minute < 0 || (r->per_minute > 0 && r->burst < 1)) {
      *error = "rate_limits: per_minute must be ≥ 0 (0 = off) and burst ≥ 1";
      return false;
    }
  }
  if (c.outbox_retention_days < 1) { *error = "outbox_retention_days must be at least 1"; return false; }
  if (c.staff_token_days < 1 || c.staff_token_days > 3650) { *error = "staff_token_days must be 1–3650"; return false; }
  if (c.slack.max_clock_skew_seconds < 1 || c.wecom.max_clock_skew_seconds < 1) {
    *error = "max_clock_skew_seconds must be at least 1";
    return false;
  }
  BaseUrl ignored;
  if (c.slack.enabled() && !ParseBaseUrl(c.slack.api_base, &ignored, error)) return false;
  if (c.wecom.enabled() && !ParseBaseUrl(c.wecom.api_base, &ignored, error)) return false;
  if (!c.wecom.robot_webhook.empty() && !ParseBaseUrl(c.wecom.robot_webhook, &ignored, error)) return false;
  if (c.max_upload_bytes < 1024 || c.max_upload_bytes > (size_t{1} << 30)) {
    *error = "max_upload_bytes must be 1 KiB–1 GiB";
    return false;
  }
  return true;
}

}  // namespace rd
