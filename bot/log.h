// One JSON object per line on stderr. Secrets are never passed here; customer text only at debug level.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace rd {

enum class LogLevel { kDebug, kInfo, kWarn, kError, kOff };

bool ParseLogLevel(const std::string& name, LogLevel* out);
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
// Adds "ts" and "level" and writes the line atomically.
void Log(LogLevel level, nlohmann::json fields);

}  // namespace rd
