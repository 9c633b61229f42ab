// polite_spin.h - look for work a little before sleeping, but only while the
// core is ours for the asking.
//
// Spinning saves the wake-up of a sleeping thread when the awaited thing comes
// within microseconds (a worker's next message, a client's reply). Spinning
// by yielding lets the threads that produce it run meanwhile. But on a busy
// host a yield hands the core to another process for its whole time slice,
// and a thread that keeps yielding stays runnable-but-not-running: when the
// awaited thing comes, it waits for that slice to end, where a sleeping
// thread would have been woken and run at once. So a yield that comes back
// late (kBusyYield) ends the spin, and this spinner does not spin again for
// kBackoff: it sleeps at once. Header-only (the client library uses it too).
// Thread-safe; one instance per group of threads that share a fate (the
// workers of an executor, the callers of one client).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace troupe {

class PoliteSpin {
 public:
  static constexpr std::chrono::microseconds kBusyYield{200};
  static constexpr std::chrono::milliseconds kBackoff{100};

  // Yields, then calls `ready`, until it returns true (then true), or
  // `max_rounds` yields or `max_time` passed, or a yield came back late
  // (then false: the caller sleeps). Returns false at once while backing off.
  template <typename Ready>
  bool Spin(int max_rounds, std::chrono::nanoseconds max_time, Ready&& ready) {
    using Clock = std::chrono::steady_clock;
    const Clock::time_point start = Clock::now();
    if (start.time_since_epoch().count() < spin_again_at_.load(std::memory_order_relaxed)) {
      return false;
    }
    Clock::time_point before = start;
    for (int round = 0; round < max_rounds && before - start < max_time; ++round) {
      std::this_thread::yield();
      const Clock::time_point after = Clock::now();
      if (ready()) return true;
      if (after - before > kBusyYield) {
        spin_again_at_.store((after + kBackoff).time_since_epoch().count(),
                             std::memory_order_relaxed);
        return false;
      }
      before = after;
    }
    return false;
  }

 private:
  // steady_clock ticks before which Spin returns false at once.
  std::atomic<int64_t> spin_again_at_{0};
};

}  // namespace troupe
