#include "daemon/service/message_checks.h"

#include "daemon/common/strings.h"
#include "daemon/runtime/envelope.h"

namespace troupe::service {

absl::StatusOr<runtime::ActorRef> ResolveTarget(runtime::ActorSystem& system, std::string_view to,
                                                const ConventionNames* names) {
  if (to.empty()) {
    return absl::InvalidArgumentError("no target: give an address (troupe://...) or a global name");
  }
  if (to.substr(0, 9) == "troupe://") return system.ParseExternalAddress(to);
  absl::StatusOr<runtime::ActorRef> found = system.Lookup(to);
  if (found.ok()) return found;
  if (names != nullptr && names->find) {
    absl::StatusOr<std::string> holder = names->find(std::string(to));
    if (holder.ok()) return system.ParseExternalAddress(*holder);
    if (holder.status().code() != absl::StatusCode::kNotFound) return holder.status();
  }
  return absl::NotFoundError(
      troupe::StrCat("no actor is named '", to, "'; `director status` lists the global names"));
}

bool IsConventionName(runtime::ActorSystem& system, std::string_view to,
                      const ConventionNames* names) {
  return names != nullptr && names->find && !to.empty() && to.substr(0, 9) != "troupe://" &&
         !system.Lookup(to).ok();
}

absl::Status SendTo(runtime::ActorSystem& system, std::string_view to, runtime::Message message,
                    const runtime::ActorRef& sender, const ConventionNames* names) {
  if (to.empty() || to.substr(0, 9) == "troupe://" || IsConventionName(system, to, names)) {
    absl::StatusOr<runtime::ActorRef> target = ResolveTarget(system, to, names);
    if (!target.ok()) return target.status();
    return system.Tell(*target, std::move(message), sender);
  }
  absl::Status sent = system.TellByName(to, std::move(message), sender);
  if (sent.code() == absl::StatusCode::kNotFound) {
    return absl::NotFoundError(
        troupe::StrCat("no actor is named '", to, "'; `director status` lists the global names"));
  }
  return sent;
}

absl::Status CheckMessage(std::string_view type, uint64_t payload_size,
                          uint64_t max_payload_bytes) {
  if (type.empty()) return absl::InvalidArgumentError("a message needs a type name");
  if (type.size() > 1024) {
    return absl::InvalidArgumentError(
        troupe::StrCat("message type name is ", type.size(), " bytes; at most 1024 are allowed"));
  }
  if (runtime::IsReservedType(type)) {
    return absl::InvalidArgumentError(
        troupe::StrCat("message type '", type, "' is reserved for the runtime and cannot be sent"));
  }
  if (payload_size > max_payload_bytes) {
    return absl::ResourceExhaustedError(
        troupe::StrCat("message payload is ", payload_size, " bytes; the daemon takes at most ",
                       max_payload_bytes, " (setting max_message_bytes)"));
  }
  return absl::OkStatus();
}

}  // namespace troupe::service
