// convention_watch.h - Admin.WatchConvention: streams the ConventionStatus
// answer now and again after each roster change, to any number of clients.
//
// No thread waits for a change. The convention calls Changed() from its own
// threads (possibly holding its locks), which only counts the change and
// queues one refresh on BlockingCalls; the refresh computes the status once,
// outside every convention lock, and starts a write on each idle stream. A
// stream still writing when a change comes catches up in its OnWriteDone (on
// a gRPC thread), so a slow reader gets the latest state, never a backlog
// (an update may repeat the one before when a change came while that one was
// made). Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <set>

#include "absl/time/time.h"
#include "daemon/common/call_counter.h"
#include "daemon/common/mutex.h"
#include "daemon/service/blocking_calls.h"
#include "grpcpp/grpcpp.h"
#include "troupe/v1/admin.pb.h"

namespace troupe::service {

class ConventionWatch {
 public:
  using StatusFn = std::function<v1::ConventionStatusResponse()>;

  // `blocking` must outlive this object (and be stopped after Stop()).
  // `status` is the answer to send; it is called on gRPC threads and
  // BlockingCalls threads with no lock of this object held.
  ConventionWatch(BlockingCalls* blocking, StatusFn status);
  ConventionWatch(const ConventionWatch&) = delete;
  ConventionWatch& operator=(const ConventionWatch&) = delete;

  // The roster changed. Never blocks; any thread, any locks held.
  void Changed();

  // The reactor for one WatchConvention call (the caller has checked the
  // client's credentials).
  grpc::ServerWriteReactor<v1::ConventionStatusResponse>* Watch(
      grpc::CallbackServerContext* context);

  // Ends every stream with UNAVAILABLE ("the daemon is stopping") and
  // refuses later calls. Before the server's shutdown. Idempotent.
  void Stop();

  // After the server has shut down: true once no stream's reactor runs any
  // more (OnDone done) before `deadline`.
  bool WaitForCallsToEnd(absl::Time deadline) { return open_.WaitForZero(deadline); }

  // Streams open now.
  uint32_t open_streams() const { return open_.count(); }

 private:
  class Stream;

  // On a BlockingCalls thread: one status for every idle stream behind.
  void Refresh(const absl::Status& admitted);

  BlockingCalls* const blocking_;
  const StatusFn status_;
  mutable troupe::Mutex mu_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // bumped by Changed
  bool refresh_queued_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::set<Stream*> streams_ ABSL_GUARDED_BY(mu_);
  CallCounter open_;
};

}  // namespace troupe::service
