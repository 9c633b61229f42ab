// convention.h - this daemon's part in a convention (docs/convention.md):
// membership as leader or member, the peer links that carry messages to
// other daemons' actors, placement of actors on members whose capabilities
// fit, bundles fetched on demand, and the Convention gRPC service.
//
// A daemon takes part when it has a TCP listener with a fixed port (its node
// name) and a convention key. Without `convleader` it is a leader (of itself,
// until members join or it is invited). Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/common/mutex.h"
#include "daemon/convention/directory.h"
#include "daemon/convention/peer_guard.h"
#include "daemon/hosting/bundle_host.h"
#include "daemon/runtime/actor_system.h"
#include "grpcpp/grpcpp.h"
#include "troupe/v1/admin.pb.h"
#include "troupe/v1/messaging.pb.h"

namespace troupe::convention {

struct ConventionState;

struct ConventionOptions {
  std::string self;    // host:port: the node name
  std::string leader;  // host:port, or "" for a leader
  absl::Duration checkin_interval = absl::Seconds(1);
  int missed_checkins = 3;
  std::string allow_remote_sources = "no";  // yes, no or leader-only
  std::string troupe_version;
  PeerGuard* guard = nullptr;  // not owned; outlives the convention
  int max_message_bytes = 64 << 20;
  // How long a placement on a peer (its bundle fetch included) may take.
  absl::Duration place_timeout = absl::Seconds(30);
  // A member left or expired (after the runtime and the links heard of it):
  // e.g. to fail the asks waiting on its actors.
  std::function<void(const std::string& node, const std::string& reason)> on_node_lost;
  // The roster or this daemon's place in it changed (a member joined, left,
  // expired, changed capabilities or bundles; a welcome; an invitation), so
  // Status() may answer differently: e.g. to update Admin.WatchConvention
  // streams. Called from the convention's threads, maybe with its locks
  // held: must not block nor call back into the convention.
  std::function<void()> on_change;
};

class Convention {
 public:
  // `system` and `host` must outlive the convention.
  Convention(ConventionOptions options, runtime::ActorSystem* system, hosting::BundleHost* host);
  ~Convention();  // Stop(false)
  Convention(const Convention&) = delete;
  Convention& operator=(const Convention&) = delete;

  // The gRPC service to register on the TCP listener (before it starts).
  grpc::Service* service();
  // Starts membership: a leader starts expiring members, a member registers.
  // Call once the server accepts calls.
  void Start();
  // Leaves: a member deregisters (when `graceful`), a leader ends its
  // members' streams; links close. Idempotent. Call before the server stops.
  void Stop(bool graceful);

  // After the gRPC server has shut down: waits until no reaction of the
  // service runs any more (gRPC may run them after Server::Wait).
  bool WaitForCallsToEnd(absl::Time deadline);

  v1::ConventionStatusResponse Status() const;
  // Leader only: pre-registers `address` and invites it (again every
  // check-in period until it joins). The text says what happened.
  absl::StatusOr<std::string> Invite(const std::string& address);

  // Creates an actor on another member whose last known capabilities meet
  // the request's requirements: the least loaded first (actors and queued
  // messages at its last check-in, plus what this daemon placed there since),
  // ties by address; the next one when creation there fails.
  // `local_problem` is why this daemon did not take it (FAILED_PRECONDITION
  // from its own requirement check). FailedPrecondition naming the unmet
  // requirements and every member considered when none takes it.
  absl::StatusOr<std::string> PlaceElsewhere(const v1::CreateActorRequest& request,
                                             const absl::Status& local_problem);

  // Global names (docs/convention.md "Global names"). The address of the
  // actor holding `name` convention-wide; NotFound when none does,
  // Unavailable when the leader cannot be asked.
  absl::StatusOr<std::string> FindName(const std::string& name);
  // Creates the actor `create` makes, named `name` convention-wide, unless
  // the name is taken (then the holder's address): see GlobalNames::CreateNamed.
  absl::StatusOr<std::string> CreateNamed(
      const std::string& name, const std::function<absl::StatusOr<std::string>()>& create);

  const std::string& self() const;
  bool is_leader() const;

 private:
  std::unique_ptr<ConventionState> state_;
  std::unique_ptr<grpc::Service> service_;
};

}  // namespace troupe::convention
