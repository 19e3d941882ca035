// JSON answers shared by the HTTP routes: every error is {"error": code, "message": text}.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>

#include "bot/http_loop.h"

namespace rd {

inline void SendError(httplib::Response& res, int status, const std::string& code, const std::string& message) {
  res.status = status;
  res.set_content(nlohmann::json{{"error", code}, {"message", message}}.dump(), "application/json");
}

inline void SendJson(httplib::Response& res, const nlohmann::json& body, int status = 200) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

// An answer built for the HTTP loop (bot/http_loop.h), sent by the router instead.
inline void SendResponse(httplib::Response& res, const HttpResponse& r) {
  res.status = r.status;
  for (const auto& [name, value] : r.headers) res.set_header(name, value);
  res.set_content(r.body, r.content_type);
}

}  // namespace rd
