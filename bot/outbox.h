// Delivers the outbox (invariant 3): messages to Slack and WeCom customers, staff notices. A bounded
// number of worker threads send rows one at a time per target, in order, and record the outcome; 429
// Retry-After is honoured, 5xx and network errors retried with exponential backoff, permanent errors (a
// revoked token, an unknown channel) end the row as failed. A row a commit queued for a target with
// nothing else undelivered reaches the workers straight from that commit, already claimed (the store's
// OutboxSink); the others — behind an undelivered row of their target, retries that came due, rows of a
// process that died — are claimed from the store: when the row before them is done, every 500 ms, and
// at start. Rows a crashed process had claimed are due again when the next one starts (one process
// serves a store), and any other lease that runs out is claimed again, so every row is delivered at least once
// — and, since a platform accepts a message only once per delivery we record, at most once in practice
// except after a read timeout (the request may have landed), which is retried once and logged.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bot/channels/platform.h"
#include "bot/channels/platform_http.h"
#include "bot/env.h"
#include "storage/store.h"

namespace rd {

struct OutboxOptions {
  int workers = 4;
  int batch = 16;             // rows claimed (and their outcomes recorded) per transaction
  int max_attempts = 10;
  int64_t lease_seconds = 60;
  int64_t max_backoff_seconds = 300;
  std::string uploads_dir = "uploads";   // downloaded evidence, named by SHA-256
  size_t max_download_bytes = 10 << 20;  // larger files stay at the platform
  std::string tls_ca_file = "/etc/ssl/certs/ca-certificates.crt";  // the platforms' certificates chain to these
  // Delivered rows (their payloads hold what customers and staff said) are deleted once delivered this
  // long ago: at Start() and then hourly (config outbox_retention_days).
  int64_t retention_seconds = 7 * 86400;
};

// Where a downloaded file is recorded (ConversationService::RecordDownloadedFile).
using DownloadSink = std::function<Status(const std::string& conversation_id, const std::string& name,
                                          const AttachmentRecord& file)>;

class OutboxWorker : private OutboxSink {
 public:
  OutboxWorker(Store* store, const SlackSettings& slack, const WeComSettings& wecom, OutboxOptions options = {},
               DownloadSink on_download = nullptr);
  ~OutboxWorker() override;
  // Starts the workers and becomes the store's outbox sink (until Stop).
  void Start();
  void Stop();

  enum class Outcome { kDelivered, kRetry, kFailed };
  struct Result {
    Outcome outcome = Outcome::kFailed;
    int64_t retry_after_seconds = 0;  // kRetry: 0 = exponential backoff
    nlohmann::json detail;            // what the platform said, or why it failed
  };

 private:
  void Loop();
  // OutboxSink: rows committed already claimed, and targets with rows waiting behind one.
  int64_t LeaseUntil() override;
  void Take(OutboxHandoff handoff) override;
  // Each row's result, in order: Slack messages sent together (PlatformHttp::ExchangeAll), the rest one
  // by one.
  std::vector<Result> DeliverAll(const std::vector<OutboxRecord>& rows);
  Result Deliver(const OutboxRecord& row);
  static Result SlackResult(const PlatformResponse& answer, int attempts);
  // The rest take the row's payload parsed.
  Result DeliverWeCom(const OutboxRecord& row, const nlohmann::json& payload);
  Result DeliverRobot(const OutboxRecord& row, const nlohmann::json& payload);
  Result Download(const OutboxRecord& row, const nlohmann::json& payload);
  // Stores `bytes` under uploads_dir and hands them to the sink.
  Result Keep(const nlohmann::json& payload, const std::string& bytes);  // typed by bot/file_types.h
  // The cached WeCom access_token; fetched again when missing, near expiry or `force`.
  bool WeComToken(bool force, std::string* token, std::string* error);
  // This thread's client for `base`.
  PlatformHttp& HttpFor(const BaseUrl& base);

  Store* store_;
  SlackSettings slack_;
  WeComSettings wecom_;
  OutboxOptions options_;
  DownloadSink on_download_;
  // Deletes delivered rows past retention_seconds when the last purge is an hour old (one worker).
  void PurgeIfDue();
  std::mutex purge_mu_;
  int64_t next_purge_ = 0;  // under purge_mu_
  Clock* clock_ = SystemClock();  // delivery timing is wall-clock time, whatever "today" the dialog uses
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::deque<OutboxRecord> handed_;                 // claimed by their commit, not taken by a worker yet
  // Per target, rows committed behind an undelivered one and not claimed yet: when a row of that target
  // is done, a worker claims (the next one is due).
  std::unordered_map<std::string, int> waiting_behind_;
  bool claim_wanted_ = true;                        // a worker should claim from the store (start: leftovers)
  std::mutex token_mu_;
  std::string wecom_token_;
  int64_t wecom_token_expires_ = 0;
};

}  // namespace rd
