// convention_state.h - the parts of a Convention, shared by convention.cc and
// the gRPC handlers in service.cc. Private to daemon/convention.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "daemon/common/call_counter.h"
#include "daemon/common/mutex.h"
#include "daemon/convention/candidates.h"
#include "daemon/convention/convention.h"
#include "daemon/convention/directory.h"
#include "daemon/convention/global_names.h"
#include "daemon/convention/leader.h"
#include "daemon/convention/links.h"
#include "daemon/convention/member.h"
#include "daemon/runtime/cluster.h"

namespace troupe::convention {

struct ConventionState {
  ConventionState(ConventionOptions options, runtime::ActorSystem* system,
                  hosting::BundleHost* host);

  // This daemon's roster entry now.
  v1::MemberInfo SelfInfo() const;
  // Its capabilities or bundles changed: the leader (itself or the one it
  // checks in with) hears of it now, not at the next check-in. Never waits.
  void SelfChanged();
  // The same, waiting (up to a check-in period) until the leader has the
  // new entry and has pushed it to the members: how a member that fetched a
  // bundle for a placement makes sure the others can place there next.
  void AnnounceSelfAndWait();
  // A change of the directory: subscribers, the runtime and the links hear of
  // it (nothing for this daemon's own entry).
  void OnEvent(const RosterEvent& event);
  void StartLeader() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void StartMember(const std::string& leader) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  absl::Status SendInvite(const std::string& address);
  // Re-sends the invitations of pre-registered daemons that have not joined.
  void InviteLoop();
  // Creates the actor `spec` describes on another member (Convention::
  // PlaceElsewhere has the order; placement.cc). PlaceAsync: an error at once
  // when no member fits by the last known roster, else `placed` runs once,
  // later, on a gRPC thread, with the address or why no member took it;
  // never waits. Place waits for the outcome.
  absl::Status PlaceAsync(const PlaceSpec& spec, const absl::Status& local_problem,
                          runtime::Cluster::Placed placed);
  absl::StatusOr<std::string> Place(const PlaceSpec& spec, const absl::Status& local_problem);
  // The runtime's placement of a child that does not fit here.
  absl::Status PlaceChild(const runtime::PlaceRequest& request, runtime::Cluster::Placed placed);
  // Stops placements under way (they end with UNAVAILABLE) and waits for
  // their outcomes to be delivered.
  void StopPlacements();
  // An invitation from `leader`: become (or stay) its member.
  absl::Status AcceptInvite(const std::string& leader);

  const ConventionOptions options;
  runtime::ActorSystem* const system;
  hosting::BundleHost* const host;
  const uint64_t incarnation;
  Directory directory;
  std::unique_ptr<Links> links;

  mutable troupe::Mutex mu;
  troupe::CondVar cv;
  bool leading ABSL_GUARDED_BY(mu) = true;
  bool started ABSL_GUARDED_BY(mu) = false;
  bool stopped ABSL_GUARDED_BY(mu) = false;
  std::unique_ptr<Leader> leader ABSL_GUARDED_BY(mu);
  std::unique_ptr<Member> member ABSL_GUARDED_BY(mu);
  std::set<std::string> invited ABSL_GUARDED_BY(mu);
  // Per member: its last check-in time when counted, and actors placed there
  // since (reset with each check-in).
  PlacedCounts placed ABSL_GUARDED_BY(mu);
  std::thread invite_thread;
  // The runtime's view of the convention (SetCluster).
  std::unique_ptr<runtime::Cluster> cluster;
  // Placements under way (placement.cc): their calls, to cancel at Stop.
  troupe::Mutex placements_mu;
  std::set<grpc::ClientContext*> placement_calls ABSL_GUARDED_BY(placements_mu);
  bool placements_stopped ABSL_GUARDED_BY(placements_mu) = false;
  CallCounter placements_under_way;
  // Convention-wide global names (the leader's table, this daemon's claims).
  // Last: its thread uses `mu` until it is stopped.
  std::unique_ptr<GlobalNames> names;
};

// The Convention gRPC service over `state` (service.cc).
std::unique_ptr<grpc::Service> MakeService(ConventionState* state);

}  // namespace troupe::convention
