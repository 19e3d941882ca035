// The outbox's HTTP/1.1 client for the chat platforms' APIs (Slack, WeCom): keep-alive connections to
// one origin, TLS through OpenSSL with the server's certificate and host name verified against a CA
// bundle, timeouts on connect, write and read, answers bounded in size.
//
// Why not cpp-httplib's client, which the channels used first: per message it polled the socket four
// times, wrote the headers and the body as two TCP segments and built a header map, which came to a
// third of a Slack turn's CPU. This client writes a request with one write, waits in the read itself,
// and sends a batch of requests on connections of their own before it reads the first answer, so a
// worker sleeps once per batch, not once per message (ExchangeAll). Incoming HTTP is still
// cpp-httplib's and the HTTP loop's.
//
// A PlatformHttp is used by one thread at a time (the outbox gives each worker its own per origin).
// Nothing here retries a request: a POST that may have landed is the outbox's decision to repeat.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bot/channels/platform.h"

namespace rd {

struct PlatformHttpOptions {
  int connect_timeout_ms = 5000;
  int io_timeout_ms = 10000;       // each write and each wait for more of the answer
  size_t max_body_bytes = 16 << 20;  // a longer answer fails as kTooLarge
  // PEM bundle the server's certificate must chain to (https only). Tests point it at their own CA.
  std::string ca_file = "/etc/ssl/certs/ca-certificates.crt";
  // A connection idle this long is closed rather than reused: servers drop idle keep-alive connections,
  // and a request sent on one that is being dropped may or may not have been read.
  int max_idle_ms = 30000;
  // ExchangeAll sends at most this many requests before reading their answers (so at most this many
  // connections per client): a platform sees a bounded number of connections from each worker.
  int max_in_flight = 8;
};

struct PlatformRequest {
  std::string method = "POST";
  std::string target;  // path and query, e.g. "/api/chat.postMessage"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type;  // with a body
  std::string body;
};

struct PlatformResponse {
  // kNone: an answer came (any status). The others: no answer.
  enum class Failure { kNone, kConnect, kTls, kWrite, kRead, kTooLarge, kProtocol };
  Failure failure = Failure::kNone;
  // kRead, kTooLarge, kProtocol: the request was written whole, so the platform may have acted on it.
  bool maybe_delivered = false;
  std::string error;  // why, for a failure
  int status = 0;
  std::string content_type;
  std::string retry_after;  // the Retry-After header, as sent
  std::string body;
  bool ok() const { return failure == Failure::kNone; }
};

class PlatformHttp {
 public:
  PlatformHttp(BaseUrl base, PlatformHttpOptions options = {});
  ~PlatformHttp();
  PlatformHttp(const PlatformHttp&) = delete;
  PlatformHttp& operator=(const PlatformHttp&) = delete;

  PlatformResponse Exchange(const PlatformRequest& request);
  // Every request on a connection of its own (kept-alive ones first), written in waves of
  // max_in_flight before their answers are read; answers in the order of the requests. Once a
  // connection cannot be opened, the batch's later requests fail with that error at once (kConnect).
  std::vector<PlatformResponse> ExchangeAll(const std::vector<PlatformRequest>& requests);

  const BaseUrl& base() const { return base_; }
  size_t idle_connections() const { return idle_.size(); }

 private:
  class Connection;
  // A kept-alive connection (`reused`) or a new one; null with `error` and `failure` when none opens.
  std::unique_ptr<Connection> Acquire(std::string* error, PlatformResponse::Failure* failure, bool* reused);
  void Release(std::unique_ptr<Connection> c);
  std::string Serialize(const PlatformRequest& request) const;

  BaseUrl base_;
  PlatformHttpOptions options_;
  std::string host_, port_;
  bool tls_ = false;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace rd
