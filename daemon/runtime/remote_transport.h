// remote_transport.h - the interface through which the runtime hands messages
// for actors of other daemons to the convention's peer links. The runtime
// side (remote cells, DeliverFromRemote, Undeliverable, NodeLost, parking a
// sender) is in remote.cc; docs/runtime.md "Remote addresses" describes the
// behaviour.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "daemon/runtime/envelope.h"

namespace troupe::runtime {

// Carries messages to actors of other daemons. Implemented by the
// convention's peer links; set with ActorSystem::SetRemoteTransport, which
// does not take ownership. Implementations must be thread-safe, and no
// method may wait on the network or on another daemon: they run on actor
// workers and gRPC reactions.
class RemoteTransport {
 public:
  virtual ~RemoteTransport() = default;
  // Sends `message` (its sender may be a local or a remote cell; format it
  // with system->FormatAddress) to actor `remote_id` of daemon `node`. Called
  // from any thread, also inside actor turns; never waits. When the node
  // cannot be reached the transport calls ActorSystem::Undeliverable itself.
  // Returns false when the message was taken but the node's outbox is at or
  // over its bound: the sender should wait (ResumeWhenRoom) before sending
  // more. Must not call SetRemoteTransport.
  virtual bool Forward(std::string_view node, uint64_t remote_id, Message message) = 0;
  // After Forward returned false: keeps `resume` and runs it once (from any
  // thread, without the transport's locks) when `node`'s outbox has drained
  // below its low-water mark or its link closed. False when there is room
  // already (or no link): then `resume` is dropped without being run.
  virtual bool ResumeWhenRoom(std::string_view node, std::function<void()> resume) = 0;
};

}  // namespace troupe::runtime
