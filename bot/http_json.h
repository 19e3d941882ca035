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

// An optional whole-number query parameter within [min, max] (absent: *out unchanged). False when it
// is given and is not such a number.
inline bool PageParam(const httplib::Request& req, const char* name, int64_t min, int64_t max, int64_t* out) {
  if (!req.has_param(name)) return true;
  const std::string v = req.get_param_value(name);
  if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos) return false;
  const int64_t n = std::stoll(v);
  if (n < min || n > max) return false;
  *out = n;
  return true;
}

// An answer built for the HTTP loop (bot/http_loop.h), sent by the router instead.
inline void SendResponse(httplib::Response& res, const HttpResponse& r) {
  res.status = r.status;
  for (const auto& [name, value] : r.headers) res.set_header(name, value);
  res.set_content(r.body, r.content_type);
}

}  // namespace rd
