// global_names.h - convention-wide global names on one daemon
// (docs/convention.md "Global names"). A name given at creation through
// Messaging.CreateActor is unique across the convention: the leader
// arbitrates in its NameTable (the first claim wins, later ones learn the
// holder). The leader uses its table directly; a member calls the leader's
// ClaimName / ReleaseName, signed like every peer call. Every daemon keeps
// the names its own actors hold: it releases each at the leader when the
// actor exits (the runtime's Cluster::NameReleased, on a thread of this
// class, so no actor worker waits for the leader) and claims them again
// after it joined a (restarted) leader. Names bound by bundle manifests are
// not claimed: they stay per daemon. Private to daemon/convention.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/common/mutex.h"
#include "daemon/convention/name_table.h"
#include "daemon/convention/peer_guard.h"
#include "daemon/runtime/actor_system.h"
#include "troupe/v1/convention.grpc.pb.h"

namespace troupe::convention {

struct GlobalNamesOptions {
  std::string self;            // this daemon's node name (host:port)
  PeerGuard* guard = nullptr;  // not owned; nullptr only for a daemon that always leads
  // How long one call to the leader may take.
  absl::Duration call_timeout = absl::Seconds(3);
  // How soon a release or re-claim that could not reach the leader is tried again.
  absl::Duration retry_interval = absl::Seconds(1);
  // The leader's address, or "" while this daemon leads (the table is here).
  std::function<std::string()> leader;
  // Leader only: whether `node` is a member now. Claims from other daemons
  // are refused (a daemon that is not a member would never be dropped).
  std::function<bool(const std::string& node)> is_member;
};

// Thread-safe.
class GlobalNames {
 public:
  // `system` must outlive this object.
  GlobalNames(GlobalNamesOptions options, runtime::ActorSystem* system);
  ~GlobalNames();  // Stop()
  GlobalNames(const GlobalNames&) = delete;
  GlobalNames& operator=(const GlobalNames&) = delete;

  // Starts the thread that sends releases and re-claims to the leader.
  void Start();
  // Stops it; releases not sent yet are dropped (the leader drops every name
  // of a member that leaves). Idempotent.
  void Stop();

  // ---- This daemon's names ----

  // The address of the actor holding `name` convention-wide (the leader's
  // table; a remote address, or one of this daemon). NotFound when no actor
  // holds it (also when the holder is an actor of this daemon that has
  // exited and whose release is on its way); Unavailable when the leader
  // cannot be asked. Blocks for one call to the leader on a member.
  absl::StatusOr<std::string> Find(const std::string& name);

  // Creates the actor `create` makes (it returns the new actor's address,
  // made here with `name` as its global name, or placed on another member,
  // which then claimed the name itself) unless the name is taken: by a live
  // actor of this daemon (its address, without asking the leader), else
  // convention-wide (the holder's address, `create` is not called). When
  // another daemon's create wins the race for the name between the check and
  // the claim, the new actor is asked to exit and the winner's address is
  // returned. Unavailable when the leader cannot be asked; otherwise the
  // errors of `create`.
  using Create = std::function<absl::StatusOr<std::string>()>;
  absl::StatusOr<std::string> CreateNamed(const std::string& name, const Create& create);

  // The runtime's Cluster::NameReleased: actor `address` of this daemon,
  // which held `name`, exited. Releases the name at the leader (from the
  // thread of this class) when this daemon had claimed it for that actor.
  void ActorExited(std::string_view name, std::string_view address);

  // This daemon joined a leader (again): every name its actors hold is
  // claimed there again, from the thread of this class. A name another
  // actor took meanwhile stays that actor's; the local one keeps it only on
  // this daemon (logged).
  void Rejoined();

  // ---- The leader's table ----

  // ClaimName from member `peer` (authenticated): the holder afterwards; an
  // empty `address` only asks ("" when free). FailedPrecondition when this
  // daemon does not lead or `peer` is not a member; PermissionDenied for an
  // address of another daemon; InvalidArgument for an empty name.
  absl::StatusOr<std::string> ClaimFor(const std::string& peer, const std::string& name,
                                       const std::string& address);
  // ReleaseName from `peer`: the holder afterwards ("" when free). Errors as
  // ClaimFor.
  absl::StatusOr<std::string> ReleaseFor(const std::string& peer, const std::string& name,
                                         const std::string& address);
  // Member `node` left or expired: the leader's table drops its names.
  void NodeLost(const std::string& node);
  // The leader's table, by name.
  std::vector<std::pair<std::string, std::string>> Table() const;

  // The names this daemon's actors hold convention-wide, by name.
  std::vector<std::pair<std::string, std::string>> HeldForTest() const;
  // What the thread of this class does when woken, on the calling thread
  // (for tests that do not Start it): true when something must be retried.
  bool SendPendingForTest() { return SendPending(); }

 private:
  // At the leader (the table when this daemon leads, else a call): the
  // holder of `name` after claiming it for `address` ("" only asks).
  absl::StatusOr<std::string> ClaimAtLeader(const std::string& name, const std::string& address);
  absl::StatusOr<std::string> ReleaseAtLeader(const std::string& name,
                                              const std::string& address);
  // One signed ClaimName or ReleaseName call to `leader`.
  absl::StatusOr<std::string> Call(const std::string& leader, bool release,
                                   const std::string& name, const std::string& address);
  std::shared_ptr<v1::Convention::Stub> StubFor(const std::string& leader);
  // A claim won for `address`: remembered for release and re-claim; released
  // again at once when the actor has exited meanwhile.
  void Hold(const std::string& name, const std::string& address);
  // False for an address of this daemon whose actor has exited (or never
  // existed); true for others.
  bool LiveOrElsewhere(const std::string& address);
  void Run();
  // Sends the re-claims (when due) and the queued releases to the leader;
  // true when some could not reach it and must be retried.
  bool SendPending();

  const GlobalNamesOptions options_;
  runtime::ActorSystem* const system_;

  mutable troupe::Mutex table_mu_;  // a leaf: nothing else is taken under it
  NameTable table_ ABSL_GUARDED_BY(table_mu_);

  mutable troupe::Mutex mu_;  // a leaf, like table_mu_
  troupe::CondVar cv_;
  std::map<std::string, std::string> held_ ABSL_GUARDED_BY(mu_);  // name -> address
  std::deque<std::pair<std::string, std::string>> releases_ ABSL_GUARDED_BY(mu_);
  bool reclaim_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::string stub_leader_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<v1::Convention::Stub> stub_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace troupe::convention
