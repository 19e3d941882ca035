// JSON answers shared by the HTTP routes: every error is {"error": code, "message": text}.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>

namespace rd {

inline void SendError(httplib::Response& res, int status, const std::string& code, const std::string& message) {
  res.status = status;
  res.set_content(nlohmann::json{{"error", code}, {"message", message}}.dump(), "application/json");
}

inline void SendJson(httplib::Response& res, const nlohmann::json& body, int status = 200) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

}  // namespace rd
