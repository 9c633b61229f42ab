// timers.h - pending wakeups, ordered by deadline and then by request order
// (Thespian delivers same-pass wakeups in reverse; we do not). Each entry
// keeps its target cell alive and owns the wakeup message. Thread-safe.
#pragma once

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
  mutable troupe::Mutex mu_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace troupe::runtime
