#include "bot/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>

#include "bot/env.h"

namespace rd {

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
const char* Name(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
    default: return "off";
  }
}
}  // namespace

bool ParseLogLevel(const std::string& name, LogLevel* out) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError, LogLevel::kOff}) {
    if (name == Name(l)) { *out = l; return true; }
  }
  return false;
}

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

void Log(LogLevel level, nlohmann::json fields) {
  if (!LogEnabled(level)) return;
  auto now = std::chrono::system_clock::now().time_since_epoch();
  int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  char ts[40];
  std::snprintf(ts, sizeof ts, "%s.%03dZ", FormatTimestampUtc(ms / 1000).substr(0, 19).c_str(), static_cast<int>(ms % 1000));
  fields["ts"] = ts;
  fields["level"] = Name(level);
  std::string line = fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);  // one write per line: lines never interleave
}

}  // namespace rd
