// call_counter.h - counts the calls a service still has reactions running
// for, so that the daemon can wait, after the gRPC server has shut down, until
// no reaction will touch the services or the actor system any more (gRPC may
// run a reactor's OnDone after Server::Wait returns). Thread-safe.
#pragma once

#include <cstdint>

#include "absl/time/time.h"
#include "daemon/common/mutex.h"

namespace troupe {

class CallCounter {
 public:
  void Add() {
    troupe::MutexLock lock(&mu_);
    ++count_;
  }
  // The last thing a reactor does with its service.
  void Remove() {
    troupe::MutexLock lock(&mu_);
    if (--count_ == 0) zero_.SignalAll();
  }
  uint32_t count() const {
    troupe::MutexLock lock(&mu_);
    return count_;
  }
  // True when the count reached 0 before `deadline`.
  bool WaitForZero(absl::Time deadline) {
    troupe::MutexLock lock(&mu_);
    while (count_ != 0) {
      if (zero_.WaitWithDeadline(&mu_, deadline)) return count_ == 0;
    }
    return true;
  }

 private:
  mutable troupe::Mutex mu_;
  troupe::CondVar zero_;
  uint32_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace troupe
