#include "bot/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

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

// Lines go out whole and in order. Info and debug lines — two per chat turn, thousands a second —
// are gathered and written together, at most kGatherMs later, by a background thread: written one by
// one they cost a write() each, on the thread that commits chat turns. Warnings and errors are
// written at once, after what was gathered. A process killed with SIGKILL loses at most the last
// kGatherMs of info lines; a normal exit loses none (FlushLog at exit).
class Sink {
 public:
  static Sink& Get() {
    static Sink* sink = [] {
      auto* s = new Sink;  // never destroyed: the flusher may run while the process exits
      std::atexit(FlushLog);
      std::thread([s] { s->FlushEvery(); }).detach();
      return s;
    }();
    return *sink;
  }
  void Write(std::string_view line, bool at_once) {
    std::lock_guard<std::mutex> l(mu_);
    pending_.append(line);
    if (at_once || pending_.size() >= kMaxGathered) WriteOut();
  }
  void Flush() {
    std::lock_guard<std::mutex> l(mu_);
    WriteOut();
  }

 private:
  static constexpr int kGatherMs = 20;
  static constexpr size_t kMaxGathered = 64 * 1024;
  void FlushEvery() {
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(kGatherMs));
      Flush();
    }
  }
  void WriteOut() {  // under mu_
    size_t done = 0;
    while (done < pending_.size()) {
      ssize_t n = ::write(STDERR_FILENO, pending_.data() + done, pending_.size() - done);
      if (n <= 0) break;  // nowhere to log to: drop rather than block the bot
      done += static_cast<size_t>(n);
    }
    pending_.clear();
  }
  std::mutex mu_;
  std::string pending_;
};
}  // namespace

void FlushLog() { Sink::Get().Flush(); }

bool ParseLogLevel(const std::string& name, LogLevel* out) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError, LogLevel::kOff}) {
    if (name == Name(l)) { *out = l; return true; }
  }
  return false;
}

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

LogLine::LogLine(LogLevel level) : enabled_(LogEnabled(level)), at_once_(level >= LogLevel::kWarn) {
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
  Sink::Get().Write(line, at_once_);
}

void Log(LogLevel level, const nlohmann::json& fields) {
  LogLine line(level);
  if (fields.is_object()) {
    for (const auto& [key, value] : fields.items()) line.Add(key, value);  // Add does nothing when the level is off
  }
}

}  // namespace rd
