// executor.h - who runs actor turns. ThreadedExecutor is the production
// scheduler (a fixed pool of workers with per-worker queues and stealing);
// DeterministicExecutor runs nothing by itself: tests step it one turn at a
// time, as CAF's test coordinator does.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "daemon/common/polite_spin.h"

namespace troupe::runtime {

class Cell;

// Runs one turn of `cell`; returns true when the cell wants another turn
// (quota used up with messages left).
using TurnFunction = std::function<bool(Cell* cell)>;

class Executor {
 public:
  virtual ~Executor() = default;
  // Makes `cell` runnable. Any thread. A cell is scheduled at most once at a
  // time (the mailbox protocol guarantees it).
  virtual void Schedule(Cell* cell) = 0;
  virtual void Stop() = 0;
};

// A fixed pool of worker threads. Each worker has a "next" slot (the actor
// it just woke, run next for cache locality, as Tokio and Go do) and a FIFO
// queue; idle workers steal from others; cells scheduled from outside, and
// cells that used up their throughput quota, go to a shared injection queue,
// which every worker also checks regularly so nothing starves. An idle
// worker spins briefly, then sleeps; it is woken only when work is waiting
// that the current worker will not run next. Thread-safe.
class ThreadedExecutor final : public Executor {
 public:
  ThreadedExecutor(int threads, TurnFunction turn);
  ~ThreadedExecutor() override;
  void Schedule(Cell* cell) override;
  // Stops and joins the workers; cells still queued are not run.
  void Stop() override;
  int threads() const { return static_cast<int>(workers_.size()); }

 private:
  struct Worker;
  void Run(Worker* self);
  Cell* FindWork(Worker* self);
  // True when a cell waits in `self`'s queues or the shared injection queue.
  bool OthersWaiting(Worker* self);
  // The oldest cell of the shared injection queue, or nullptr.
  Cell* PopInjected();
  void WakeOne();

  TurnFunction turn_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex injection_mu_;
  std::deque<Cell*> injection_;
  std::atomic<size_t> injection_size_{0};
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  std::atomic<int> sleepers_{0};
  std::atomic<int> spinners_{0};
  troupe::PoliteSpin spin_;
  int max_spinners_ = 1;
  std::atomic<uint64_t> wake_epoch_{0};
  std::atomic<bool> stopping_{false};
};

// Single-threaded, manual stepping. Not thread-safe: one test thread drives it.
class DeterministicExecutor final : public Executor {
 public:
  explicit DeterministicExecutor(TurnFunction turn) : turn_(std::move(turn)) {}
  void Schedule(Cell* cell) override { queue_.push_back(cell); }
  void Stop() override { queue_.clear(); }
  // Runs one turn of the next runnable cell. False when nothing is runnable.
  bool RunOne();
  size_t runnable() const { return queue_.size(); }

 private:
  TurnFunction turn_;
  std::deque<Cell*> queue_;
};

}  // namespace troupe::runtime
