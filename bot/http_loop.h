// The bot's HTTP/1.1 transport: a few epoll loop threads own every connection (no thread waits on an
// idle or slow client). A request is read whole — head, then a Content-Length body — before anything
// runs; then either
//  - a BatchRoute takes it on the loop (customer turns: web chat, Slack, WeCom): every request of one
//    pass over the ready connections joins a batch, committed together, and all of them are answered
//    after it. No thread switch and no lock wait per turn, one transaction per pass;
//  - or the worker pool runs it through `handler` (cpp-httplib's router: every other route), and the
//    loop writes the answer.
// Limits answered by the loop itself, each with a JSON error and the connection closed: a head over
// 16 KiB (431), a body over `body_limit(path)` (413, before the body is read), a chunked body (411), a
// request line that is not HTTP/1.x (400). Idle keep-alive connections close after keep_alive_timeout,
// half-received requests after read_timeout. Pipelined requests are answered in order. An answer with
// delay_ms is held that long (a tarpit for refused floods; bot/http_server.cpp decides who gets one).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace rd {

// A request as the loop parsed it; views into the connection's buffer, valid during the call.
struct HttpRequestView {
  std::string_view method;
  std::string_view target;  // path and query
  std::string_view path;    // target without the query
  std::string_view body;
  std::string_view head;    // request line and headers, for Header()
  std::string_view remote_ip;  // the peer's address
  // The first header of that name (case-insensitive), or "".
  std::string_view Header(std::string_view name) const;
  int HeaderCount(std::string_view name) const;
  // The first query parameter of that name, percent-decoded ("+" a space), or "".
  std::string Query(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // The loop holds the answer this long before sending it (the connection reads nothing meanwhile): a
  // refusal to a client that keeps being refused, so a flood that waits for each answer slows to one
  // request per delay on each connection and costs the loop nothing between them.
  int delay_ms = 0;
};

// The routes' error answer, {"error": code, "message": text}, as the loop sends it too.
HttpResponse JsonError(int status, const std::string& code, const std::string& message);

// A route served on the loop thread, in batches. One instance per loop thread (never shared).
class BatchRoute {
 public:
  virtual ~BatchRoute() = default;
  enum class Taken {
    kAnswered,  // *response is the answer, now
    kKept,      // answered by a later Flush
    kDeclined,  // not for the loop after all (it would block): the worker pool runs `handler` on it
  };
  virtual Taken Add(const HttpRequestView& request, uint64_t tag, HttpResponse* response) = 0;
  // Called once per pass, after the pass's Adds: appends (tag, response) for every kept request that
  // is answered by now, and starts on the rest. Work finished later calls the `wake` the route was made
  // with, and the loop calls Flush again. HasWaiting(): some request waits on something that will not
  // wake the loop (a lock held by another thread): the loop then calls Flush again within 1 ms.
  virtual void Flush(std::vector<std::pair<uint64_t, HttpResponse>>* done) = 0;
  virtual bool HasWaiting() const = 0;
  // True when work finished since the last Flush (answers are ready, and whatever started has ended):
  // the loop then flushes between two requests of a pass instead of at its end, so neither the answers
  // nor the route's idle worker wait for the rest of a long pass. Safe to call from the loop at any time.
  virtual bool ShouldFlush() const { return false; }
};

struct HttpLoopOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port
  int loop_threads = 2;
  int worker_threads = 16;
  int keep_alive_timeout_seconds = 5;
  int read_timeout_seconds = 10;
  int max_connections = 10000;
  std::function<size_t(std::string_view path)> body_limit;  // default: 64 KiB everywhere
  size_t largest_body = 64 * 1024;  // the largest body_limit of any path: what a connection may buffer
  // How long to hold a body_too_large refusal of this request (peer address, request head); null: 0.
  std::function<int(std::string_view remote_ip, const HttpRequestView& request)> refusal_delay_ms;
  // Which requests a BatchRoute serves, and a factory for each loop's instance.
  std::function<bool(std::string_view method, std::string_view path)> batched;
  std::function<std::unique_ptr<BatchRoute>(std::function<void()> wake)> make_batch_route;
  // Runs any other request: the raw request (head without Expect, then the body) → the raw response.
  // *close: the connection closes after this answer. Called on a worker thread.
  std::function<void(std::string raw, const std::string& remote_ip, int remote_port, std::string* response,
                     bool* close)>
      handler;
};

class HttpLoop {
 public:
  explicit HttpLoop(HttpLoopOptions options);
  ~HttpLoop();
  HttpLoop(const HttpLoop&) = delete;
  HttpLoop& operator=(const HttpLoop&) = delete;

  // Binds and listens (backlog 1024; no SO_REUSEPORT, so a busy port fails here). Returns the port or -1.
  int Bind(std::string* error);
  // Serves until Stop(). False when not bound.
  bool Serve();
  // Safe from any thread and from a signal-driven shutdown thread; Serve() returns soon after.
  void Stop();

  // The bytes of a complete response (status line, headers, body); `close` adds Connection: close.
  static std::string Serialize(const HttpResponse& response, bool close);

 private:
  class Loop;
  class WorkerPool;
  HttpLoopOptions options_;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::atomic<uint64_t> next_id_{0};
  std::atomic<uint64_t> next_loop_{0};
  std::unique_ptr<WorkerPool> pool_;
  std::mutex loops_mu_;  // Stop() may run while Bind() creates the loops
  std::vector<std::unique_ptr<Loop>> loops_;
};

}  // namespace rd
