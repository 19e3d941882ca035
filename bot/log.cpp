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

// "2026-11-27T09:05:01.042Z". The seconds' part is formatted once per second and thread.
std::string Timestamp() {
  thread_local int64_t cached_second = -1;
  thread_local std::string cached_prefix;
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  if (ms / 1000 != cached_second) {
    cached_second = ms / 1000;
    cached_prefix = FormatTimestampUtc(cached_second).substr(0, 19);
  }
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms % 1000));
  return cached_prefix + frac;
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

LogLine::LogLine(LogLevel level) : enabled_(LogEnabled(level)) {
  if (!enabled_) return;
  writer_.BeginObject();
  writer_.Member("ts", Timestamp());
  writer_.Member("level", Name(level));
}

LogLine::~LogLine() {
  if (!enabled_) return;
  writer_.EndObject();
  std::string line = writer_.Take();
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);  // one write per line: lines never interleave
}

void Log(LogLevel level, const nlohmann::json& fields) {
  LogLine line(level);
  if (fields.is_object()) {
    for (const auto& [key, value] : fields.items()) line.Add(key, value);  // Add does nothing when the level is off
  }
}

}  // namespace rd
