// remote_transport.h - the interface through which the runtime hands messages
// for actors of other daemons to the convention's peer links. The runtime
// side (remote cells, DeliverFromRemote, Undeliverable, NodeLost) is in
// remote.cc; docs/runtime.md "Remote addresses" describes the behaviour.
#pragma once

#include <cstdint>
#include <string_view>

#include "daemon/runtime/envelope.h"

namespace troupe::runtime {

// Carries messages to actors of other daemons. Implemented by the
// convention's peer links; set with ActorSystem::SetRemoteTransport, which
// does not take ownership. Implementations must be thread-safe.
class RemoteTransport {
 public:
  virtual ~RemoteTransport() = default;
  // Sends `message` (its sender may be a local or a remote cell; format it
  // with system->FormatAddress) to actor `remote_id` of daemon `node`. Called
  // from any thread, also inside actor turns; may block briefly for flow
  // control. When the node cannot be reached the transport calls
  // ActorSystem::Undeliverable itself. Must not call SetRemoteTransport.
  virtual void Forward(std::string_view node, uint64_t remote_id, Message message) = 0;
};

}  // namespace troupe::runtime
