#include "daemon/service/message_checks.h"

#include "daemon/common/strings.h"
#include "daemon/runtime/envelope.h"

namespace troupe::service {

namespace {

absl::Status NoActorNamed(std::string_view to) {
  return absl::NotFoundError(troupe::StrCat("no actor is named ", troupe::Quoted(to),
                                            "; `director status` lists the global names"));
}

absl::StatusOr<runtime::ActorRef> Resolve(runtime::ActorSystem& system, std::string_view to,
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
  return NoActorNamed(to);
}

}  // namespace

absl::StatusOr<runtime::ActorRef> ResolveTarget(runtime::ActorSystem& system, std::string_view to,
                                                const ConventionNames* names) {
  absl::StatusOr<runtime::ActorRef> target = Resolve(system, to, names);
  if (!target.ok()) return BoundInputInError(target.status(), to);
  return target;
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
    return BoundInputInError(system.Tell(*target, std::move(message), sender), to);
  }
  absl::Status sent = system.TellByName(to, std::move(message), sender);
  if (sent.code() == absl::StatusCode::kNotFound) return NoActorNamed(to);
  return BoundInputInError(std::move(sent), to);
}

absl::Status BoundInputInError(absl::Status status, std::string_view input) {
  const std::string quoted = troupe::Quoted(input);
  if (status.ok() || quoted.size() >= input.size() + 2) return status;
  const std::string_view message(status.message().data(), status.message().size());
  // Every echo of the whole input; the echo's own quotes, if any, are
  // replaced by Quoted's.
  std::string echoes_cut;
  size_t from = 0;
  for (size_t at = message.find(input); at != std::string_view::npos;
       at = message.find(input, from)) {
    const bool in_quotes = at > from && message[at - 1] == '\'' &&
                           at + input.size() < message.size() &&
                           message[at + input.size()] == '\'';
    troupe::StrAppend(&echoes_cut, message.substr(from, at - from - (in_quotes ? 1 : 0)),
                      quoted);
    from = at + input.size() + (in_quotes ? 1 : 0);
  }
  troupe::StrAppend(&echoes_cut, message.substr(from));
  // Then parts of it the message quotes ('NODE' of an address): any quoted
  // text longer than a cut one.
  constexpr size_t kLongest = 128 + 3;  // Quoted's cut and "..."
  std::string bounded;
  from = 0;
  for (size_t open = echoes_cut.find('\''); open != std::string::npos;
       open = echoes_cut.find('\'', from)) {
    const size_t close = echoes_cut.find('\'', open + 1);
    if (close == std::string::npos) break;
    const std::string_view text = std::string_view(echoes_cut).substr(open + 1, close - open - 1);
    if (text.size() > kLongest) {
      troupe::StrAppend(&bounded, echoes_cut.substr(from, open - from), troupe::Quoted(text));
    } else {
      troupe::StrAppend(&bounded, echoes_cut.substr(from, close + 1 - from));
    }
    from = close + 1;
  }
  troupe::StrAppend(&bounded, std::string_view(echoes_cut).substr(from));
  // And in the end, whatever echoes it some other way.
  constexpr size_t kMaxErrorBytes = 1024;
  if (bounded.size() > kMaxErrorBytes) {
    const size_t size = bounded.size();
    size_t cut = kMaxErrorBytes - 64;
    while (cut > 0 && (static_cast<unsigned char>(bounded[cut]) & 0xC0) == 0x80) --cut;
    bounded.resize(cut);
    troupe::StrAppend(&bounded, "... (", size, " bytes)");
  }
  if (bounded == message) return status;
  absl::Status result(status.code(), troupe::ToAbsl(bounded));
  status.ForEachPayload([&result](absl::string_view type_url, const absl::Cord& payload) {
    result.SetPayload(type_url, payload);
  });
  return result;
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
        troupe::StrCat("message type ", troupe::Quoted(type),
                       " is reserved for the runtime and cannot be sent"));
  }
  if (payload_size > max_payload_bytes) {
    return absl::ResourceExhaustedError(
        troupe::StrCat("message payload is ", payload_size, " bytes; the daemon takes at most ",
                       max_payload_bytes, " (setting max_message_bytes)"));
  }
  return absl::OkStatus();
}

}  // namespace troupe::service
