#include "bot/outbox.h"

#include <pthread.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "bot/channels/platform_http.h"
#include "bot/channels/slack.h"
#include "bot/file_types.h"
#include "bot/log.h"
#include "dialogs/text.h"
#include "storage/json_writer.h"

namespace rd {

using nlohmann::json;

namespace {

// RFC 3986 unreserved characters stay, everything else is %XX: for tokens and ids in a query.
std::string QueryEscape(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// A slack_message row (queued before slack_post existed) as a chat.postMessage body; members of the
// wrong type read as absent.
std::string LegacySlackBody(const json& p) {
  const auto member = [&](const char* key) { return p.is_object() ? p.find(key) : p.end(); };
  const auto field = [&](const char* key) {
    auto it = member(key);
    return it != p.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::vector<std::string> quick;
  if (auto it = member("quick_replies"); it != p.end() && it->is_array()) {
    for (const auto& q : *it) quick.push_back(q.is_string() ? q.get<std::string>() : std::string());
  }
  const auto date_picker = member("date_picker");
  return SlackPostBody(field("channel"), field("thread_ts"), field("text"), quick,
                       date_picker != p.end() && date_picker->is_boolean() && date_picker->get<bool>());
}

}  // namespace

OutboxWorker::OutboxWorker(Store* store, const SlackSettings& slack, const WeComSettings& wecom, OutboxOptions options,
                           DownloadSink on_download)
    : store_(store), slack_(slack), wecom_(wecom), options_(options), on_download_(std::move(on_download)) {}

OutboxWorker::~OutboxWorker() { Stop(); }

void OutboxWorker::Start() {
  // Rows the previous process was sending when it died: it cannot finish them, so they are due now.
  Status st = store_->ReleaseOutboxClaims(clock_->NowUnix());
  if (!st.ok()) Log(LogLevel::kError, {{"event", "outbox_release_failed"}, {"error", st.message()}});
  PurgeIfDue();
  store_->SetOutboxSink(this);
  for (int i = 0; i < options_.workers; ++i) {
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "rd-outbox");  // named for top -H and webhook_bench
      Loop();
    });
  }
}

void OutboxWorker::Stop() {
  // Rows committed from now on stay pending (or, handed and not sent, leased): the next start sends them.
  if (!threads_.empty()) store_->SetOutboxSink(nullptr);
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

int64_t OutboxWorker::LeaseUntil() { return clock_->NowUnix() + options_.lease_seconds; }

void OutboxWorker::Take(OutboxHandoff handoff) {
  {
    std::lock_guard<std::mutex> l(mu_);
    for (OutboxRecord& row : handoff.rows) handed_.push_back(std::move(row));
    for (const std::string& target : handoff.blocked_targets) ++waiting_behind_[target];
  }
  if (!handoff.rows.empty()) cv_.notify_one();
}

void OutboxWorker::Loop() {
  std::vector<OutboxRecord> rows;
  std::vector<Store::OutboxOutcome> outcomes;
  while (true) {
    rows.clear();
    bool claim = false;
    {
      std::unique_lock<std::mutex> l(mu_);
      const auto has_work = [&] { return stopping_ || !handed_.empty() || claim_wanted_; };
      // Nothing for 500 ms: look for retries that came due.
      if (!has_work() && !cv_.wait_for(l, std::chrono::milliseconds(500), has_work)) claim = true;
      if (stopping_) return;
      for (; !handed_.empty() && rows.size() < static_cast<size_t>(options_.batch); handed_.pop_front()) {
        rows.push_back(std::move(handed_.front()));
      }
      if (!handed_.empty()) cv_.notify_one();  // more than a batch: another worker takes the rest
      if (rows.empty() && claim_wanted_) {
        claim = true;
        claim_wanted_ = false;
      }
    }
    if (rows.empty() && claim) {
      PurgeIfDue();
      const int64_t now = clock_->NowUnix();
      // A batch per claim and one transaction for its outcomes: the store's writer is shared with the
      // customers' turns, and two commits per message would take it from them.
      Status st = store_->ClaimOutbox(now, now + options_.lease_seconds, options_.batch, &rows);
      if (!st.ok()) Log(LogLevel::kError, {{"event", "outbox_claim_failed"}, {"error", st.message()}});
      std::lock_guard<std::mutex> l(mu_);
      if (rows.size() == static_cast<size_t>(options_.batch)) claim_wanted_ = true;  // a full batch: more may be due
      for (const OutboxRecord& row : rows) {
        // A first attempt claimed here was queued behind another row (or before a restart).
        auto it = row.attempts == 1 ? waiting_behind_.find(row.target) : waiting_behind_.end();
        if (it != waiting_behind_.end() && --it->second == 0) waiting_behind_.erase(it);
      }
    }
    if (rows.empty()) continue;
    outcomes.clear();
    std::vector<Result> results;
    try {
      results = DeliverAll(rows);
    } catch (const std::exception& e) {  // a bug met delivering: these rows fail, the worker goes on
      Log(LogLevel::kError, {{"event", "outbox_exception"}, {"error", e.what()}});
      results.assign(rows.size(), {Outcome::kFailed, 0, {{"error", "internal error"}}});
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      const OutboxRecord& row = rows[i];
      const Result& r = results[i];
      const int64_t after = clock_->NowUnix();
      std::string_view outcome = "delivered";
      int64_t delay = 0;
      if (r.outcome == Outcome::kDelivered) {
        outcomes.push_back({row.id, "delivered", r.detail, 0});
      } else if (r.outcome == Outcome::kRetry && row.attempts < options_.max_attempts) {
        delay = r.retry_after_seconds > 0
                    ? r.retry_after_seconds
                    : std::min<int64_t>(options_.max_backoff_seconds, int64_t{1} << std::min(row.attempts - 1, 20));
        outcomes.push_back({row.id, "pending", r.detail, after + delay});
        outcome = "retry";
      } else {
        outcomes.push_back({row.id, "failed", r.detail, 0});
        outcome = "failed";
      }
      const LogLevel level = r.outcome == Outcome::kDelivered ? LogLevel::kDebug : LogLevel::kWarn;
      if (!LogEnabled(level)) continue;
      json line = {{"event", "outbox"}, {"id", row.id}, {"kind", row.kind}, {"attempt", row.attempts}, {"outcome", outcome}};
      if (outcome == "retry") line["retry_in_s"] = delay;
      if (outcome != "delivered") line["detail"] = r.detail;
      Log(level, line);
    }
    Status st = store_->RecordOutboxOutcomes(outcomes, clock_->NowUnix());
    if (!st.ok()) Log(LogLevel::kError, {{"event", "outbox_record_failed"}, {"error", st.message()}});
    // Rows waiting behind these are due now (behind a retry, the claim finds nothing: the 500 ms poll
    // takes them once the retry is done).
    bool unblocked = false;
    {
      std::lock_guard<std::mutex> l(mu_);
      for (const OutboxRecord& row : rows) unblocked = unblocked || waiting_behind_.count(row.target) > 0;
      if (unblocked) claim_wanted_ = true;
    }
    if (unblocked) cv_.notify_one();
  }
}

void OutboxWorker::PurgeIfDue() {
  const int64_t now = clock_->NowUnix();
  {
    std::lock_guard<std::mutex> l(purge_mu_);
    if (now < next_purge_) return;
    next_purge_ = now + 3600;
  }
  int64_t deleted = 0;
  Status st = store_->PurgeDeliveredOutbox(now - options_.retention_seconds, &deleted);
  if (!st.ok()) Log(LogLevel::kError, {{"event", "outbox_purge_failed"}, {"error", st.message()}});
  else if (deleted > 0) Log(LogLevel::kInfo, {{"event", "outbox_purged"}, {"rows", deleted}});
}

PlatformHttp& OutboxWorker::HttpFor(const BaseUrl& base) {
  // One client per worker thread and origin, its connections kept alive between deliveries: a TLS
  // handshake per message would cost more than the message.
  thread_local std::map<std::string, std::unique_ptr<PlatformHttp>> clients;
  auto& c = clients[base.scheme_host_port];
  if (!c) {
    PlatformHttpOptions o;
    o.ca_file = options_.tls_ca_file;
    o.max_body_bytes = std::max<size_t>(options_.max_download_bytes, 1 << 20);
    c = std::make_unique<PlatformHttp>(base, o);
  }
  return *c;
}

std::vector<OutboxWorker::Result> OutboxWorker::DeliverAll(const std::vector<OutboxRecord>& rows) {
  std::vector<Result> results(rows.size());
  // Slack messages of different targets (a batch never holds two of one target) go out together; the
  // rest one by one.
  std::vector<size_t> slack_rows;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].kind == "slack_post" || rows[i].kind == "slack_message") slack_rows.push_back(i);
    else results[i] = Deliver(rows[i]);
  }
  if (slack_rows.empty()) return results;
  BaseUrl base;
  std::string error;
  if (!slack_.enabled()) error = "slack is not configured";
  else ParseBaseUrl(slack_.api_base, &base, &error);
  if (!error.empty()) {
    for (size_t i : slack_rows) results[i] = {Outcome::kFailed, 0, {{"error", error}}};
    return results;
  }
  std::vector<PlatformRequest> requests(slack_rows.size());
  for (size_t k = 0; k < slack_rows.size(); ++k) {
    PlatformRequest& q = requests[k];
    q.target = base.path + "/chat.postMessage";
    q.headers = {{"Authorization", "Bearer " + slack_.bot_token}};
    q.content_type = "application/json; charset=utf-8";
    const OutboxRecord& row = rows[slack_rows[k]];
    q.body = row.kind == "slack_post" ? row.payload : LegacySlackBody(json::parse(row.payload, nullptr, false));
  }
  const std::vector<PlatformResponse> answers = HttpFor(base).ExchangeAll(requests);
  for (size_t k = 0; k < slack_rows.size(); ++k) {
    try {
      results[slack_rows[k]] = SlackResult(answers[k], rows[slack_rows[k]].attempts);
    } catch (const std::exception& e) {  // e.g. "ok" not a boolean: this reply fails, the worker goes on
      results[slack_rows[k]] = {Outcome::kFailed, 0, {{"error", std::string("bad answer: ") + e.what()}}};
    }
  }
  return results;
}

OutboxWorker::Result OutboxWorker::Deliver(const OutboxRecord& row) {
  json payload = json::parse(row.payload, nullptr, false);
  if (!payload.is_object()) return {Outcome::kFailed, 0, {{"error", "the payload is not a JSON object"}}};
  try {
    if (row.kind == "wecom_message") return DeliverWeCom(row, payload);
    if (row.kind == "wecom_robot") return DeliverRobot(row, payload);
    if (row.kind == "slack_file" || row.kind == "wecom_media") return Download(row, payload);
  } catch (const std::exception& e) {  // a member of the wrong type: this row fails, the worker goes on
    return {Outcome::kFailed, 0, {{"error", std::string("bad payload: ") + e.what()}}};
  }
  return {Outcome::kFailed, 0, {{"error", "unknown outbox kind " + row.kind}}};
}

namespace {

// What a failed exchange means for a retry. A request that may have landed (written whole, no answer)
// is retried once at most: a second post is possible, and the log says so.
OutboxWorker::Result NetworkFailure(const PlatformResponse& r, int attempts) {
  json detail = {{"error", "network"}, {"detail", r.error}};
  if (r.maybe_delivered) {
    detail["maybe_delivered"] = true;
    return {attempts >= 2 ? OutboxWorker::Outcome::kFailed : OutboxWorker::Outcome::kRetry, 0, detail};
  }
  return {OutboxWorker::Outcome::kRetry, 0, detail};
}

int64_t RetryAfter(const PlatformResponse& res) {
  const std::string& v = res.retry_after;
  char* end = nullptr;
  long long s = std::strtoll(v.c_str(), &end, 10);
  return v.empty() || *end != '\0' || s < 1 ? 1 : std::min<long long>(s, 3600);
}

}  // namespace

OutboxWorker::Result OutboxWorker::SlackResult(const PlatformResponse& res, int attempts) {
  if (!res.ok()) return NetworkFailure(res, attempts);
  if (res.status == 429) return {Outcome::kRetry, RetryAfter(res), {{"status", 429}}};
  if (res.status >= 500) return {Outcome::kRetry, 0, {{"status", res.status}}};
  json body = json::parse(res.body, nullptr, false);
  if (res.status != 200 || !body.is_object()) return {Outcome::kFailed, 0, {{"status", res.status}}};
  if (body.value("ok", false)) return {Outcome::kDelivered, 0, {{"ts", body.value("ts", "")}}};
  const std::string err = body.value("error", "unknown");
  if (err == "ratelimited" || err == "internal_error" || err == "service_unavailable" || err == "request_timeout")
    return {Outcome::kRetry, 0, {{"error", err}}};
  return {Outcome::kFailed, 0, {{"error", err}}};
}

bool OutboxWorker::WeComToken(bool force, std::string* token, std::string* error) {
  std::lock_guard<std::mutex> l(token_mu_);
  const int64_t now = clock_->NowUnix();
  if (!force && !wecom_token_.empty() && now < wecom_token_expires_) {
    *token = wecom_token_;
    return true;
  }
  BaseUrl base;
  if (!ParseBaseUrl(wecom_.api_base, &base, error)) return false;
  PlatformRequest q;
  q.method = "GET";
  q.target = base.path + "/gettoken?corpid=" + QueryEscape(wecom_.corp_id) + "&corpsecret=" + QueryEscape(wecom_.secret);
  const PlatformResponse res = HttpFor(base).Exchange(q);
  if (!res.ok()) { *error = "gettoken: " + res.error; return false; }
  json body = json::parse(res.body, nullptr, false);
  if (res.status != 200 || !body.is_object() || body.value("errcode", -1) != 0 || !body.contains("access_token")) {
    *error = "gettoken answered " + std::to_string(res.status) + " errcode " +
             std::to_string(body.is_object() ? body.value("errcode", -1) : -1);
    return false;
  }
  wecom_token_ = body["access_token"].get<std::string>();
  // Refreshed five minutes early, so a token never expires between fetching and using it.
  wecom_token_expires_ = now + std::max<int64_t>(60, body.value("expires_in", int64_t{7200}) - 300);
  *token = wecom_token_;
  return true;
}

OutboxWorker::Result OutboxWorker::DeliverWeCom(const OutboxRecord& row, const json& payload) {
  if (!wecom_.enabled() || wecom_.secret.empty()) return {Outcome::kFailed, 0, {{"error", "wecom sending is not configured"}}};
  BaseUrl base;
  std::string error;
  if (!ParseBaseUrl(wecom_.api_base, &base, &error)) return {Outcome::kFailed, 0, {{"error", error}}};
  PlatformRequest q;
  q.content_type = "application/json; charset=utf-8";
  q.body = json{{"touser", payload.value("touser", "")}, {"msgtype", "text"}, {"agentid", std::atoi(wecom_.agent_id.c_str())},
                {"text", {{"content", payload.value("text", "")}}}}.dump();
  for (int round = 0; round < 2; ++round) {
    std::string token;
    if (!WeComToken(round > 0, &token, &error)) return {Outcome::kRetry, 0, {{"error", error}}};
    q.target = base.path + "/message/send?access_token=" + QueryEscape(token);
    const PlatformResponse res = HttpFor(base).Exchange(q);
    if (!res.ok()) return NetworkFailure(res, row.attempts);
    if (res.status == 429) return {Outcome::kRetry, RetryAfter(res), {{"status", 429}}};
    if (res.status >= 500) return {Outcome::kRetry, 0, {{"status", res.status}}};
    json answer = json::parse(res.body, nullptr, false);
    const int code = answer.is_object() ? answer.value("errcode", -2) : -2;
    if (code == 0) return {Outcome::kDelivered, 0, {{"msgid", answer.value("msgid", "")}}};
    if (code == 42001 || code == 40014 || code == 40001) continue;  // expired or invalid token: fetch anew, once
    if (code == -1) return {Outcome::kRetry, 0, {{"errcode", code}}};  // system busy
    return {Outcome::kFailed, 0, {{"errcode", code}, {"errmsg", answer.is_object() ? answer.value("errmsg", "") : ""}}};
  }
  return {Outcome::kRetry, 0, {{"error", "the token was refused twice"}}};
}

OutboxWorker::Result OutboxWorker::DeliverRobot(const OutboxRecord& row, const json& payload) {
  // The webhook URL holds the robot's key: read from the configuration now, never from the row, and
  // never put in an error the row keeps.
  const std::string& url = wecom_.robot_webhook;
  if (url.empty()) return {Outcome::kFailed, 0, {{"error", "wecom.robot_webhook is not configured"}}};
  const size_t scheme = url.find("://");
  const size_t path_start = scheme == std::string::npos ? std::string::npos : url.find('/', scheme + 3);
  BaseUrl base;
  std::string error;
  if (path_start == std::string::npos || !ParseBaseUrl(url.substr(0, path_start), &base, &error))
    return {Outcome::kFailed, 0, {{"error", "bad robot webhook URL (wecom.robot_webhook)"}}};
  PlatformRequest q;
  q.target = url.substr(path_start);
  q.content_type = "application/json; charset=utf-8";
  q.body = json{{"msgtype", "text"}, {"text", {{"content", payload.value("text", "")}}}}.dump();
  const PlatformResponse res = HttpFor(base).Exchange(q);
  if (!res.ok()) return NetworkFailure(res, row.attempts);
  if (res.status == 429) return {Outcome::kRetry, RetryAfter(res), {{"status", 429}}};
  if (res.status >= 500) return {Outcome::kRetry, 0, {{"status", res.status}}};
  json answer = json::parse(res.body, nullptr, false);
  if (answer.is_object() && answer.value("errcode", -2) == 0) return {Outcome::kDelivered, 0, json::object()};
  return {Outcome::kFailed, 0, {{"status", res.status}, {"body", std::string(Utf8Prefix(res.body, 200))}}};
}

OutboxWorker::Result OutboxWorker::Keep(const json& payload, const std::string& bytes) {
  if (bytes.size() > options_.max_download_bytes) return {Outcome::kFailed, 0, {{"error", "file larger than the limit"}}};
  if (!on_download_) return {Outcome::kFailed, 0, {{"error", "no place to keep downloads"}}};
  AttachmentRecord a;
  a.sha256 = Sha256Hex(bytes);
  a.name = payload.value("name", "file");
  // Typed by our checks (the name's extension on the allow-list, the first bytes), as web uploads are;
  // what the platform says the type is counts for nothing.
  const FileTypeCheck type = CheckFileType(a.name, bytes);
  if (!type.error.empty()) return {Outcome::kFailed, 0, {{"error", type.error}}};
  a.content_type = type.content_type;
  a.size = static_cast<int64_t>(bytes.size());
  std::error_code ec;
  std::filesystem::create_directories(options_.uploads_dir, ec);
  a.path = options_.uploads_dir + "/" + a.sha256;
  if (!std::filesystem::exists(a.path)) {
    const std::string tmp = a.path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      if (!out) return {Outcome::kRetry, 0, {{"error", "cannot write " + tmp}}};
    }
    std::filesystem::rename(tmp, a.path, ec);
    if (ec) return {Outcome::kRetry, 0, {{"error", ec.message()}}};
  }
  Status st = on_download_(payload.value("conversation_id", ""), a.name, a);
  if (!st.ok() && st.code() != Status::Code::kNotFound) return {Outcome::kRetry, 0, {{"error", st.message()}}};
  return {Outcome::kDelivered, 0, {{"sha256", a.sha256}, {"size", a.size}}};
}

OutboxWorker::Result OutboxWorker::Download(const OutboxRecord& row, const json& payload) {
  // A file over the limit is not fetched at all when its size is known, and never read past it.
  const auto too_large = [] { return Result{Outcome::kFailed, 0, {{"error", "file larger than the limit"}}}; };
  if (row.kind == "slack_file") {
    if (!slack_.enabled()) return {Outcome::kFailed, 0, {{"error", "slack is not configured"}}};
    if (payload.value("size", int64_t{0}) > static_cast<int64_t>(options_.max_download_bytes)) return too_large();
    const std::string url = payload.value("url", "");
    if (!SlackFileUrlAllowed(slack_, url)) return {Outcome::kFailed, 0, {{"error", "the file's host is not one of Slack's"}}};
    const size_t path_start = url.find('/', url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
    BaseUrl base;
    std::string error;
    if (path_start == std::string::npos || !ParseBaseUrl(url.substr(0, path_start), &base, &error))
      return {Outcome::kFailed, 0, {{"error", error.empty() ? "bad file URL" : error}}};
    PlatformRequest q;
    q.method = "GET";
    q.target = url.substr(path_start);
    q.headers = {{"Authorization", "Bearer " + slack_.bot_token}};
    const PlatformResponse res = HttpFor(base).Exchange(q);
    if (res.failure == PlatformResponse::Failure::kTooLarge) return too_large();
    if (!res.ok()) return NetworkFailure(res, 0);  // a GET: retrying cannot do anything twice
    if (res.status == 429) return {Outcome::kRetry, RetryAfter(res), {{"status", 429}}};
    if (res.status >= 500) return {Outcome::kRetry, 0, {{"status", res.status}}};
    if (res.status != 200) return {Outcome::kFailed, 0, {{"status", res.status}}};
    return Keep(payload, res.body);
  }
  // WeCom media/get with the cached token.
  if (!wecom_.enabled() || wecom_.secret.empty()) return {Outcome::kFailed, 0, {{"error", "wecom sending is not configured"}}};
  BaseUrl base;
  std::string error;
  if (!ParseBaseUrl(wecom_.api_base, &base, &error)) return {Outcome::kFailed, 0, {{"error", error}}};
  for (int round = 0; round < 2; ++round) {
    std::string token;
    if (!WeComToken(round > 0, &token, &error)) return {Outcome::kRetry, 0, {{"error", error}}};
    PlatformRequest q;
    q.method = "GET";
    q.target = base.path + "/media/get?access_token=" + QueryEscape(token) + "&media_id=" +
               QueryEscape(payload.value("media_id", ""));
    const PlatformResponse res = HttpFor(base).Exchange(q);
    if (res.failure == PlatformResponse::Failure::kTooLarge) return too_large();
    if (!res.ok()) return NetworkFailure(res, 0);
    if (res.status >= 500) return {Outcome::kRetry, 0, {{"status", res.status}}};
    const std::string& type = res.content_type;
    if (res.status == 200 && type.find("json") == std::string::npos && type.find("text/plain") == std::string::npos) {
      return Keep(payload, res.body);
    }
    json answer = json::parse(res.body, nullptr, false);  // an error comes as JSON
    const int code = answer.is_object() ? answer.value("errcode", -2) : -2;
    if (code == 42001 || code == 40014 || code == 40001) continue;
    if (code == -1) return {Outcome::kRetry, 0, {{"errcode", code}}};
    return {Outcome::kFailed, 0, {{"status", res.status}, {"errcode", code}}};
  }
  return {Outcome::kRetry, 0, {{"error", "the token was refused twice"}}};
}

}  // namespace rd
