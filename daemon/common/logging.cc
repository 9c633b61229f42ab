#include "daemon/common/logging.h"

#include <atomic>
#include <cstdio>
#include <string>

#include "daemon/common/mutex.h"

namespace troupe {
namespace {

std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};
troupe::Mutex sink_mu;
std::function<void(LogLevel, std::string_view)>* sink ABSL_GUARDED_BY(sink_mu) = nullptr;

}  // namespace

void SetMinLogLevel(LogLevel level) { min_level.store(static_cast<int>(level)); }

void SetLogSinkForTest(std::function<void(LogLevel, std::string_view)> new_sink) {
  troupe::MutexLock lock(&sink_mu);
  delete sink;
  sink =
      new_sink ? new std::function<void(LogLevel, std::string_view)>(std::move(new_sink)) : nullptr;
}

void Log(LogLevel level, std::string_view text) {
  if (static_cast<int>(level) > min_level.load(std::memory_order_relaxed)) return;
  troupe::MutexLock lock(&sink_mu);
  if (sink != nullptr) {
    (*sink)(level, text);
    return;
  }
  std::string line = troupe::StrCat("<", static_cast<int>(level), ">", text, "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace troupe
