// handler_watch.cc - HandlerWatch (handler_watch.h).
#include "daemon/runtime/handler_watch.h"

namespace troupe::runtime {

namespace {
// The slot of this thread and the watch it belongs to (a thread may run
// handlers of several systems, e.g. in tests).
struct ThreadSlot {
  const HandlerWatch* watch = nullptr;
  HandlerWatch::Slot* slot = nullptr;
};
thread_local ThreadSlot this_thread_slot;
}  // namespace

HandlerWatch::Slot* HandlerWatch::ThisThreadSlot() {
  ThreadSlot& mine = this_thread_slot;
  if (mine.watch == this) return mine.slot;
  troupe::MutexLock lock(&mu_);
  slots_.push_back(std::make_unique<Slot>());
  mine = {this, slots_.back().get()};
  return mine.slot;
}

void HandlerWatch::Begin(Slot* slot, std::string_view type) {
  troupe::MutexLock lock(&slot->mu);
  slot->busy = true;
  slot->started = std::chrono::steady_clock::now();
  slot->type.assign(type.data(), type.size());
}

void HandlerWatch::End(Slot* slot) {
  troupe::MutexLock lock(&slot->mu);
  slot->busy = false;
}

std::optional<HandlerWatch::Running> HandlerWatch::Longest() const {
  const auto now = std::chrono::steady_clock::now();
  std::optional<Running> longest;
  troupe::MutexLock lock(&mu_);
  for (const std::unique_ptr<Slot>& slot : slots_) {
    troupe::MutexLock slot_lock(&slot->mu);
    if (!slot->busy) continue;
    const absl::Duration running = absl::FromChrono(now - slot->started);
    if (!longest.has_value() || running > longest->running) longest = Running{running, slot->type};
  }
  return longest;
}

}  // namespace troupe::runtime
