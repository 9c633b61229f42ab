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
  troupe::MutexLock lock(&mu_);
  bool earliest = heap_.empty() || deadline < heap_.top().deadline;
  heap_.push(Entry{deadline, next_seq_++, target, message.Release()});
  return earliest;
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
  // Outside the lock: releasing may free the cell.
  for (Entry& e : dropped) {
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
