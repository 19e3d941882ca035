#include "bot/channels/platform.h"


namespace rd {

bool ParseBaseUrl(const std::string& url, BaseUrl* out, std::string* error) {
  const bool https = url.rfind("https://", 0) == 0, http = url.rfind("http://", 0) == 0;
  if (!https && !http) { *error = url + ": an API base URL starts with https://"; return false; }
  const size_t host_start = https ? 8 : 7;
  const size_t slash = url.find('/', host_start);
  std::string host_port = url.substr(host_start, slash == std::string::npos ? std::string::npos : slash - host_start);
  std::string host = host_port.substr(0, host_port.rfind(':') == std::string::npos || host_port.front() == '['
                                             ? host_port.size() : host_port.rfind(':'));
  if (host.empty()) { *error = url + ": no host"; return false; }
  if (http && host != "127.0.0.1" && host != "localhost" && host != "[::1]") {
    *error = url + ": plain http:// is allowed only for loopback hosts (tests); use https://";
    return false;
  }
  out->scheme_host_port = url.substr(0, host_start) + host_port;
  out->path = slash == std::string::npos ? "" : url.substr(slash);
  while (!out->path.empty() && out->path.back() == '/') out->path.pop_back();
  return true;
}

}  // namespace rd
