// The bot's HTTP front: the web chat API, health, the demo page and the staff API (bot/staff_api.h).
// Connections belong to an event loop (bot/http_loop.h): customer turns (web chat, Slack and WeCom
// text messages) are batched on it, every other route runs on its workers through cpp-httplib's router.
// Bad input gets a JSON error ({"error": code, "message": text}) and nothing of a rejected request is
// stored. The security limits (README.md "Security limits") answer 413 / 429 (with Retry-After for
// rate limits); no answer ever carries an exception's text (it is logged).
#pragma once

#include <memory>
#include <string>

#include "bot/config.h"
#include "bot/conversation_service.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace rd {

class HttpLoop;
class RoutingServer;
struct HttpLimits;
class StaffAuth;
class WeComCallback;

class HttpServer {
 public:
  HttpServer(const Config& config, ConversationService* service, KnowledgeHolder* knowledge, StaffAuth* staff_auth);
  ~HttpServer();

  // Where uploaded (and downloaded) evidence files are kept.
  const std::string& uploads_dir() const { return uploads_dir_; }
  // Why a configured channel could not be set up (a malformed WeCom key), or "".
  const std::string& channel_error() const { return channel_error_; }
  // Binds (port 0 picks a free one) and returns the port, or -1.
  int Bind();
  // Serves until Stop(); returns false if the listener failed.
  bool Serve();
  void Stop();

 private:
  void Routes();
  void Upload(const httplib::Request& req, httplib::Response& res);

  Config config_;
  ConversationService* service_;
  KnowledgeHolder* knowledge_;
  StaffAuth* staff_auth_;
  std::unique_ptr<WeComCallback> wecom_;   // null: WeCom is off
  std::unique_ptr<RoutingServer> server_;  // cpp-httplib's router: every route but the customer turns
  std::unique_ptr<HttpLimits> limits_;     // rate limits, shared by the loops and the workers
  std::unique_ptr<HttpLoop> loop_;         // the connections (bot/http_loop.h)
  std::string uploads_dir_;
  std::string channel_error_;
};

}  // namespace rd
