#include "daemon/runtime/timers.h"

#include "daemon/runtime/cell.h"

namespace troupe::runtime {

Timers::~Timers() {
  troupe::MutexLock lock(&mu_);
  while (!heap_.empty()) {
    Entry e = heap_.top();
    heap_.pop();
    Message::Adopt(e.message).Reset();
    e.target->Release();
  }
}

bool Timers::Add(absl::Time deadline, Cell* target, Message message) {
  target->Retain();
  std::vector<Entry> dropped;
  bool earliest;
  {
    troupe::MutexLock lock(&mu_);
    const uint64_t stale = stale_.load(std::memory_order_relaxed);
    if (stale >= kCompactAtStale && 2 * stale >= heap_.size()) dropped = DropExitedLocked();
    earliest = heap_.empty() || deadline < heap_.top().deadline;
    heap_.push(Entry{deadline, next_seq_++, target, message.Release()});
  }
  ReleaseAll(dropped);
  return earliest;
}

std::vector<Timers::Entry> Timers::DropExitedLocked() {
  // Counted before the scan: a target exiting during it is counted again and
  // found by a later compaction.
  stale_.store(0, std::memory_order_relaxed);
  std::vector<Entry> kept;
  std::vector<Entry> dropped;
  kept.reserve(heap_.size());
  while (!heap_.empty()) {
    const Entry& e = heap_.top();
    (e.target->state() == CellState::kExited ? dropped : kept).push_back(e);
    heap_.pop();
  }
  heap_ = decltype(heap_)(std::greater<Entry>(), std::move(kept));
  return dropped;
}

void Timers::FireDue(absl::Time now, const std::function<void(Cell*, Message)>& deliver) {
  std::vector<Entry> due;
  {
    troupe::MutexLock lock(&mu_);
    while (!heap_.empty() && heap_.top().deadline <= now) {
      due.push_back(heap_.top());
      heap_.pop();
    }
  }
  for (Entry& e : due) deliver(e.target, Message::Adopt(e.message));
}

void Timers::RemoveFor(const Cell* target) {
  std::vector<Entry> dropped;
  {
    troupe::MutexLock lock(&mu_);
    std::vector<Entry> kept;
    kept.reserve(heap_.size());
    while (!heap_.empty()) {
      (heap_.top().target == target ? dropped : kept).push_back(heap_.top());
      heap_.pop();
    }
    for (Entry& e : kept) heap_.push(e);
  }
  ReleaseAll(dropped);  // outside the lock: releasing may free the cell
}

void Timers::ReleaseAll(std::vector<Entry>& entries) {
  for (Entry& e : entries) {
    Message::Adopt(e.message).Reset();
    e.target->Release();
  }
}

absl::Time Timers::NextDeadline() const {
  troupe::MutexLock lock(&mu_);
  return heap_.empty() ? absl::InfiniteFuture() : heap_.top().deadline;
}

size_t Timers::size() const {
  troupe::MutexLock lock(&mu_);
  return heap_.size();
}

}  // namespace troupe::runtime
