// clock.h - time as a dependency. Production code uses RealClock; tests inject
// a ManualClock and advance it by hand, so no test ever sleeps.
#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "daemon/common/mutex.h"

namespace troupe {

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The system clock. Thread-safe; one shared instance.
class RealClock final : public Clock {
 public:
  static RealClock* Get();
  absl::Time Now() const override { return absl::Now(); }
};

// A clock that moves only when told. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(absl::Time start = absl::UnixEpoch()) : now_(start) {}
  absl::Time Now() const override {
    troupe::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    troupe::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable troupe::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace troupe
