// timers.h - pending wakeups, ordered by deadline and then by request order
// (Thespian delivers same-pass wakeups in reverse; we do not). Each entry
// keeps its target cell alive and owns the wakeup message. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

#include "absl/time/time.h"
#include "daemon/common/mutex.h"
#include "daemon/runtime/envelope.h"

namespace troupe::runtime {

class Cell;

class Timers {
 public:
  Timers() = default;
  ~Timers();  // drops what is still pending
  // Queues `message` for `target` (retained) at `deadline`. Returns true when
  // this entry is now the earliest (a timer thread should recompute its wait).
  bool Add(absl::Time deadline, Cell* target, Message message);
  // Removes every entry due at `now` and hands each to `deliver` in deadline
  // order; `deliver` receives the target (still retained: it must release it).
  void FireDue(absl::Time now, const std::function<void(Cell*, Message)>& deliver);
  // Drops every entry for `target` (its actor exited).
  void RemoveFor(const Cell* target);
  // An entry's target exited without RemoveFor (a reply slot that was
  // answered before its deadline). Once such entries are many and at least
  // half the queue, the next Add drops every entry whose target has exited,
  // so early answers do not keep their cells until the deadline.
  void NoteStale() { stale_.fetch_add(1, std::memory_order_relaxed); }
  // The earliest deadline, or InfiniteFuture.
  absl::Time NextDeadline() const;
  size_t size() const;

 private:
  struct Entry {
    absl::Time deadline;
    uint64_t seq;
    Cell* target;
    Envelope* message;
    bool operator>(const Entry& o) const {
      return deadline != o.deadline ? deadline > o.deadline : seq > o.seq;
    }
  };
  // Drops entries whose target exited; returns them for release outside mu_.
  std::vector<Entry> DropExitedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Frees what the entries hold (never under mu_: a release may free a cell).
  static void ReleaseAll(std::vector<Entry>& entries);
  static constexpr uint64_t kCompactAtStale = 4096;
  std::atomic<uint64_t> stale_{0};
  mutable troupe::Mutex mu_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace troupe::runtime
