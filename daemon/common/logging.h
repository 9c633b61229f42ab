// logging.h - the daemon's small logger: one line per call on stderr with a
// systemd priority prefix ("<3>" error ... "<7>" debug), which journald reads.
// Thread-safe. Tests may capture lines with SetLogSinkForTest.
#pragma once

#include <functional>
#include <string_view>

#include "daemon/common/strings.h"

namespace troupe {

enum class LogLevel { kError = 3, kWarning = 4, kInfo = 6, kDebug = 7 };

// Writes `text` at `level`. Lines below the minimum level are dropped.
void Log(LogLevel level, std::string_view text);
// Lines below `level` (numerically greater) are dropped. Default: kInfo.
void SetMinLogLevel(LogLevel level);

// Replaces stderr with `sink` (nullptr restores stderr). For tests only.
void SetLogSinkForTest(std::function<void(LogLevel, std::string_view)> sink);

template <typename... Args>
void LogError(const Args&... args) {
  Log(LogLevel::kError, troupe::StrCat(args...));
}
template <typename... Args>
void LogWarning(const Args&... args) {
  Log(LogLevel::kWarning, troupe::StrCat(args...));
}
template <typename... Args>
void LogInfo(const Args&... args) {
  Log(LogLevel::kInfo, troupe::StrCat(args...));
}
template <typename... Args>
void LogDebug(const Args&... args) {
  Log(LogLevel::kDebug, troupe::StrCat(args...));
}

}  // namespace troupe
