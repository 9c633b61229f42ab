// cluster.h - the one seam between the runtime and the rest of a convention:
// everything an ActorSystem needs from other daemons goes through a Cluster
// (messages to their actors, placing a child that does not fit here, the
// current members, and notices of names and capabilities), and everything
// the convention tells the runtime goes through ActorSystem's remote methods
// (DeliverFromRemote, Undeliverable, NodeLost). The embedded leader's
// convention is one implementation (daemon/convention); tests use fakes.
// docs/runtime.md "Remote addresses" and docs/internals.md describe it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/runtime/envelope.h"
#include "daemon/runtime/requirements.h"

namespace troupe::runtime {

class ActorClass;

// A child an actor created that does not fit this daemon.
struct PlaceRequest {
  std::string parent;  // the creating actor's address
  const ActorClass* actor_class = nullptr;  // valid until `placed` has run
  ActorRequirements requirements;           // as the creating plugin gave them
  std::string global_name;                  // may be empty
  absl::Status local_problem;               // why this daemon did not take it
};

// Implementations are thread-safe, and no method waits on the network or on
// another daemon: they run on actor workers and gRPC reactions. None may call
// ActorSystem::SetCluster.
class Cluster {
 public:
  virtual ~Cluster() = default;

  // Sends `message` (its sender may be a local or a remote cell; format it
  // with system->FormatAddress) to actor `remote_id` of daemon `node`. When
  // the node cannot be reached the cluster calls ActorSystem::Undeliverable
  // itself. Returns false when the message was taken but the node's outbox
  // is at or over its bound: the sender should wait (ResumeWhenRoom) before
  // sending more.
  virtual bool Forward(std::string_view node, uint64_t remote_id, Message message) = 0;
  // After Forward returned false: keeps `resume` and runs it once (from any
  // thread, without the cluster's locks) when `node`'s outbox has drained
  // below its low-water mark or its link closed. False when there is room
  // already (or no link): then `resume` is dropped without being run.
  virtual bool ResumeWhenRoom(std::string_view node, std::function<void()> resume) = 0;

  // Starts placing `request` on another daemon. An error at once when, by
  // what is known now, no member can take it (`placed` is then dropped
  // unrun); otherwise OK, and `placed` runs exactly once, from any thread
  // (maybe before Place returns), with the new actor's address or why no
  // member took it. Before the cluster is detached and destroyed, every
  // `placed` it took has run.
  using Placed = std::function<void(absl::StatusOr<std::string> address)>;
  virtual absl::Status Place(PlaceRequest request, Placed placed) = 0;

  // The other current members as (node, capabilities JSON): the "joined"
  // round a new convention subscriber gets first.
  virtual std::vector<std::pair<std::string, std::string>> Members() = 0;

  // An actor of this daemon that held `global_name` exited (see
  // ActorSystem's contract for when this is called).
  virtual void NameReleased(std::string_view global_name, std::string_view address) = 0;
  // This daemon's capabilities changed to `capabilities_json`; called in the
  // order of the changes while further changes wait.
  virtual void CapabilitiesChanged(const std::string& capabilities_json) = 0;
};

}  // namespace troupe::runtime
