// The outbox's HTTP client against real servers on loopback: cpp-httplib's (plain and TLS, with a CA
// and certificates made for the test by the openssl command) and a raw socket server that answers
// exactly the bytes a test scripts, for the answers a well-behaved server never sends.
#include "bot/channels/platform_http.h"

#include "tests/bot/channels/test_pki.h"

#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace rd {
namespace {

using Failure = PlatformResponse::Failure;

BaseUrl Base(const std::string& url) {
  BaseUrl b;
  std::string error;
  REQUIRE(ParseBaseUrl(url, &b, &error));
  return b;
}

PlatformRequest Post(const std::string& target, const std::string& body) {
  PlatformRequest q;
  q.target = target;
  q.headers = {{"Authorization", "Bearer xoxb-test"}};
  q.content_type = "application/json; charset=utf-8";
  q.body = body;
  return q;
}

// A cpp-httplib server that echoes what it got and notes which client port each request came from.
class EchoServer {
 public:
  explicit EchoServer(httplib::Server* server = nullptr) : own_(server == nullptr), server_(server ? server : new httplib::Server) {
    server_->Post("/echo", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard<std::mutex> l(mu_);
        ports_.insert(req.remote_port);
      }
      res.set_content(req.get_header_value("Authorization") + "|" + req.get_header_value("Content-Type") + "|" + req.body,
                      "text/plain");
    });
    server_->Get("/chunked", [](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("application/json", [](size_t offset, httplib::DataSink& sink) {
        if (offset < 3 * 5000) {
          const std::string part(5000, static_cast<char>('a' + offset / 5000));
          sink.write(part.data(), part.size());
        } else {
          sink.done();
        }
        return true;
      });
    });
    server_->Post("/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(600));
      res.set_content("late", "text/plain");
    });
    server_->Post("/limited", [](const httplib::Request&, httplib::Response& res) {
      res.status = 429;
      res.set_header("Retry-After", "7");
      res.set_content(R"({"ok":false,"error":"ratelimited"})", "application/json");
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~EchoServer() {
    server_->stop();
    thread_.join();
    if (own_) delete server_;
  }
  int port() const { return port_; }
  size_t distinct_ports() {
    std::lock_guard<std::mutex> l(mu_);
    return ports_.size();
  }

 private:
  bool own_;
  httplib::Server* server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::set<int> ports_;
};

// Accepts connections one at a time; for each, reads one request and writes `answer` (then, unless
// `keep_open`, closes).
class RawServer {
 public:
  RawServer(std::string answer, bool keep_open = false) : answer_(std::move(answer)), keep_open_(keep_open) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listen(fd_, 16);
    thread_ = std::thread([this] {
      while (true) {
        const int c = accept(fd_, nullptr, nullptr);
        if (c < 0 || stop_) {
          if (c >= 0) close(c);
          return;
        }
        std::string got;
        char buf[4096];
        while (got.find("\r\n\r\n") == std::string::npos) {
          const ssize_t n = recv(c, buf, sizeof buf, 0);
          if (n <= 0) break;
          got.append(buf, static_cast<size_t>(n));
        }
        ++requests_;
        if (!answer_.empty()) send(c, answer_.data(), answer_.size(), MSG_NOSIGNAL);
        if (keep_open_) held_.push_back(c);
        else close(c);
      }
    });
  }
  ~RawServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    // accept() does not always return on shutdown: a connection of our own wakes it.
    const int wake = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port_));
    connect(wake, reinterpret_cast<sockaddr*>(&a), sizeof a);
    thread_.join();
    close(wake);
    close(fd_);
    for (int c : held_) close(c);
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_; }

 private:
  std::string answer_;
  bool keep_open_;
  int fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::vector<int> held_;
  std::thread thread_;
};

PlatformResponse Once(const std::string& url, PlatformHttpOptions options = {}) {
  PlatformHttp http(Base(url), options);
  return http.Exchange(Post("/x", "{}"));
}

}  // namespace

TEST_CASE("a batch of requests goes out on connections of its own, each answered, and they are kept for the next batch") {
  EchoServer server;
  PlatformHttpOptions options;
  options.max_in_flight = 4;
  PlatformHttp http(Base("http://127.0.0.1:" + std::to_string(server.port())), options);
  std::vector<PlatformRequest> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(Post("/echo", "{\"n\":" + std::to_string(i) + ",\"text\":\"退款\"}"));
  std::vector<PlatformResponse> answers = http.ExchangeAll(batch);
  REQUIRE(answers.size() == 10);
  for (int i = 0; i < 10; ++i) {
    INFO(answers[i].error);
    REQUIRE(answers[i].ok());
    CHECK(answers[i].status == 200);
    CHECK(answers[i].content_type == "text/plain");
    CHECK(answers[i].body == "Bearer xoxb-test|application/json; charset=utf-8|{\"n\":" + std::to_string(i) + ",\"text\":\"退款\"}");
  }
  CHECK(server.distinct_ports() == 4);  // in waves of max_in_flight
  CHECK(http.idle_connections() == 4);
  answers = http.ExchangeAll(batch);
  for (const auto& a : answers) CHECK(a.status == 200);
  CHECK(server.distinct_ports() == 4);  // the same four connections
}

TEST_CASE("a chunked answer is put back together, and a 429 comes with its Retry-After") {
  EchoServer server;
  PlatformHttp http(Base("http://127.0.0.1:" + std::to_string(server.port())));
  PlatformRequest get;
  get.method = "GET";
  get.target = "/chunked";
  PlatformResponse r = http.Exchange(get);
  REQUIRE(r.ok());
  CHECK(r.body == std::string(5000, 'a') + std::string(5000, 'b') + std::string(5000, 'c'));
  r = http.Exchange(Post("/limited", "{}"));
  REQUIRE(r.ok());
  CHECK(r.status == 429);
  CHECK(r.retry_after == "7");
  CHECK(http.idle_connections() == 1);  // both on one kept-alive connection
}

TEST_CASE("answers servers send less often: an interim 100, a body to the end of the stream, a 204") {
  RawServer interim("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
  PlatformResponse r = Once(interim.Url());
  REQUIRE(r.ok());
  CHECK(r.status == 200);
  CHECK(r.body == "ok");

  RawServer to_close("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"ok\":true}");
  PlatformHttp http(Base(to_close.Url()));
  r = http.Exchange(Post("/x", "{}"));
  REQUIRE(r.ok());
  CHECK(r.body == "{\"ok\":true}");
  CHECK(http.idle_connections() == 0);  // a body ended by the close leaves nothing to reuse

  RawServer no_content("HTTP/1.1 204 No Content\r\n\r\n", /*keep_open=*/true);
  r = Once(no_content.Url());
  REQUIRE(r.ok());
  CHECK(r.status == 204);
  CHECK(r.body.empty());
}

TEST_CASE("no answer is a failure that says whether the request may have landed") {
  SECTION("refused connection: nothing was sent") {
    int port;
    {
      RawServer gone("");
      port = std::atoi(gone.Url().substr(gone.Url().rfind(':') + 1).c_str());
    }
    PlatformHttp http(Base("http://127.0.0.1:" + std::to_string(port)));
    const std::vector<PlatformResponse> answers = http.ExchangeAll({Post("/x", "{}"), Post("/y", "{}"), Post("/z", "{}")});
    for (const PlatformResponse& r : answers) {
      CHECK(r.failure == Failure::kConnect);
      CHECK_FALSE(r.maybe_delivered);
      CHECK(r.error.find("cannot connect") != std::string::npos);
    }
  }
  SECTION("closed after reading the request: it may have landed") {
    RawServer hang_up("");
    PlatformResponse r = Once(hang_up.Url());
    CHECK(r.failure == Failure::kRead);
    CHECK(r.maybe_delivered);
    CHECK(r.error.find("closed") != std::string::npos);
    CHECK(hang_up.requests() == 1);
  }
  SECTION("no answer within the timeout") {
    RawServer silent("", /*keep_open=*/true);
    PlatformHttpOptions o;
    o.io_timeout_ms = 200;
    const auto started = std::chrono::steady_clock::now();
    PlatformResponse r = Once(silent.Url(), o);
    CHECK(r.failure == Failure::kRead);
    CHECK(r.maybe_delivered);
    CHECK(r.error.find("timed out") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(3));
  }
  SECTION("not HTTP") {
    RawServer garbage("hello there\r\n\r\n");
    CHECK(Once(garbage.Url()).failure == Failure::kProtocol);
  }
  SECTION("an answer larger than the limit is not read") {
    RawServer huge("HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\nabc", /*keep_open=*/true);
    PlatformHttpOptions o;
    o.max_body_bytes = 1 << 20;
    PlatformResponse r = Once(huge.Url(), o);
    CHECK(r.failure == Failure::kTooLarge);
    CHECK(r.body.empty());
  }
  SECTION("a header with a line break is never sent") {
    RawServer server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    PlatformHttp http(Base(server.Url()));
    PlatformRequest q = Post("/x", "{}");
    q.headers.push_back({"X-Evil", "a\r\nX-Injected: 1"});
    PlatformResponse r = http.Exchange(q);
    CHECK(r.failure == Failure::kProtocol);
    CHECK_FALSE(r.maybe_delivered);
    CHECK(server.requests() == 0);
  }
}

TEST_CASE("a kept-alive connection the server closed while it sat idle is not used again") {
  // Answers with keep-alive, then hangs up: the way servers drop idle connections.
  RawServer server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  PlatformHttp http(Base(server.Url()));
  REQUIRE(http.Exchange(Post("/x", "{}")).status == 200);
  REQUIRE(http.idle_connections() == 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // idle long enough to be checked
  PlatformResponse r = http.Exchange(Post("/x", "{}"));
  INFO(r.error);
  CHECK(r.status == 200);
  CHECK(server.requests() == 2);
}

TEST_CASE("https: the server's certificate must chain to the configured CAs and name the host") {
  signal(SIGPIPE, SIG_IGN);  // a refused handshake may leave the server writing to a closed socket
  test::TestPki pki;
  httplib::SSLServer tls(pki.File("server.pem").c_str(), pki.File("server.key").c_str());
  REQUIRE(tls.is_valid());
  EchoServer server(&tls);
  const std::string port = std::to_string(server.port());
  PlatformHttpOptions trusted;
  trusted.ca_file = pki.File("ca.pem");

  PlatformHttp http(Base("https://localhost:" + port), trusted);
  PlatformResponse r = http.Exchange(Post("/echo", "{\"secret\":1}"));
  INFO(r.error);
  REQUIRE(r.ok());
  CHECK(r.body == "Bearer xoxb-test|application/json; charset=utf-8|{\"secret\":1}");
  r = http.Exchange(Post("/echo", "{}"));  // again, on the kept-alive TLS connection
  CHECK(r.status == 200);
  CHECK(server.distinct_ports() == 1);
  // A TLS answer that does not come in time.
  PlatformHttpOptions impatient = trusted;
  impatient.io_timeout_ms = 150;
  PlatformHttp slow(Base("https://localhost:" + port), impatient);
  r = slow.Exchange(Post("/slow", "{}"));
  CHECK(r.failure == Failure::kRead);
  CHECK(r.maybe_delivered);
  CHECK(r.error == "read timed out");

  // The system's CAs do not know the test CA: refused before anything is sent.
  r = Once("https://localhost:" + port);
  CHECK(r.failure == Failure::kTls);
  CHECK_FALSE(r.maybe_delivered);
  CHECK(r.error.find("certificate") != std::string::npos);
  // The right CA, but the certificate does not name 127.0.0.1.
  r = Once("https://127.0.0.1:" + port, trusted);
  CHECK(r.failure == Failure::kTls);
  CHECK(r.error.find("certificate") != std::string::npos);
  // A CA file that does not exist is an error of its own.
  PlatformHttpOptions missing;
  missing.ca_file = pki.File("nowhere.pem");
  r = Once("https://localhost:" + port, missing);
  CHECK(r.failure == Failure::kTls);
  CHECK(r.error.find("nowhere.pem") != std::string::npos);
  CHECK(server.distinct_ports() == 1);  // none of the refused clients got a request through to /echo
}

}  // namespace rd
