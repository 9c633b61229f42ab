#include "daemon/runtime/executor.h"

#include <algorithm>
#include <atomic>
#include <chrono>

namespace troupe::runtime {
namespace {

// A tiny test-and-test-and-set lock for the per-worker queues: held for a
// handful of instructions, almost never contended.
class SpinLock {
 public:
  void lock() {
    for (;;) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) __builtin_ia32_pause();
    }
  }
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

// Consecutive runs from the "next" slot before the FIFO gets a turn, so two
// actors that keep waking each other cannot starve the rest.
constexpr int kMaxSlotStreak = 64;

// Every this many picks from its own queue a worker looks at the shared
// injection queue first, so local work that keeps coming cannot starve cells
// scheduled from outside (Go and Tokio do the same).
constexpr int kInjectionCheckInterval = 61;

// An idle worker looks for work kSpinRounds more times, yielding the core
// between looks (roughly 100-200 microseconds in all when nothing else wants
// the core), before it sleeps. Yielding rather than pausing matters on small
// machines: the threads that produce the work (gRPC's, a client's) get the
// core at once, while the worker is still awake for the next message. Measured
// with tests/bench/daemon_bench: the ask round trip through troupd fell from
// about 1.3x to about 1.0x of raw gRPC, with in-process rates unchanged.
constexpr int kSpinRounds = 128;


}  // namespace

struct ThreadedExecutor::Worker {
  SpinLock lock;
  Cell* next = nullptr;    // guarded by lock
  std::deque<Cell*> fifo;  // guarded by lock
  int slot_streak = 0;     // owner only
  int ticks = 0;           // owner only: picks since the injection queue was checked
  std::thread thread;
};

namespace {
thread_local const void* current_executor = nullptr;
thread_local void* current_worker = nullptr;
}  // namespace

ThreadedExecutor::ThreadedExecutor(int threads, TurnFunction turn) : turn_(std::move(turn)) {
  if (threads < 1) threads = 1;
  max_spinners_ = std::max(1, threads / 2);
  for (int i = 0; i < threads; ++i) workers_.push_back(std::make_unique<Worker>());
  for (auto& w : workers_) {
    Worker* self = w.get();
    w->thread = std::thread([this, self] { Run(self); });
  }
}

ThreadedExecutor::~ThreadedExecutor() { Stop(); }

void ThreadedExecutor::Stop() {
  if (stopping_.exchange(true)) {
    for (auto& w : workers_)
      if (w->thread.joinable() && w->thread.get_id() != std::this_thread::get_id())
        w->thread.join();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(sleep_mu_);
    wake_epoch_.fetch_add(1);
  }
  sleep_cv_.notify_all();
  for (auto& w : workers_)
    if (w->thread.joinable() && w->thread.get_id() != std::this_thread::get_id()) w->thread.join();
}

void ThreadedExecutor::WakeOne() {
  {
    std::lock_guard<std::mutex> lock(sleep_mu_);
    wake_epoch_.fetch_add(1, std::memory_order_release);
  }
  sleep_cv_.notify_one();
}

void ThreadedExecutor::Schedule(Cell* cell) {
  if (current_executor == this) {
    auto* self = static_cast<Worker*>(current_worker);
    bool displaced = false;
    self->lock.lock();
    if (self->next != nullptr) {
      self->fifo.push_back(self->next);
      displaced = true;
    }
    self->next = cell;
    self->lock.unlock();
    if (displaced) {
      // A seq_cst read-modify-write orders our queue push before reading the
      // sleeper count (Dekker-style with the sleeper's increment); TSan
      // understands it, unlike a fence.
      if (sleepers_.fetch_add(0, std::memory_order_seq_cst) > 0) WakeOne();
    }
    return;
  }
  {
    std::lock_guard<std::mutex> lock(injection_mu_);
    injection_.push_back(cell);
    injection_size_.fetch_add(1, std::memory_order_relaxed);
  }
  // A seq_cst read-modify-write orders our queue push before reading the
  // sleeper count (Dekker-style with the sleeper's increment); TSan
  // understands it, unlike a fence.
  if (sleepers_.fetch_add(0, std::memory_order_seq_cst) > 0) WakeOne();
}

Cell* ThreadedExecutor::PopInjected() {
  if (injection_size_.load(std::memory_order_relaxed) == 0) return nullptr;
  std::lock_guard<std::mutex> lock(injection_mu_);
  if (injection_.empty()) return nullptr;
  Cell* cell = injection_.front();
  injection_.pop_front();
  injection_size_.fetch_sub(1, std::memory_order_relaxed);
  return cell;
}

Cell* ThreadedExecutor::FindWork(Worker* self) {
  Cell* cell = nullptr;
  if (++self->ticks >= kInjectionCheckInterval) {
    self->ticks = 0;
    if ((cell = PopInjected()) != nullptr) return cell;
  }
  // Own queue: the "next" slot first (bounded streak), then the FIFO.
  self->lock.lock();
  if (self->next != nullptr && (self->slot_streak < kMaxSlotStreak || self->fifo.empty())) {
    cell = self->next;
    self->next = nullptr;
    ++self->slot_streak;
  } else if (!self->fifo.empty()) {
    cell = self->fifo.front();
    self->fifo.pop_front();
    self->slot_streak = 0;
  }
  self->lock.unlock();
  if (cell != nullptr) return cell;

  if ((cell = PopInjected()) != nullptr) return cell;
  // Steal: the oldest FIFO entry of another worker, else its "next" slot.
  for (auto& w : workers_) {
    Worker* victim = w.get();
    if (victim == self) continue;
    victim->lock.lock();
    if (!victim->fifo.empty()) {
      cell = victim->fifo.front();
      victim->fifo.pop_front();
    } else if (victim->next != nullptr) {
      cell = victim->next;
      victim->next = nullptr;
    }
    victim->lock.unlock();
    if (cell != nullptr) return cell;
  }
  return nullptr;
}

bool ThreadedExecutor::OthersWaiting(Worker* self) {
  if (injection_size_.load(std::memory_order_relaxed) != 0) return true;
  self->lock.lock();
  const bool waiting = self->next != nullptr || !self->fifo.empty();
  self->lock.unlock();
  return waiting;
}

void ThreadedExecutor::Run(Worker* self) {
  current_executor = this;
  current_worker = self;
  while (!stopping_.load(std::memory_order_acquire)) {
    Cell* cell = FindWork(self);
    // Look again a little before sleeping: work often arrives within microseconds,
    // and a futex sleep plus wake costs far more than that.
    // At most half the workers spin at once, so spinning never takes every
    // core from the threads (and other processes) that produce the work.
    // (PoliteSpin: not on a busy host, where yielding costs a time slice.)
    if (cell == nullptr) {
      if (spinners_.fetch_add(1, std::memory_order_relaxed) < max_spinners_) {
        spin_.Spin(kSpinRounds, std::chrono::milliseconds(1),
                   [&] { return (cell = FindWork(self)) != nullptr; });
      }
      spinners_.fetch_sub(1, std::memory_order_relaxed);
    }
    if (cell == nullptr) {
      uint64_t epoch = wake_epoch_.load(std::memory_order_acquire);
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      cell = FindWork(self);
      if (cell == nullptr) {
        std::unique_lock<std::mutex> lock(sleep_mu_);
        sleep_cv_.wait(lock, [&] {
          return wake_epoch_.load(std::memory_order_acquire) != epoch ||
                 stopping_.load(std::memory_order_acquire);
        });
      }
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      if (cell == nullptr) continue;
    }
    bool more = turn_(cell);
    // Quota used up with nothing else waiting for this worker or in the shared
    // queue: run the cell again at once. Re-queueing it would only hand it to
    // a sleeping worker, a wake-up per quota for no one's benefit.
    while (more && !OthersWaiting(self) && !stopping_.load(std::memory_order_relaxed)) {
      more = turn_(cell);
    }
    if (more) {
      // Quota used up: go to the back of the shared injection queue, behind
      // the cells already waiting there (our own FIFO is looked at before
      // that queue, so re-queueing locally would let a flooded actor keep
      // the worker until its mailbox is empty).
      {
        std::lock_guard<std::mutex> lock(injection_mu_);
        injection_.push_back(cell);
        injection_size_.fetch_add(1, std::memory_order_relaxed);
      }
      // A seq_cst read-modify-write orders our queue push before reading the
      // sleeper count (Dekker-style with the sleeper's increment); TSan
      // understands it, unlike a fence.
      if (sleepers_.fetch_add(0, std::memory_order_seq_cst) > 0) WakeOne();
    }
  }
  current_executor = nullptr;
  current_worker = nullptr;
}

bool DeterministicExecutor::RunOne() {
  if (queue_.empty()) return false;
  Cell* cell = queue_.front();
  queue_.pop_front();
  if (turn_(cell)) queue_.push_back(cell);
  return true;
}

}  // namespace troupe::runtime
