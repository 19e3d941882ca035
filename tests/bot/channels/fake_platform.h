// A fake Slack / WeCom API on loopback (cpp-httplib in the test process): records every request and
// answers from a script (a queue of canned answers per path, then a default), so tests can make the
// platform slow, rate-limited or broken.
#pragma once

#include <httplib.h>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace rd::test {

class FakePlatform {
 public:
  struct Call {
    std::string method, path, body, query;
    httplib::Headers headers;
    int status = 0;  // what we answered
    std::chrono::steady_clock::time_point arrived, answered;
  };
  struct Answer {
    int status = 200;
    std::string body;
    httplib::Headers headers;
    std::string content_type = "application/json";
    int delay_ms = 0;  // a slow platform: answers this much later
  };

  // Plain HTTP on 127.0.0.1; with a certificate and its key, HTTPS (Base() then names "localhost").
  explicit FakePlatform(const std::string& cert_file = "", const std::string& key_file = "")
      : tls_(!cert_file.empty()),
        owned_(tls_ ? std::make_unique<httplib::SSLServer>(cert_file.c_str(), key_file.c_str())
                    : std::make_unique<httplib::Server>()),
        server_(*owned_) {
    auto handle = [this](const httplib::Request& req, httplib::Response& res) {
      Answer a;
      const auto arrived = std::chrono::steady_clock::now();
      size_t index = 0;
      {
        std::lock_guard<std::mutex> l(mu_);
        auto& q = script_[req.path];
        if (!q.empty()) {
          a = q.front();
          q.pop_front();
        } else {
          a = Default(req);
        }
        std::string query;
        for (const auto& [k, v] : req.params) query += k + "=" + v + "&";
        index = calls_.size();
        calls_.push_back({req.method, req.path, req.body, query, req.headers, a.status, arrived, arrived});
      }
      if (a.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(a.delay_ms));
      {
        std::lock_guard<std::mutex> l(mu_);
        calls_[index].answered = std::chrono::steady_clock::now();
      }
      res.status = a.status;
      for (const auto& [k, v] : a.headers) res.set_header(k, v);
      res.set_content(a.body, a.content_type.c_str());
    };
    server_.Get(".*", handle);
    server_.Post(".*", handle);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakePlatform() {
    server_.stop();
    thread_.join();
  }

  std::string Base(const std::string& prefix) const {
    return (tls_ ? "https://localhost:" : "http://127.0.0.1:") + std::to_string(port_) + prefix;
  }
  void Script(const std::string& path, Answer a) {
    std::lock_guard<std::mutex> l(mu_);
    script_[path].push_back(std::move(a));
  }
  void SetDefault(const std::string& path, Answer a) {
    std::lock_guard<std::mutex> l(mu_);
    defaults_[path] = std::move(a);
  }
  std::vector<Call> Calls(const std::string& path) {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<Call> out;
    for (const auto& c : calls_) if (c.path == path) out.push_back(c);
    return out;
  }
  // Waits until `n` calls to `path` were answered 200, or `seconds` pass; returns those calls.
  std::vector<Call> WaitForAccepted(const std::string& path, size_t n, double seconds = 10) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
    std::vector<Call> ok;
    while (std::chrono::steady_clock::now() < deadline) {
      ok.clear();
      for (const auto& c : Calls(path)) if (c.status == 200) ok.push_back(c);
      if (ok.size() >= n) return ok;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return ok;
  }

 private:
  Answer Default(const httplib::Request& req) {
    auto it = defaults_.find(req.path);
    if (it != defaults_.end()) return it->second;
    if (req.path.find("gettoken") != std::string::npos) {
      return {200, nlohmann::json{{"errcode", 0}, {"access_token", "token-" + std::to_string(++tokens_)}, {"expires_in", 7200}}.dump(), {}};
    }
    if (req.path.find("chat.postMessage") != std::string::npos) {
      return {200, nlohmann::json{{"ok", true}, {"ts", std::to_string(1700000000 + calls_.size()) + ".000100"}}.dump(), {}};
    }
    return {200, R"({"errcode": 0, "errmsg": "ok"})", {}};
  }

  bool tls_;
  std::unique_ptr<httplib::Server> owned_;
  httplib::Server& server_;
  std::thread thread_;
  int port_ = 0;
  int tokens_ = 0;
  std::mutex mu_;
  std::map<std::string, std::deque<Answer>> script_;
  std::map<std::string, Answer> defaults_;
  std::vector<Call> calls_;
};

}  // namespace rd::test
