// leader.h - the leader's side of membership: the roster, one session per
// member stream (Join), expiry of silent members, and pushing every change
// to every member at once. Private to daemon/convention.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "daemon/common/clock.h"
#include "daemon/common/mutex.h"
#include "daemon/convention/roster.h"
#include "grpcpp/grpcpp.h"
#include "troupe/v1/convention.grpc.pb.h"

namespace troupe::convention {

struct LeaderOptions {
  absl::Duration checkin_interval = absl::Seconds(1);
  int missed_checkins = 3;
  Clock* clock = nullptr;  // nullptr: the real clock
  // This daemon's own entry, asked for whenever it is needed.
  std::function<v1::MemberInfo()> self_info;
  // Every roster change, in order, after it was pushed to the members. Called
  // with no lock of the leader held, one call at a time.
  std::function<void(const RosterEvent&)> on_event;
};

// Thread-safe.
class Leader {
 public:
  explicit Leader(LeaderOptions options);
  ~Leader();  // Stop()

  // Starts the expiry thread.
  void Start();
  // Ends every member stream (members see the leader go and will register
  // again with the next leader process) and stops the expiry thread.
  void Stop();

  // Serves one member's Join stream until it leaves, expires or breaks.
  grpc::Status Serve(grpc::ServerContext* context,
                     grpc::ServerReaderWriter<v1::RosterNews, v1::MemberReport>* stream);

  // The leader's own capabilities or bundles changed: the expiry thread
  // refreshes its entry and pushes the change to every member right away.
  // Never waits (callers may be actor workers).
  void SelfChanged();
  // The same, on the calling thread: returns once the change is written to
  // every member's stream. For threads that may wait (not workers).
  void PushSelfNow();
  // Runs one expiry pass now and refreshes the leader's own entry (the
  // expiry thread calls it every quarter of a check-in period).
  void ExpireNow();

  std::vector<v1::MemberInfo> Members() const;

 private:
  struct Session;
  // Serve without the final clean-up; `session` is set once registered.
  grpc::Status ServeSession(grpc::ServerContext* context,
                            grpc::ServerReaderWriter<v1::RosterNews, v1::MemberReport>* stream,
                            std::shared_ptr<Session>* session);
  // Applies `events` in order: the directory of every member first, then the
  // local observer. Call with dispatch_mu_ held.
  void Dispatch(const std::vector<RosterEvent>& events)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(dispatch_mu_);
  std::vector<std::shared_ptr<Session>> SessionsSnapshot() const;

  LeaderOptions options_;
  Clock* clock_;

  // Held while a change is applied and pushed, so every member sees the
  // changes in one order. Taken before mu_.
  troupe::Mutex dispatch_mu_;
  mutable troupe::Mutex mu_;
  Roster roster_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::shared_ptr<Session>> sessions_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool self_changed_ ABSL_GUARDED_BY(mu_) = false;  // SelfChanged since the last pass
  troupe::CondVar stop_cv_;
  std::thread expiry_thread_;
};

}  // namespace troupe::convention
