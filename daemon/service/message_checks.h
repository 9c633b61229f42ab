// message_checks.h - what the services check before a client's message enters
// the actor system: a resolvable target and a well-formed, small enough message.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/runtime/actor_system.h"

namespace troupe::service {

// The convention's global names, as the services use them: set by the daemon
// when it takes part in a convention (docs/convention.md "Global names");
// empty functions otherwise. Both may block for a call to the leader, so the
// services call them (and pass them to ResolveTarget, SendTo and
// AskRouter::Ask) on BlockingCalls threads only; IsConventionName tells,
// without waiting, when a target needs them.
struct ConventionNames {
  // The address of the actor holding `name` convention-wide; NotFound when
  // none does, Unavailable when the leader cannot be asked.
  std::function<absl::StatusOr<std::string>(const std::string& name)> find;
  // Creates the actor `create` makes (it returns the address), named `name`
  // convention-wide, unless the name is taken: then the holder's address.
  std::function<absl::StatusOr<std::string>(
      const std::string& name, const std::function<absl::StatusOr<std::string>()>& create)>
      create;
};

// `to` is a printed address (troupe://...) or a global name. A name no actor
// of this daemon has is looked up in the convention when `names` can (a
// remote actor's handle). InvalidArgument for an empty or malformed address,
// NotFound for an unknown global name, Unavailable when the convention's
// leader cannot be asked. An address of an actor that has exited resolves
// (its messages become dead letters, as inside the daemon). Errors quote `to`
// through troupe::Quoted.
absl::StatusOr<runtime::ActorRef> ResolveTarget(runtime::ActorSystem& system, std::string_view to,
                                                const ConventionNames* names = nullptr);

// Sends `message` to `to`, an address or a global name. By the name of an
// actor of this daemon, the lookup and the delivery are one step
// (ActorSystem::TellByName), so a version switch cannot slip between them;
// another name is resolved in the convention first (ResolveTarget). Errors
// as ResolveTarget and Tell.
absl::Status SendTo(runtime::ActorSystem& system, std::string_view to, runtime::Message message,
                    const runtime::ActorRef& sender = {}, const ConventionNames* names = nullptr);

// True when `to` names an actor by a global name that no actor of this
// daemon has and `names` can look up in the convention.
bool IsConventionName(runtime::ActorSystem& system, std::string_view to,
                      const ConventionNames* names);

// `status` with the client's `input` cut short (troupe::Quoted) wherever its
// message repeats it, for errors of code that echoes what it was given (the
// runtime's address parsing, the bundle host): whole echoes of `input` and
// long quoted text are cut, and a message still over 1 KiB is cut at its
// end. Unchanged when OK or when `input` is short (troupe::Quoted keeps it).
absl::Status BoundInputInError(absl::Status status, std::string_view input);

// InvalidArgument for an empty or reserved type, ResourceExhausted for a
// payload over `max_payload_bytes`.
absl::Status CheckMessage(std::string_view type, uint64_t payload_size, uint64_t max_payload_bytes);

}  // namespace troupe::service
