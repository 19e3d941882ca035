#include "bot/channels/platform_http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <algorithm>
#include <map>
#include <mutex>
#include <string_view>

namespace rd {

namespace {

using Failure = PlatformResponse::Failure;
using SteadyClock = std::chrono::steady_clock;

constexpr size_t kMaxHeaderBytes = 64 * 1024;

std::string OpenSslError(const char* what) {
  std::string out = what;
  char buf[256];
  bool first = true;
  while (unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, buf, sizeof buf);
    out += first ? ": " : "; ";
    out += buf;
    first = false;
  }
  return out;
}

// One client context per CA bundle, for the life of the process: loading a bundle parses every
// certificate in it (milliseconds), and a context is safe to share between threads.
SSL_CTX* ClientContext(const std::string& ca_file, std::string* error) {
  // OpenSSL first: its clean-up at exit then runs after the contexts below are freed.
  static const bool initialised = OPENSSL_init_ssl(0, nullptr) == 1;
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>> contexts;
  std::lock_guard<std::mutex> l(mu);
  if (!initialised) { *error = OpenSslError("OpenSSL initialisation"); return nullptr; }
  if (auto it = contexts.find(ca_file); it != contexts.end()) return it->second.get();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) { *error = OpenSslError("TLS context"); return nullptr; }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    *error = OpenSslError(("cannot load the CA bundle " + ca_file).c_str());
    SSL_CTX_free(ctx);
    return nullptr;
  }
  contexts.emplace(ca_file, std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>(ctx, SSL_CTX_free));
  return ctx;
}

bool IsIpAddress(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool EqualsLower(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool HasLineBreak(const std::string& s) { return s.find_first_of("\r\n") != std::string::npos; }

}  // namespace

// A socket to the origin, with TLS when the base URL is https.
class PlatformHttp::Connection {
 public:
  Connection(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  ~Connection() {
    if (ssl_ != nullptr) {
      SSL_shutdown(ssl_);  // one close_notify, not waiting for the server's: we are leaving anyway
      SSL_free(ssl_);
    }
    close(fd_);
  }

  // Writes all of `data`; false (and `error`) when the socket refuses or the write times out.
  bool WriteAll(std::string_view data, std::string* error) {
    while (!data.empty()) {
      ssize_t n;
      if (ssl_ != nullptr) {
        ERR_clear_error();
        const int r = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
        if (r <= 0) { *error = IoError("write", r); return false; }
        n = r;
      } else {
        n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { *error = IoError("write", -1); return false; }
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Appends what the server sent next to `buf`: > 0 bytes, 0 at the end of the stream, < 0 on an
  // error or a timeout (`error`).
  ssize_t ReadSome(std::string* buf, std::string* error) {
    const size_t old = buf->size();
    buf->resize(old + 16384);
    ssize_t n;
    if (ssl_ != nullptr) {
      ERR_clear_error();
      const int r = SSL_read(ssl_, buf->data() + old, 16384);
      if (r > 0) n = r;
      else if (SSL_get_error(ssl_, r) == SSL_ERROR_ZERO_RETURN) n = 0;
      else { *error = IoError("read", r); n = -1; }
    } else {
      do n = recv(fd_, buf->data() + old, 16384, 0);
      while (n < 0 && errno == EINTR);
      if (n < 0) *error = IoError("read", -1);
    }
    buf->resize(old + static_cast<size_t>(n > 0 ? n : 0));
    return n;
  }

  // Whether a kept-alive connection still looks usable: the server has not closed it nor sent
  // anything unasked (pending TLS records count as unasked).
  bool StillOpen() const {
    if (ssl_ != nullptr && SSL_pending(ssl_) > 0) return false;
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, 0) == 0;
  }

  SteadyClock::time_point last_used;

 private:
  std::string IoError(const char* what, int ssl_result) {
    const int saved = errno;
    if (ssl_ != nullptr) {
      const int e = SSL_get_error(ssl_, ssl_result);
      // The socket's timeout comes back from OpenSSL as a wish to retry.
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return std::string(what) + " timed out";
      if (e != SSL_ERROR_SYSCALL || ERR_peek_error() != 0) return OpenSslError((std::string("TLS ") + what).c_str());
    }
    if (saved == EAGAIN || saved == EWOULDBLOCK) return std::string(what) + " timed out";
    if (saved == 0) return std::string(what) + ": the connection closed";
    return std::string(what) + ": " + std::strerror(saved);
  }

  int fd_;
  SSL* ssl_;
};

PlatformHttp::PlatformHttp(BaseUrl base, PlatformHttpOptions options) : base_(std::move(base)), options_(std::move(options)) {
  // scheme_host_port is "http[s]://host[:port]" (ParseBaseUrl); an IPv6 host is bracketed.
  const std::string& shp = base_.scheme_host_port;
  tls_ = shp.rfind("https://", 0) == 0;
  std::string host_port = shp.substr(tls_ ? 8 : 7);
  if (!host_port.empty() && host_port.front() == '[') {
    const size_t close = host_port.find(']');
    host_ = host_port.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    port_ = close != std::string::npos && close + 1 < host_port.size() && host_port[close + 1] == ':' ? host_port.substr(close + 2) : "";
  } else {
    const size_t colon = host_port.rfind(':');
    host_ = host_port.substr(0, colon);
    port_ = colon == std::string::npos ? "" : host_port.substr(colon + 1);
  }
  if (port_.empty()) port_ = tls_ ? "443" : "80";
}

PlatformHttp::~PlatformHttp() = default;

std::unique_ptr<PlatformHttp::Connection> PlatformHttp::Acquire(std::string* error, Failure* failure, bool* reused) {
  const auto now = SteadyClock::now();
  *reused = false;
  while (!idle_.empty()) {
    std::unique_ptr<Connection> c = std::move(idle_.back());
    idle_.pop_back();
    const auto idle_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - c->last_used).count();
    if (idle_ms > options_.max_idle_ms) continue;
    // A busy connection is reused as it is; one that sat for a while is checked for the server's close.
    if (idle_ms > 1000 && !c->StillOpen()) continue;
    *reused = true;
    return c;
  }

  *failure = Failure::kConnect;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addrs = nullptr;
  if (int rc = getaddrinfo(host_.c_str(), port_.c_str(), &hints, &addrs); rc != 0) {
    *error = "cannot resolve " + host_ + ": " + gai_strerror(rc);
    return nullptr;
  }
  int fd = -1;
  *error = "cannot connect to " + host_ + ":" + port_;
  for (addrinfo* a = addrs; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    int rc = connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = poll(&p, 1, options_.connect_timeout_ms);
      int so_error = 0;
      socklen_t len = sizeof so_error;
      if (rc == 0) errno = ETIMEDOUT;
      else if (rc > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0) errno = so_error;
      rc = rc > 0 && so_error == 0 ? 0 : -1;
    }
    if (rc != 0) {
      *error = "cannot connect to " + host_ + ":" + port_ + ": " + std::strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(addrs);
  if (fd < 0) return nullptr;
  // Blocking from here, each write and read bounded by the I/O timeout.
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{options_.io_timeout_ms / 1000, (options_.io_timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (!tls_) return std::make_unique<Connection>(fd, nullptr);

  *failure = Failure::kTls;
  SSL_CTX* ctx = ClientContext(options_.ca_file, error);
  if (ctx == nullptr) { close(fd); return nullptr; }
  SSL* ssl = SSL_new(ctx);
  auto c = std::make_unique<Connection>(fd, ssl);  // owns fd and ssl from here
  if (ssl == nullptr) { *error = OpenSslError("TLS session"); return nullptr; }
  SSL_set_fd(ssl, fd);
  // The certificate must name the host we asked for: a DNS name (and SNI), or an IP address.
  const bool ip = IsIpAddress(host_);
  if (ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host_.c_str()) != 1
         : SSL_set_tlsext_host_name(ssl, host_.c_str()) != 1 || SSL_set1_host(ssl, host_.c_str()) != 1) {
    *error = OpenSslError("TLS host name");
    return nullptr;
  }
  ERR_clear_error();
  if (SSL_connect(ssl) != 1) {
    const long verify = SSL_get_verify_result(ssl);
    *error = verify != X509_V_OK ? "TLS: the certificate of " + host_ + " was refused: " + X509_verify_cert_error_string(verify)
                                 : OpenSslError(("TLS handshake with " + host_).c_str());
    return nullptr;
  }
  return c;
}

void PlatformHttp::Release(std::unique_ptr<Connection> c) {
  c->last_used = SteadyClock::now();
  idle_.push_back(std::move(c));
}

std::string PlatformHttp::Serialize(const PlatformRequest& request) const {
  std::string out;
  out.reserve(256 + request.body.size());
  out.append(request.method).append(" ").append(request.target.empty() ? "/" : request.target).append(" HTTP/1.1\r\nHost: ");
  out.append(host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_);
  if (port_ != (tls_ ? "443" : "80")) out.append(":").append(port_);
  out.append("\r\nUser-Agent: refund-desk\r\nAccept: application/json\r\n");
  for (const auto& [name, value] : request.headers) out.append(name).append(": ").append(value).append("\r\n");
  if (!request.content_type.empty()) out.append("Content-Type: ").append(request.content_type).append("\r\n");
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
    out.append("Content-Length: ").append(std::to_string(request.body.size())).append("\r\n");
  }
  out.append("\r\n").append(request.body);
  return out;
}

namespace {

// Reads one answer from `c` (whose request was written whole). `reusable`: the connection may carry
// the next request.
template <typename Conn>
PlatformResponse ReadResponse(Conn& c, size_t max_body, bool* reusable) {
  PlatformResponse r;
  *reusable = false;
  const auto fail = [&](Failure f, std::string why) {
    r.failure = f;
    r.maybe_delivered = true;
    r.error = std::move(why);
    r.status = 0;
    r.body.clear();
    return r;
  };
  std::string buf, error;
  size_t header_end;
  bool http10 = false, close_after = false, chunked = false;
  long long content_length = -1;
  while (true) {  // until a final (non-1xx) status
    while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > kMaxHeaderBytes) return fail(Failure::kProtocol, "the answer's headers are too long");
      const ssize_t n = c.ReadSome(&buf, &error);
      if (n == 0) return fail(Failure::kRead, buf.empty() ? "the connection closed before an answer" : "the answer ended early");
      if (n < 0) return fail(Failure::kRead, error);
    }
    const std::string_view head(buf.data(), header_end);
    const size_t line_end = head.find("\r\n");
    const std::string_view status_line = head.substr(0, line_end);
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ') {
      return fail(Failure::kProtocol, "not an HTTP/1.x answer");
    }
    http10 = status_line[7] == '0';
    r.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
    if (r.status < 100 || r.status > 599) return fail(Failure::kProtocol, "bad status line");
    close_after = http10;
    chunked = false;
    content_length = -1;
    size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t end = head.find("\r\n", pos);
      if (end == std::string_view::npos) end = head.size();
      const std::string_view line = head.substr(pos, end - pos);
      pos = end + 2;
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      const std::string_view name = line.substr(0, colon), value = Trim(line.substr(colon + 1));
      if (EqualsLower(name, "content-length")) {
        char* e = nullptr;
        const std::string v(value);
        content_length = std::strtoll(v.c_str(), &e, 10);
        if (v.empty() || *e != '\0' || content_length < 0) return fail(Failure::kProtocol, "bad Content-Length");
      } else if (EqualsLower(name, "transfer-encoding")) {
        chunked = value.size() >= 7 && EqualsLower(value.substr(value.size() - 7), "chunked");
      } else if (EqualsLower(name, "connection")) {
        if (EqualsLower(value, "close")) close_after = true;
        else if (EqualsLower(value, "keep-alive")) close_after = false;
      } else if (EqualsLower(name, "content-type")) {
        r.content_type = value;
      } else if (EqualsLower(name, "retry-after")) {
        r.retry_after = value;
      }
    }
    buf.erase(0, header_end + 4);
    if (r.status >= 200) break;
    r.content_type.clear();
    r.retry_after.clear();
  }
  if (r.status == 204 || r.status == 304) {
    *reusable = !close_after && buf.empty();
    return r;
  }
  const auto need = [&](size_t bytes) -> bool {  // at least `bytes` in buf, or false (r set)
    while (buf.size() < bytes) {
      const ssize_t n = c.ReadSome(&buf, &error);
      if (n == 0) { fail(Failure::kRead, "the answer ended early"); return false; }
      if (n < 0) { fail(Failure::kRead, error); return false; }
    }
    return true;
  };
  if (chunked) {
    size_t pos = 0;
    while (true) {
      size_t eol;
      while ((eol = buf.find("\r\n", pos)) == std::string::npos) {
        if (buf.size() - pos > 1024) return fail(Failure::kProtocol, "bad chunk header");
        if (!need(buf.size() + 1)) return r;
      }
      char* e = nullptr;
      const std::string size_text = buf.substr(pos, eol - pos);
      const unsigned long long size = std::strtoull(size_text.c_str(), &e, 16);
      if (e == size_text.c_str() || (*e != '\0' && *e != ';' && *e != ' ')) return fail(Failure::kProtocol, "bad chunk size");
      if (size > max_body || r.body.size() + size > max_body) return fail(Failure::kTooLarge, "the answer is larger than the limit");
      pos = eol + 2;
      if (size == 0) {
        // Trailers, if any, end with an empty line.
        while (true) {
          while ((eol = buf.find("\r\n", pos)) == std::string::npos) {
            if (buf.size() - pos > kMaxHeaderBytes) return fail(Failure::kProtocol, "bad trailer");
            if (!need(buf.size() + 1)) return r;
          }
          const bool empty = eol == pos;
          pos = eol + 2;
          if (empty) break;
        }
        break;
      }
      if (!need(pos + size + 2)) return r;
      r.body.append(buf, pos, size);
      if (buf.compare(pos + size, 2, "\r\n") != 0) return fail(Failure::kProtocol, "bad chunk end");
      pos += size + 2;
      if (pos > 65536) { buf.erase(0, pos); pos = 0; }
    }
    *reusable = !close_after && pos == buf.size();
    return r;
  }
  if (content_length >= 0) {
    if (static_cast<unsigned long long>(content_length) > max_body) return fail(Failure::kTooLarge, "the answer is larger than the limit");
    if (!need(static_cast<size_t>(content_length))) return r;
    *reusable = !close_after && buf.size() == static_cast<size_t>(content_length);
    buf.resize(static_cast<size_t>(content_length));
    r.body = std::move(buf);
    return r;
  }
  // Neither: the body runs to the end of the stream.
  while (true) {
    if (buf.size() > max_body) return fail(Failure::kTooLarge, "the answer is larger than the limit");
    const ssize_t n = c.ReadSome(&buf, &error);
    if (n == 0) break;
    if (n < 0) return fail(Failure::kRead, error);
  }
  r.body = std::move(buf);
  return r;
}

}  // namespace

PlatformResponse PlatformHttp::Exchange(const PlatformRequest& request) { return ExchangeAll({request}).front(); }

std::vector<PlatformResponse> PlatformHttp::ExchangeAll(const std::vector<PlatformRequest>& requests) {
  std::vector<PlatformResponse> out(requests.size());
  std::string unreachable;  // once one connection fails, the rest of the batch does not wait for its own
  const size_t wave = static_cast<size_t>(std::max(1, options_.max_in_flight));
  for (size_t begin = 0; begin < requests.size(); begin += wave) {
    const size_t end = std::min(requests.size(), begin + wave);
    std::vector<std::unique_ptr<Connection>> sent(end - begin);
    for (size_t i = begin; i < end; ++i) {
      const PlatformRequest& q = requests[i];
      bool bad = HasLineBreak(q.method) || HasLineBreak(q.target) || HasLineBreak(q.content_type);
      for (const auto& [name, value] : q.headers) bad = bad || HasLineBreak(name) || HasLineBreak(value);
      if (bad) {
        out[i].failure = Failure::kProtocol;
        out[i].error = "a line break in the request line or a header";
        continue;
      }
      if (!unreachable.empty()) {
        out[i].failure = Failure::kConnect;
        out[i].error = unreachable;
        continue;
      }
      const std::string wire = Serialize(q);
      // A kept-alive connection the server closed meanwhile may refuse the write. The server never
      // saw a whole request then, so a fresh connection carries it.
      for (int attempt = 0; attempt < 2; ++attempt) {
        std::string error;
        Failure failure = Failure::kConnect;
        bool reused = false;
        std::unique_ptr<Connection> c = Acquire(&error, &failure, &reused);
        if (!c) {
          out[i].failure = failure;
          out[i].error = error;
          unreachable = error;
          break;
        }
        if (c->WriteAll(wire, &error)) {
          sent[i - begin] = std::move(c);
          break;
        }
        out[i].failure = Failure::kWrite;
        out[i].error = error;
        if (!reused) break;
      }
    }
    for (size_t i = begin; i < end; ++i) {
      std::unique_ptr<Connection>& c = sent[i - begin];
      if (!c) continue;
      bool reusable = false;
      out[i] = ReadResponse(*c, options_.max_body_bytes, &reusable);
      if (reusable) Release(std::move(c));
      c.reset();
    }
  }
  return out;
}

}  // namespace rd
