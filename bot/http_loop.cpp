#include "bot/http_loop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "bot/log.h"
#include "bot/metrics.h"
#include "nlohmann/json.hpp"

namespace rd {

namespace {

constexpr size_t kMaxHead = 16 * 1024;
constexpr std::string_view kHeadEnd = "\r\n\r\n";

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

const char* Reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

int64_t SteadyMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

// Runs the requests the loops hand over; a fixed set of threads, so a flood of slow requests queues
// instead of multiplying threads.
class HttpLoop::WorkerPool {
 public:
  void Start(int threads) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] {
        pthread_setname_np(pthread_self(), "rd-http-worker");
        Run();
      });
    }
  }
  void Enqueue(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> l(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }
  // Finishes the queued jobs, then joins.
  void Stop() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      cv_.wait(l, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      l.unlock();
      job();
      l.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

namespace {

// Calls visit(name, value) for each header line of `head` until it returns false.
template <typename Visit>
void ForEachHeader(std::string_view head, Visit visit) {
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < head.size()) {
    const size_t start = pos + 2;
    const size_t end = head.find("\r\n", start);
    std::string_view line = head.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos && !visit(line.substr(0, colon), TrimSpaces(line.substr(colon + 1)))) return;
    pos = end;
  }
}

}  // namespace

std::string_view HttpRequestView::Header(std::string_view name) const {
  std::string_view found;
  ForEachHeader(head, [&](std::string_view n, std::string_view value) {
    if (!EqualsIgnoreCase(n, name)) return true;
    found = value;
    return false;
  });
  return found;
}

int HttpRequestView::HeaderCount(std::string_view name) const {
  int count = 0;
  ForEachHeader(head, [&](std::string_view n, std::string_view) {
    count += EqualsIgnoreCase(n, name);
    return true;
  });
  return count;
}

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded: "+" is a space, "%XY" a byte; a malformed escape stays as it is.
std::string DecodeQueryComponent(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 && HexDigit(s[i + 2]) >= 0) {
      out += static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::string HttpRequestView::Query(std::string_view name) const {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return "";
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const size_t eq = pair.find('=');
    if (DecodeQueryComponent(pair.substr(0, eq)) == name) {
      return eq == std::string_view::npos ? "" : DecodeQueryComponent(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return "";
}

std::string HttpLoop::Serialize(const HttpResponse& r, bool close) {
  std::string out;
  out.reserve(160 + r.body.size());
  out += "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  out += Reason(r.status);
  out += "\r\n";
  if (r.status != 204) {
    out += "Content-Type: ";
    out += r.content_type;
    out += "\r\nContent-Length: ";
    out += std::to_string(r.body.size());
    out += "\r\n";
  }
  for (const auto& [name, value] : r.headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
  out += r.body;
  return out;
}

namespace {

struct Conn {
  int fd = -1;
  uint64_t id = 0;
  std::string in;     // received bytes; in[consumed..] not yet taken by a request
  size_t consumed = 0;
  std::string out;    // bytes to send; out[sent..] not yet sent
  size_t sent = 0;
  bool busy = false;        // a request of this connection is being answered
  bool read_ready = false;  // data may be waiting in the socket (an edge came while busy)
  bool hangup_seen = false;  // the peer's FIN (or an error) was reported: read until recv says so
  bool continue_sent = false;
  bool close_after_write = false;
  bool peer_closed = false;
  bool closed = false;
  int64_t last_active_ms = 0;
  std::string remote_ip;
  int remote_port = 0;
  size_t Unread() const { return in.size() - consumed; }
};

}  // namespace

HttpResponse JsonError(int status, const std::string& code, const std::string& message) {
  HttpResponse r;
  r.status = status;
  r.body = nlohmann::json{{"error", code}, {"message", message}}.dump();
  return r;
}

class HttpLoop::Loop {
 public:
  Loop(HttpLoop* owner, HttpLoop::WorkerPool* pool) : owner_(owner), pool_(pool) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &wakefd_;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev);
    if (owner_->options_.make_batch_route) route_ = owner_->options_.make_batch_route([this] { Wake(); });
  }
  ~Loop() {
    route_.reset();  // first: its committer may still wake this loop through wakefd_
    for (auto& [id, c] : conns_) ::close(c->fd);
    for (auto& c : adopted_) ::close(c->fd);  // handed over after this loop stopped
    ::close(wakefd_);
    ::close(epfd_);
  }

  void ListenOn(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.ptr = &listen_tag_;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
  }

  void Wake() {
    uint64_t one = 1;
    ssize_t ignored = ::write(wakefd_, &one, sizeof one);
    (void)ignored;
  }

  // From a worker: the answer to connection `id`'s request.
  void Post(uint64_t id, std::string response, bool close) {
    {
      std::lock_guard<std::mutex> l(inbox_mu_);
      answers_.push_back({id, std::move(response), close});
    }
    Wake();
  }

  // From the accepting loop: a connection this loop is to serve.
  void Adopt(std::unique_ptr<Conn> c) {
    {
      std::lock_guard<std::mutex> l(inbox_mu_);
      adopted_.push_back(std::move(c));
    }
    Wake();
  }

  void Run(const std::vector<Loop*>& all) {
    std::vector<epoll_event> events(256);
    int64_t last_sweep = SteadyMillis();
    while (!owner_->stopping_.load(std::memory_order_relaxed)) {
      if (listen_paused_until_ms_ != 0 && SteadyMillis() >= listen_paused_until_ms_) {
        listen_paused_until_ms_ = 0;
        ListenOn(owner_->listen_fd_);
      }
      int timeout = (route_ && route_->HasWaiting()) || listen_paused_until_ms_ != 0 ? 1 : 1000;
      if (const int held = ReleaseDelayed(SteadyMillis()); held >= 0) timeout = std::min(timeout, held);
      const int n = epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), timeout);
      if (n < 0 && errno != EINTR) break;
      for (int i = 0; i < n; ++i) {
        void* tag = events[i].data.ptr;
        if (tag == &listen_tag_) {
          Accept(all);
        } else if (tag == &wakefd_) {
          uint64_t count;
          while (::read(wakefd_, &count, sizeof count) > 0) {}
        } else {
          Conn* c = static_cast<Conn*>(tag);
          if (c->closed) continue;
          if (events[i].events & EPOLLOUT) Write(c);
          if (!c->closed && (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
            c->read_ready = true;
            c->hangup_seen = c->hangup_seen || (events[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR));
            Touch(c);
          }
        }
      }
      TakeInbox();
      Drain();
      // Pipelined requests may join the batch after its answers went out: a few more rounds.
      for (int round = 0; round < 4 && route_; ++round) {
        if (!FlushRoute()) break;
        Drain();
      }
      const int64_t now = SteadyMillis();
      if (now - last_sweep >= 1000) {
        last_sweep = now;
        Sweep(now);
      }
      graveyard_.clear();
    }
  }

 private:
  struct Posted {
    uint64_t id;
    std::string response;
    bool close;
  };

  void Touch(Conn* c) {
    c->last_active_ms = SteadyMillis();
    to_drain_.push_back(c);
  }

  void Accept(const std::vector<Loop*>& all) {
    for (;;) {
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      int fd = accept4(owner_->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) PauseListening();
        return;  // EAGAIN: taken by another loop or none left
      }
      if (owner_->connections_.fetch_add(1) >= owner_->options_.max_connections) {
        owner_->connections_.fetch_sub(1);
        ::close(fd);
        continue;
      }
      int yes = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
      auto c = std::make_unique<Conn>();
      c->fd = fd;
      c->id = owner_->next_id_.fetch_add(1) + 1;
      char ip[INET6_ADDRSTRLEN] = "";
      if (addr.ss_family == AF_INET) {
        auto* a = reinterpret_cast<sockaddr_in*>(&addr);
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        c->remote_port = ntohs(a->sin_port);
      } else if (addr.ss_family == AF_INET6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        c->remote_port = ntohs(a->sin6_port);
      }
      c->remote_ip = ip;
      // Round robin over the loops, so connections that arrive together do not all land on one.
      Loop* target = all[owner_->next_loop_.fetch_add(1) % all.size()];
      if (target == this) Register(std::move(c));
      else target->Adopt(std::move(c));
    }
  }

  // Out of file descriptors: the pending connection stays in the backlog and the listening socket stays
  // readable, so without a pause this loop would spin. It listens again after 100 ms (Run).
  void PauseListening() {
    if (listen_paused_until_ms_ != 0) return;
    epoll_ctl(epfd_, EPOLL_CTL_DEL, owner_->listen_fd_, nullptr);
    listen_paused_until_ms_ = SteadyMillis() + 100;
    LogLine(LogLevel::kWarn).Add("event", "accept_paused").Add("error", std::strerror(errno));
  }

  void Register(std::unique_ptr<Conn> c) {
    c->last_active_ms = SteadyMillis();
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = c.get();
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
      ::close(c->fd);
      owner_->connections_.fetch_sub(1);
      return;
    }
    c->read_ready = true;  // a request may have arrived with the connection
    to_drain_.push_back(c.get());
    const uint64_t id = c->id;
    conns_.emplace(id, std::move(c));
  }

  void TakeInbox() {
    std::vector<Posted> answers;
    std::vector<std::unique_ptr<Conn>> adopted;
    {
      std::lock_guard<std::mutex> l(inbox_mu_);
      answers.swap(answers_);
      adopted.swap(adopted_);
    }
    for (auto& c : adopted) Register(std::move(c));
    for (Posted& p : answers) {
      auto it = conns_.find(p.id);
      if (it != conns_.end()) Answer(it->second.get(), std::move(p.response), p.close);
    }
  }

  // Reads what is waiting and starts every complete request of the connections touched, until none
  // has anything left to start. Flushes the route on the way when it has finished work.
  void Drain() {
    while (!to_drain_.empty()) {
      std::vector<Conn*> batch;
      batch.swap(to_drain_);
      for (Conn* c : batch) {
        if (c->closed || c->busy) continue;
        if (c->read_ready) Read(c);
        if (!c->closed) Parse(c);
        if (route_ && route_->ShouldFlush()) FlushRoute();
      }
    }
  }

  // Sends what the route has answered and lets it start on what it holds. False: nothing was answered.
  bool FlushRoute() {
    flushed_.clear();
    route_->Flush(&flushed_);
    for (auto& [id, response] : flushed_) {
      auto it = conns_.find(id);
      if (it == conns_.end()) continue;
      AnswerAfter(it->second.get(), Serialize(response, it->second->close_after_write), false, response.delay_ms);
    }
    return !flushed_.empty();
  }

  void Read(Conn* c) {
    char buf[65536];
    const size_t cap = kMaxHead + MaxBody() + sizeof buf;
    // Requests already taken are dropped from the buffer (no view into it is alive: the connection is
    // not busy), so a client that keeps pipelining does not grow it without end.
    c->in.erase(0, c->consumed);
    c->consumed = 0;
    for (;;) {
      if (c->Unread() > cap) return;  // more than any request may be: Parse refuses it
      ssize_t n = ::recv(c->fd, buf, sizeof buf, 0);
      if (n > 0) {
        c->in.append(buf, static_cast<size_t>(n));
        // A short read emptied the socket: data arriving later raises a new edge, so the recv that
        // would only say EAGAIN (one more system call per request) is skipped — unless the peer's
        // FIN came with the data, which raises no further edge and only recv reports.
        if (static_cast<size_t>(n) < sizeof buf && !c->hangup_seen) {
          c->read_ready = false;
          return;
        }
        continue;
      }
      if (n == 0) {
        c->peer_closed = true;
      } else if (errno == EINTR) {
        continue;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        Close(c);
        return;
      }
      c->read_ready = false;
      if (c->peer_closed && c->Unread() == 0) Close(c);
      return;
    }
  }

  size_t MaxBody() const { return owner_->options_.largest_body; }

  void Refuse(Conn* c, int status, const std::string& code, const std::string& message, int delay_ms = 0) {
    ProcessMetrics().CountRequest(status);
    LogLine(LogLevel::kInfo).Add("event", "http").Add("status", status).Add("error", code);
    c->busy = true;
    c->close_after_write = true;
    AnswerAfter(c, Serialize(JsonError(status, code, message), true), true, delay_ms);
  }

  // Answer, now or (delay_ms > 0) once the delay has passed; the connection stays busy until then.
  void AnswerAfter(Conn* c, std::string bytes, bool close, int delay_ms) {
    if (delay_ms <= 0) return Answer(c, std::move(bytes), close);
    c->busy = true;
    delayed_.push_back({SteadyMillis() + delay_ms, Posted{c->id, std::move(bytes), close}});
  }

  // Sends the held answers that are due; returns the milliseconds until the next one (or -1).
  int ReleaseDelayed(int64_t now) {
    int next = -1;
    for (size_t i = 0; i < delayed_.size();) {
      if (delayed_[i].due_ms > now) {
        const int wait = static_cast<int>(delayed_[i].due_ms - now);
        next = next < 0 ? wait : std::min(next, wait);
        ++i;
        continue;
      }
      Posted p = std::move(delayed_[i].posted);
      delayed_[i] = std::move(delayed_.back());
      delayed_.pop_back();
      auto it = conns_.find(p.id);
      if (it != conns_.end()) Answer(it->second.get(), std::move(p.response), p.close);
    }
    return next;
  }

  void Parse(Conn* c) {
    if (c->busy || c->Unread() == 0) {
      if (c->peer_closed && !c->busy && c->out.size() == c->sent) Close(c);
      return;
    }
    std::string_view data(c->in.data() + c->consumed, c->Unread());
    const size_t head_end = data.find(kHeadEnd);
    if (head_end == std::string_view::npos) {
      if (data.size() > kMaxHead) Refuse(c, 431, "head_too_large", "the request head is larger than 16 KiB");
      else if (c->peer_closed) Close(c);
      return;
    }
    if (head_end + kHeadEnd.size() > kMaxHead) {
      return Refuse(c, 431, "head_too_large", "the request head is larger than 16 KiB");
    }
    HttpRequestView req;
    req.head = data.substr(0, head_end + 2);  // the last header's CRLF included
    const std::string_view line = data.substr(0, data.find("\r\n"));
    const size_t sp1 = line.find(' ');
    const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.substr(sp2 + 1).rfind("HTTP/1.", 0) != 0 || sp1 == 0 || sp2 == sp1 + 1) {
      return Refuse(c, 400, "bad_request", "the request line is not HTTP/1.x");
    }
    req.method = line.substr(0, sp1);
    req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    req.path = req.target.substr(0, req.target.find('?'));
    req.remote_ip = c->remote_ip;
    const std::string_view version = line.substr(sp2 + 1);
    const std::string_view te = req.Header("Transfer-Encoding");
    if (!te.empty() && !EqualsIgnoreCase(te, "identity")) {
      return Refuse(c, 411, "length_required", "send the body with Content-Length (chunked bodies are not accepted)");
    }
    size_t length = 0;
    const std::string_view cl = req.Header("Content-Length");
    if (!cl.empty() && req.HeaderCount("Content-Length") > 1) {
      // Two lengths: whichever one a proxy in front believed, the other would split the stream.
      return Refuse(c, 400, "bad_content_length", "more than one Content-Length header");
    }
    if (!cl.empty()) {
      if (cl.size() > 15 || cl.find_first_not_of("0123456789") != std::string_view::npos) {
        return Refuse(c, 400, "bad_content_length", "Content-Length is not a number");
      }
      length = std::stoull(std::string(cl));
    }
    const size_t limit = owner_->options_.body_limit(req.path);
    if (length > limit) {
      const int delay = owner_->options_.refusal_delay_ms ? owner_->options_.refusal_delay_ms(c->remote_ip, req) : 0;
      return Refuse(c, 413, "body_too_large", "the request body is larger than allowed", delay);
    }
    const size_t total = head_end + kHeadEnd.size() + length;
    const std::string_view expect = req.Header("Expect");
    if (data.size() < total) {
      if (!expect.empty() && EqualsIgnoreCase(expect, "100-continue") && !c->continue_sent) {
        c->continue_sent = true;
        c->out.append("HTTP/1.1 100 Continue\r\n\r\n");
        Write(c);
      }
      if (c->peer_closed) Close(c);
      return;
    }
    req.body = data.substr(head_end + kHeadEnd.size(), length);
    const std::string_view connection = req.Header("Connection");
    c->close_after_write = EqualsIgnoreCase(connection, "close") ||
                           (version == "HTTP/1.0" && !EqualsIgnoreCase(connection, "keep-alive"));
    c->busy = true;
    c->continue_sent = false;
    c->consumed += total;  // the views stay valid: nothing appends to `in` until this request is taken

    if (route_ && owner_->options_.batched && owner_->options_.batched(req.method, req.path)) {
      HttpResponse response;
      switch (route_->Add(req, c->id, &response)) {
        case BatchRoute::Taken::kAnswered:
          AnswerAfter(c, Serialize(response, c->close_after_write), false, response.delay_ms);
          return;
        case BatchRoute::Taken::kKept:
          return;
        case BatchRoute::Taken::kDeclined:
          break;
      }
    }
    std::string raw;
    raw.reserve(total);
    if (expect.empty()) {
      raw.append(data.substr(0, total));
    } else {  // answered here already; the router must not send a second 100 Continue
      size_t pos = 0;
      while (pos < req.head.size()) {
        size_t end = req.head.find("\r\n", pos);
        std::string_view l = req.head.substr(pos, end - pos);
        if (!(l.size() >= 7 && EqualsIgnoreCase(l.substr(0, 7), "Expect:"))) {
          raw.append(l);
          raw.append("\r\n");
        }
        pos = end + 2;
      }
      raw.append("\r\n");
      raw.append(req.body);
    }
    pool_->Enqueue([this, id = c->id, raw = std::move(raw), ip = c->remote_ip, port = c->remote_port]() mutable {
      std::string response;
      bool close = false;
      owner_->options_.handler(std::move(raw), ip, port, &response, &close);
      Post(id, std::move(response), close);
    });
  }

  // Queues a request's answer and sends what the socket takes; the connection is free for its next
  // request once the answer is out.
  void Answer(Conn* c, std::string bytes, bool close) {
    c->busy = false;
    c->close_after_write = c->close_after_write || close;
    if (c->out.size() == c->sent) {
      c->out = std::move(bytes);
      c->sent = 0;
    } else {
      c->out.append(bytes);
    }
    Write(c);
    if (!c->closed) to_drain_.push_back(c);
  }

  void Write(Conn* c) {
    while (c->sent < c->out.size()) {
      ssize_t n = ::send(c->fd, c->out.data() + c->sent, c->out.size() - c->sent, MSG_NOSIGNAL);
      if (n > 0) {
        c->sent += static_cast<size_t>(n);
        c->last_active_ms = SteadyMillis();
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // EPOLLOUT resumes
      Close(c);
      return;
    }
    c->out.clear();
    c->sent = 0;
    if (c->close_after_write && !c->busy) Close(c);
  }

  void Close(Conn* c) {
    if (c->closed) return;
    c->closed = true;
    epoll_ctl(epfd_, EPOLL_CTL_DEL, c->fd, nullptr);
    ::close(c->fd);
    owner_->connections_.fetch_sub(1);
    auto it = conns_.find(c->id);
    if (it != conns_.end()) {
      graveyard_.push_back(std::move(it->second));  // freed after this pass: events may still name it
      conns_.erase(it);
    }
  }

  void Sweep(int64_t now) {
    const int64_t idle_ms = owner_->options_.keep_alive_timeout_seconds * 1000LL;
    const int64_t read_ms = owner_->options_.read_timeout_seconds * 1000LL;
    std::vector<Conn*> expired;
    for (auto& [id, c] : conns_) {
      if (c->busy) continue;
      const int64_t quiet = now - c->last_active_ms;
      const bool partial = c->Unread() > 0 || c->out.size() > c->sent;
      if ((partial && quiet > read_ms) || (!partial && quiet > idle_ms)) expired.push_back(c.get());
    }
    for (Conn* c : expired) Close(c);
  }

  HttpLoop* owner_;
  HttpLoop::WorkerPool* pool_;
  int epfd_ = -1;
  int wakefd_ = -1;
  char listen_tag_ = 0;
  int64_t listen_paused_until_ms_ = 0;
  std::unique_ptr<BatchRoute> route_;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  std::vector<std::unique_ptr<Conn>> graveyard_;
  std::vector<Conn*> to_drain_;
  std::vector<std::pair<uint64_t, HttpResponse>> flushed_;
  struct Delayed {
    int64_t due_ms;
    Posted posted;
  };
  std::vector<Delayed> delayed_;  // answers held back (HttpResponse::delay_ms), in no order
  std::mutex inbox_mu_;
  std::vector<Posted> answers_;
  std::vector<std::unique_ptr<Conn>> adopted_;
};

HttpLoop::HttpLoop(HttpLoopOptions options) : options_(std::move(options)) {
  if (!options_.body_limit) options_.body_limit = [](std::string_view) -> size_t { return 64 * 1024; };
}

HttpLoop::~HttpLoop() {
  loops_.clear();
  pool_.reset();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

int HttpLoop::Bind(std::string* error) {
  // Each connection is a descriptor: allow as many as the system lets this process have.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* result = nullptr;
  const std::string port = std::to_string(options_.port);
  if (int rc = getaddrinfo(options_.host.c_str(), port.c_str(), &hints, &result); rc != 0) {
    *error = std::string("cannot resolve ") + options_.host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = result; a; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);  // restarts reuse TIME_WAIT addresses
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 1024) == 0) break;
    *error = std::string("cannot listen on ") + options_.host + ":" + port + ": " + std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(result);
  if (fd < 0) return -1;
  listen_fd_ = fd;
  pool_ = std::make_unique<WorkerPool>();
  {
    std::lock_guard<std::mutex> l(loops_mu_);
    for (int i = 0; i < std::max(1, options_.loop_threads); ++i) {
      loops_.push_back(std::make_unique<Loop>(this, pool_.get()));
      loops_.back()->ListenOn(fd);
    }
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                                    : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

bool HttpLoop::Serve() {
  std::vector<Loop*> all;
  {
    std::lock_guard<std::mutex> l(loops_mu_);
    if (listen_fd_ < 0 || loops_.empty()) return false;
    for (auto& loop : loops_) all.push_back(loop.get());
  }
  pool_->Start(std::max(1, options_.worker_threads));
  std::vector<std::thread> threads;
  for (size_t i = 1; i < all.size(); ++i) {
    threads.emplace_back([&all, i] {
      pthread_setname_np(pthread_self(), "rd-loop");  // the first loop runs on the caller's thread, unnamed
      all[i]->Run(all);
    });
  }
  all[0]->Run(all);
  for (auto& t : threads) t.join();
  pool_->Stop();  // answers still posted go nowhere: their loops have stopped
  return true;
}

void HttpLoop::Stop() {
  stopping_ = true;
  std::lock_guard<std::mutex> l(loops_mu_);
  for (auto& loop : loops_) loop->Wake();
}

}  // namespace rd
