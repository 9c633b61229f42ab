// handler_watch.h - how long the handler running on each thread has run, for
// a system that watches its handlers (SystemOptions::watch_handlers: an
// isolated host, whose daemon kills it when a handler runs too long). Each
// thread that runs a handler gets a slot the first time; a slot is written
// only by its thread (Begin/End) and read by Longest from any thread.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "daemon/common/mutex.h"

namespace troupe::runtime {

class HandlerWatch {
 public:
  struct Running {
    absl::Duration running;  // since the handler started
    std::string type;        // of the message it handles
  };
  class Slot;

  HandlerWatch() = default;
  HandlerWatch(const HandlerWatch&) = delete;
  HandlerWatch& operator=(const HandlerWatch&) = delete;

  // The calling thread's slot (made on its first call).
  Slot* ThisThreadSlot();
  static void Begin(Slot* slot, std::string_view type);
  static void End(Slot* slot);
  // The handler that has run longest right now; nullopt when none runs.
  std::optional<Running> Longest() const;

 private:
  mutable troupe::Mutex mu_;
  std::deque<std::unique_ptr<Slot>> slots_ ABSL_GUARDED_BY(mu_);  // never shrinks
};

class HandlerWatch::Slot {
 public:
  troupe::Mutex mu;  // Begin/End by its thread, Longest by the watcher: rarely contended
  bool busy ABSL_GUARDED_BY(mu) = false;
  std::chrono::steady_clock::time_point started ABSL_GUARDED_BY(mu);
  std::string type ABSL_GUARDED_BY(mu);
};

// Runs Begin now and End when it goes; nothing when `watch` is null.
class HandlerWatchScope {
 public:
  HandlerWatchScope(HandlerWatch* watch, std::string_view type)
      : slot_(watch != nullptr ? watch->ThisThreadSlot() : nullptr) {
    if (slot_ != nullptr) HandlerWatch::Begin(slot_, type);
  }
  ~HandlerWatchScope() {
    if (slot_ != nullptr) HandlerWatch::End(slot_);
  }
  HandlerWatchScope(const HandlerWatchScope&) = delete;
  HandlerWatchScope& operator=(const HandlerWatchScope&) = delete;

 private:
  HandlerWatch::Slot* const slot_;
};

}  // namespace troupe::runtime
