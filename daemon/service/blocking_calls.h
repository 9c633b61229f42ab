// blocking_calls.h - the few threads on which the services make the calls
// that may wait for a peer or the convention's leader (a global name looked
// up or claimed, a create placed on another daemon, an invitation), so that a
// gRPC reactor only reads, writes and finishes (DESIGN.md decision 13).
#pragma once

#include <cstddef>
#include <deque>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "daemon/common/mutex.h"

namespace troupe::service {

// A fixed pool of threads and a bounded queue. A call that finds the queue
// full is refused at once (the client retries or gives up; nothing waits for
// room). Owned by the daemon, shared by its services; Stop() before the gRPC
// server shuts down (a unary reactor whose call is queued here is finished by
// that call). Thread-safe.
class BlockingCalls {
 public:
  // A call to make, with what it needs (copied or moved in). Called exactly
  // once when Run accepted it: with OK on one of the pool's threads, to make
  // the call and answer; or with UnavailableError when Stop came before it
  // started (on the thread that stops), to answer without making it.
  using Call = absl::AnyInvocable<void(const absl::Status& admitted)>;

  struct Options {
    // Calls made at once; a call may wait for its peer up to the
    // convention's timeouts (30 s for a placement).
    int threads = 4;
    // Calls waiting for a thread; more are refused.
    size_t max_queued = 1024;
  };

  BlockingCalls() : BlockingCalls(Options()) {}
  explicit BlockingCalls(Options options);
  ~BlockingCalls();  // Stop()
  BlockingCalls(const BlockingCalls&) = delete;
  BlockingCalls& operator=(const BlockingCalls&) = delete;

  // Queues `call` and returns OK, or refuses it (it is then never called):
  // ResourceExhaustedError when `max_queued` calls wait already,
  // UnavailableError once stopped. Never blocks; may be called from a call
  // running here.
  absl::Status Run(Call call);

  // Refuses every later call, calls each queued one with UnavailableError
  // ("the daemon is stopping") on this thread, and returns once the calls
  // under way have returned. Idempotent. Not from a call running here.
  void Stop();

  // Calls waiting for a thread; calls being made.
  size_t QueuedForTest() const;
  size_t RunningForTest() const;

 private:
  void Loop();

  const Options options_;
  mutable troupe::Mutex mu_;
  troupe::CondVar work_;
  std::deque<Call> queue_ ABSL_GUARDED_BY(mu_);
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;  // joined by the first Stop
  troupe::Mutex stop_mu_;             // one Stop joins; later ones wait for it
};

}  // namespace troupe::service
