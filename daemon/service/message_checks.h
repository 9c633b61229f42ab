// message_checks.h - what the services check before a client's message enters
// the actor system: a resolvable target and a well-formed, small enough message.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/runtime/actor_system.h"

namespace troupe::service {

// `to` is a printed address (troupe://...) or a global name. InvalidArgument
// for an empty or malformed address, NotFound for an unknown global name. An
// address of an actor that has exited resolves (its messages become dead
// letters, as inside the daemon).
absl::StatusOr<runtime::ActorRef> ResolveTarget(runtime::ActorSystem& system, std::string_view to);

// Sends `message` to `to`, an address or a global name. By name, the lookup
// and the delivery are one step (ActorSystem::TellByName), so a version
// switch cannot slip between them. Errors as ResolveTarget and Tell.
absl::Status SendTo(runtime::ActorSystem& system, std::string_view to, runtime::Message message,
                    const runtime::ActorRef& sender = {});

// InvalidArgument for an empty or reserved type, ResourceExhausted for a
// payload over `max_payload_bytes`.
absl::Status CheckMessage(std::string_view type, uint64_t payload_size, uint64_t max_payload_bytes);

}  // namespace troupe::service
