// The HTTP transport (bot/http_loop.h) over real sockets on loopback: what a client sees when requests
// arrive in pieces, pipelined, too large, chunked, with Expect, idle, and through a batched route.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <ctime>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bot/http_loop.h"

namespace rd {

namespace {

// Echoes what the handler got: method, path, body, and whether an Expect header reached it.
void EchoHandler(std::string raw, const std::string&, int, std::string* response, bool* close) {
  const size_t head_end = raw.find("\r\n\r\n");
  const std::string head = raw.substr(0, head_end);
  const std::string line = head.substr(0, head.find("\r\n"));
  std::string body = "[" + line + "]" + raw.substr(head_end + 4);
  if (head.find("Expect:") != std::string::npos) body += "+expect";
  HttpResponse r;
  r.content_type = "text/plain";
  r.body = body;
  *response = HttpLoop::Serialize(r, false);
  *close = false;
}

// Answers POST /batched on Flush with "batch:<body>:<n>", n = how many requests that Flush answered.
// A body starting with "wait" is held back (HasWaiting) for one extra Flush; "slow" takes 300 ms to add;
// "decline" is left to the handler.
// `finishes_at_once`: it reports finished work (ShouldFlush) as soon as it holds a request.
class CountingRoute : public BatchRoute {
 public:
  explicit CountingRoute(bool finishes_at_once = false) : finishes_at_once_(finishes_at_once) {}
  Taken Add(const HttpRequestView& request, uint64_t tag, HttpResponse*) override {
    if (request.body == "decline") return Taken::kDeclined;
    if (request.body == "slow") std::this_thread::sleep_for(std::chrono::milliseconds(300));
    kept_.push_back({tag, std::string(request.body)});
    return Taken::kKept;
  }
  bool ShouldFlush() const override { return finishes_at_once_ && !kept_.empty(); }
  void Flush(std::vector<std::pair<uint64_t, HttpResponse>>* done) override {
    std::vector<std::pair<uint64_t, std::string>> now, later;
    for (auto& k : kept_) {
      if (k.second.rfind("wait", 0) == 0 && !held_once_) later.push_back(k);
      else now.push_back(k);
    }
    held_once_ = !later.empty();
    kept_ = later;
    for (auto& [tag, body] : now) {
      HttpResponse r;
      r.content_type = "text/plain";
      r.body = "batch:" + body + ":" + std::to_string(now.size());
      done->emplace_back(tag, r);
    }
  }
  bool HasWaiting() const override { return !kept_.empty(); }

 private:
  std::vector<std::pair<uint64_t, std::string>> kept_;
  bool held_once_ = false;
  bool finishes_at_once_;
};

struct LoopServer {
  explicit LoopServer(int keep_alive_seconds = 5, bool route_finishes_at_once = false) {
    HttpLoopOptions o;
    o.port = 0;
    o.worker_threads = 2;
    o.keep_alive_timeout_seconds = keep_alive_seconds;
    o.body_limit = [](std::string_view path) -> size_t { return path == "/big" ? 100000 : 1000; };
    o.largest_body = 100000;
    o.batched = [](std::string_view method, std::string_view path) { return method == "POST" && path == "/batched"; };
    o.make_batch_route = [route_finishes_at_once](std::function<void()>) {
      return std::make_unique<CountingRoute>(route_finishes_at_once);
    };
    o.handler = EchoHandler;
    loop = std::make_unique<HttpLoop>(o);
    std::string error;
    port = loop->Bind(&error);
    REQUIRE(port > 0);
    thread = std::thread([this] { loop->Serve(); });
  }
  ~LoopServer() {
    loop->Stop();
    thread.join();
  }
  std::unique_ptr<HttpLoop> loop;
  int port = 0;
  std::thread thread;
};

struct Client {
  explicit Client(int port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Client() { ::close(fd); }
  void Send(const std::string& s) { REQUIRE(::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size())); }
  // The next complete response (head and Content-Length body), or "" when the server closed first.
  std::string Response() {
    for (;;) {
      size_t head_end = buffer.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        size_t length = 0;
        size_t cl = buffer.find("Content-Length: ");
        if (cl != std::string::npos && cl < head_end) length = std::stoul(buffer.substr(cl + 16));
        if (buffer.size() >= head_end + 4 + length) {
          std::string r = buffer.substr(0, head_end + 4 + length);
          buffer.erase(0, r.size());
          return r;
        }
      }
      char b[4096];
      ssize_t n = ::recv(fd, b, sizeof b, 0);
      if (n <= 0) return "";
      buffer.append(b, static_cast<size_t>(n));
    }
  }
  // True when the server closes the connection within `seconds`.
  bool ClosedWithin(int seconds) {
    timeval tv{seconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char b[64];
    return ::recv(fd, b, sizeof b, 0) == 0;
  }
  int fd;
  std::string buffer;
};

double ProcessCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + t.tv_nsec / 1e9;
}

std::string Body(const std::string& response) { return response.substr(response.find("\r\n\r\n") + 4); }
int Status(const std::string& response) { return response.size() > 12 ? std::stoi(response.substr(9, 3)) : 0; }

std::string Post(const std::string& path, const std::string& body, const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra +
         "\r\n" + body;
}

// Sends the route's slow request (300 ms to add) and returns once the loop is inside it: whatever other
// clients send now is all waiting when the loop reads next. The returned client's answer ends the hold.
std::unique_ptr<Client> HoldLoop(int port) {
  auto busy = std::make_unique<Client>(port);
  busy->Send(Post("/batched", "slow"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return busy;
}

}  // namespace

TEST_CASE("http loop: a request sent in pieces is answered once, when it is whole", "[http_loop]") {
  LoopServer s;
  Client c(s.port);
  const std::string request = Post("/echo", "hello world");
  for (size_t i = 0; i < request.size(); i += 7) {
    c.Send(request.substr(i, 7));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::string r = c.Response();
  CHECK(Status(r) == 200);
  CHECK(Body(r) == "[POST /echo HTTP/1.1]hello world");
  // The same connection serves the next request (keep-alive).
  c.Send(Post("/echo", "again"));
  CHECK(Body(c.Response()) == "[POST /echo HTTP/1.1]again");
}

TEST_CASE("http loop: pipelined requests are answered in the order they came", "[http_loop]") {
  LoopServer s;
  Client c(s.port);
  c.Send(Post("/echo", "one") + Post("/batched", "two") + Post("/echo", "three") + Post("/batched", "four"));
  CHECK(Body(c.Response()) == "[POST /echo HTTP/1.1]one");
  CHECK(Body(c.Response()).rfind("batch:two:", 0) == 0);
  CHECK(Body(c.Response()) == "[POST /echo HTTP/1.1]three");
  CHECK(Body(c.Response()).rfind("batch:four:", 0) == 0);
}

TEST_CASE("http loop: a request the batched route declines is run by the handler, whole and in order", "[http_loop]") {
  LoopServer s;
  Client c(s.port);
  c.Send(Post("/batched", "one") + Post("/batched", "decline") + Post("/batched", "three"));
  CHECK(Body(c.Response()).rfind("batch:one:", 0) == 0);
  CHECK(Body(c.Response()) == "[POST /batched HTTP/1.1]decline");
  CHECK(Body(c.Response()).rfind("batch:three:", 0) == 0);
}

TEST_CASE("http loop: query parameters are found by name and percent-decoded", "[http_loop]") {
  HttpRequestView r;
  r.target = "/wecom/callback?msg_signature=ab%2Fc&timestamp=1409659813&nonce=a+b%zz&empty=&flag";
  CHECK(r.Query("msg_signature") == "ab/c");
  CHECK(r.Query("timestamp") == "1409659813");
  CHECK(r.Query("nonce") == "a b%zz");
  CHECK(r.Query("empty").empty());
  CHECK(r.Query("flag").empty());
  CHECK(r.Query("missing").empty());
  CHECK(r.Query("nonc").empty());
  HttpRequestView bare;
  bare.target = "/wecom/callback";
  CHECK(bare.Query("nonce").empty());
}

TEST_CASE("http loop: every request of the batched route gets its own answer", "[http_loop]") {
  LoopServer s;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 8; ++i) clients.push_back(std::make_unique<Client>(s.port));
  for (int i = 0; i < 8; ++i) clients[i]->Send(Post("/batched", "r" + std::to_string(i)));
  for (int i = 0; i < 8; ++i) CHECK(Body(clients[i]->Response()).rfind("batch:r" + std::to_string(i) + ":", 0) == 0);
  // A request the route holds back is answered by a later flush without any new traffic.
  Client c(s.port);
  c.Send(Post("/batched", "wait-for-it"));
  CHECK(Body(c.Response()).rfind("batch:wait-for-it:", 0) == 0);
}

TEST_CASE("http loop: a route with finished work is flushed between two requests, not at the end of the pass", "[http_loop]") {
  for (bool finishes_at_once : {false, true}) {
    INFO("finishes_at_once " << finishes_at_once);
    LoopServer s(5, finishes_at_once);
    // While the loop adds the slow request, eight more arrive: the next pass takes them together.
    auto busy = HoldLoop(s.port);
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 8; ++i) clients.push_back(std::make_unique<Client>(s.port));
    for (int i = 0; i < 8; ++i) clients[i]->Send(Post("/batched", "r" + std::to_string(i)));
    CHECK(Body(busy->Response()).rfind("batch:slow:", 0) == 0);
    int answered_alone = 0;
    for (int i = 0; i < 8; ++i) answered_alone += Body(clients[i]->Response()) == "batch:r" + std::to_string(i) + ":1";
    // A route that finishes at once has each request answered before the loop starts the next one;
    // otherwise the pass's requests share one flush at its end.
    if (finishes_at_once) CHECK(answered_alone == 8);
    else CHECK(answered_alone < 8);
  }
}

TEST_CASE("http loop: limits are answered with a JSON error and the connection closes", "[http_loop]") {
  LoopServer s;
  SECTION("a head over 16 KiB") {
    Client c(s.port);
    c.Send("GET /echo HTTP/1.1\r\nX-Long: " + std::string(17000, 'a') + "\r\n\r\n");
    std::string r = c.Response();
    CHECK(Status(r) == 431);
    CHECK(Body(r).find("\"error\":\"head_too_large\"") != std::string::npos);
    CHECK(c.ClosedWithin(2));
  }
  SECTION("a body over the route's limit is refused before it is sent") {
    Client c(s.port);
    c.Send("POST /echo HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");  // no body follows
    std::string r = c.Response();
    CHECK(Status(r) == 413);
    CHECK(Body(r).find("\"error\":\"body_too_large\"") != std::string::npos);
    CHECK(r.find("Connection: close") != std::string::npos);
    CHECK(c.ClosedWithin(2));
  }
  SECTION("the same size is fine where the route allows it") {
    Client c(s.port);
    c.Send(Post("/big", std::string(5000, 'b')));
    CHECK(Status(c.Response()) == 200);
  }
  SECTION("a chunked body") {
    Client c(s.port);
    c.Send("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    std::string r = c.Response();
    CHECK(Status(r) == 411);
    CHECK(Body(r).find("Content-Length") != std::string::npos);
  }
  SECTION("a request line that is not HTTP/1.x") {
    Client c(s.port);
    c.Send("HELLO\r\n\r\n");
    CHECK(Status(c.Response()) == 400);
    CHECK(c.ClosedWithin(2));
  }
  SECTION("two Content-Length headers") {
    Client c(s.port);
    c.Send("POST /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 30\r\n\r\nx");
    std::string r = c.Response();
    CHECK(Status(r) == 400);
    CHECK(Body(r).find("more than one Content-Length") != std::string::npos);
    CHECK(c.ClosedWithin(2));
  }
  SECTION("a Content-Length that is not a number") {
    Client c(s.port);
    c.Send("POST /echo HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n");
    CHECK(Status(c.Response()) == 400);
  }
}

TEST_CASE("http loop: Expect 100-continue is answered by the loop, once", "[http_loop]") {
  LoopServer s;
  Client c(s.port);
  c.Send("POST /echo HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  std::string interim = c.Response();
  CHECK(interim == "HTTP/1.1 100 Continue\r\n\r\n");
  c.Send("body");
  std::string r = c.Response();
  CHECK(Status(r) == 200);
  CHECK(Body(r) == "[POST /echo HTTP/1.1]body");  // the handler never saw Expect (it would add "+expect")
}

TEST_CASE("http loop: Connection close and HTTP/1.0 close after the answer", "[http_loop]") {
  LoopServer s;
  Client a(s.port);
  a.Send(Post("/echo", "x", "Connection: close\r\n"));
  CHECK(Status(a.Response()) == 200);
  CHECK(a.ClosedWithin(2));
  Client b(s.port);
  b.Send("POST /batched HTTP/1.0\r\nContent-Length: 1\r\n\r\ny");
  std::string r = b.Response();
  CHECK(r.find("Connection: close") != std::string::npos);
  CHECK(b.ClosedWithin(2));
}

TEST_CASE("http loop: a request sent with the client's FIN is answered and the connection closed at once", "[http_loop]") {
  LoopServer s(30);
  for (const char* path : {"/echo", "/batched"}) {
    INFO(path);
    // The request and the FIN are both waiting when the loop reads.
    auto busy = HoldLoop(s.port);
    Client c(s.port);
    c.Send(Post(path, "last words"));
    ::shutdown(c.fd, SHUT_WR);
    CHECK(Body(busy->Response()).rfind("batch:slow:", 0) == 0);
    CHECK(Body(c.Response()).find("last words") != std::string::npos);
    CHECK(c.ClosedWithin(2));  // not after the 30 s keep-alive
  }
}

TEST_CASE("http loop: an idle keep-alive connection is closed after the timeout", "[http_loop]") {
  LoopServer s(/*keep_alive_seconds=*/1);
  Client c(s.port);
  c.Send(Post("/echo", "x"));
  CHECK(Status(c.Response()) == 200);
  const auto start = std::chrono::steady_clock::now();
  CHECK(c.ClosedWithin(4));
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(900));
}

}  // namespace rd

namespace rd {

TEST_CASE("http loop: out of file descriptors, it waits instead of spinning, then serves the connection", "[http_loop]") {
  LoopServer s;
  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
  int client_fd = ::socket(AF_INET, SOCK_STREAM, 0);  // the client's descriptor exists before the limit
  REQUIRE(client_fd >= 0);
  // No descriptor above client_fd may be opened now: the server's accept() fails with EMFILE.
  rlimit tight = saved;
  tight.rlim_cur = static_cast<rlim_t>(client_fd + 1);
  REQUIRE(setrlimit(RLIMIT_NOFILE, &tight) == 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(s.port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(client_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);  // completes in the backlog
  const double cpu_before = ProcessCpuSeconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const double cpu_used = ProcessCpuSeconds() - cpu_before;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &saved) == 0);
  CHECK(cpu_used < 0.25);  // a loop spinning on the readable listener would burn the whole 0.5 s
  Client c(s.port);         // and the waiting connection is served once descriptors are free again
  ::close(c.fd);
  c.fd = client_fd;
  timeval tv{5, 0};
  setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  c.Send(Post("/echo", "after"));
  CHECK(Body(c.Response()) == "[POST /echo HTTP/1.1]after");
}

}  // namespace rd
