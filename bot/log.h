// One JSON object per line on stderr. Secrets are never passed here; customer text only at debug level.
// Warnings and errors are written at once; info and debug lines within 20 ms (gathered, to write many
// with one system call), and at exit.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "storage/json_writer.h"

namespace rd {

enum class LogLevel { kDebug, kInfo, kWarn, kError, kOff };

bool ParseLogLevel(const std::string& name, LogLevel* out);
void SetLogLevel(LogLevel level);
// Writes the gathered lines now (also run at exit).
void FlushLog();
bool LogEnabled(LogLevel level);

// A line built field by field as it is added, written (with "ts" and "level") when it goes out of scope;
// nothing is built when `level` is off. The per-request and per-turn lines, thousands a second, use it
// directly: building a JSON tree for each cost several times the line.
//   LogLine(LogLevel::kInfo).Add("event", "http").Add("status", 200);
class LogLine {
 public:
  explicit LogLine(LogLevel level);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  template <class T>
  LogLine& Add(std::string_view key, const T& value) {
    if (enabled_) writer_.Member(key, value);
    return *this;
  }
  LogLine& Add(std::string_view key, const nlohmann::json& value) {
    if (enabled_) writer_.Key(key).Value(value);
    return *this;
  }
  LogLine& Add(std::string_view key, const std::string& value) { return Add(key, std::string_view(value)); }

 private:
  bool enabled_;
  bool at_once_;  // warnings and errors are not gathered
  JsonWriter writer_;
};

// The same line from a JSON object of fields, for the rarer events.
void Log(LogLevel level, const nlohmann::json& fields);

}  // namespace rd
