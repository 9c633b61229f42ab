// admin_service.cc - the Admin handlers and the text forms of status.
#include "daemon/service/admin_service.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "daemon/common/strings.h"
#include "daemon/service/hosting_protos.h"
#include "daemon/service/message_checks.h"
#include "proto/grpc_status.h"

namespace troupe::service {
namespace {

std::string StateName(v1::BundleState state) {
  switch (state) {
    case v1::BUNDLE_STATE_ACTIVE:
      return "active";
    case v1::BUNDLE_STATE_INACTIVE:
      return "inactive";
    case v1::BUNDLE_STATE_DRAINING:
      return "draining";
    default:
      return "unknown";
  }
}

std::string Uptime(absl::Duration d) {
  int64_t s = absl::ToInt64Seconds(d);
  if (s < 120) return troupe::StrCat(s, "s");
  if (s < 7200) return troupe::StrCat(s / 60, "m");
  if (s < 172800) return troupe::StrCat(s / 3600, "h");
  return troupe::StrCat(s / 86400, "d");
}

// A syslog priority (daemon/common/logging.h) as a word.
std::string LogLevelName(int level) {
  if (level <= 3) return "error";
  if (level <= 4) return "warning";
  if (level <= 6) return "info";
  return "debug";
}

}  // namespace

AdminService::AdminService(runtime::ActorSystem* system, hosting::BundleHost* host,
                           const ClientAuth* auth, const DaemonFacts* facts,
                           BlockingCalls* blocking, std::function<void()> request_shutdown,
                           uint64_t max_upload_bytes)
    : system_(system),
      host_(host),
      auth_(auth),
      facts_(facts),
      blocking_(blocking),
      request_shutdown_(std::move(request_shutdown)),
      max_upload_bytes_(max_upload_bytes),
      watch_(blocking, [this] { return ConventionNow(); }) {}

grpc::Status AdminService::Load(grpc::ServerContext* context, const v1::LoadRequest* request,
                                v1::LoadResponse* response) {
  if (grpc::Status allowed = auth_->Check(*context); !allowed.ok()) return allowed;
  absl::StatusOr<hosting::LoadOutcome> outcome;
  switch (request->source_case()) {
    case v1::LoadRequest::kBundle:
      outcome = host_->LoadBytes(request->bundle());
      break;
    case v1::LoadRequest::kPath:
      if (request->path().empty() || request->path().front() != '/') {
        return ToGrpcStatus(absl::InvalidArgumentError(troupe::StrCat(
            "bundle path ", troupe::Quoted(request->path()),
            " must be absolute (the daemon does not share the caller's directory)")));
      }
      outcome = host_->LoadFile(request->path());
      if (!outcome.ok()) outcome = BoundInputInError(outcome.status(), request->path());
      break;
    default:
      return ToGrpcStatus(absl::InvalidArgumentError("load needs the bundle's bytes or a path"));
  }
  return Answer(std::move(outcome), response);
}

grpc::Status AdminService::LoadUpload(grpc::ServerContext* context,
                                      grpc::ServerReader<v1::LoadChunk>* reader,
                                      v1::LoadResponse* response) {
  if (grpc::Status allowed = auth_->Check(*context); !allowed.ok()) return allowed;
  std::string bytes;
  v1::LoadChunk chunk;
  while (reader->Read(&chunk)) {
    if (chunk.data().size() > max_upload_bytes_ - bytes.size()) {
      return ToGrpcStatus(absl::ResourceExhaustedError(troupe::StrCat(
          "the uploaded bundle is larger than the bundle file limit of ", max_upload_bytes_,
          " bytes")));
    }
    bytes += chunk.data();
  }
  if (context->IsCancelled()) return grpc::Status::CANCELLED;
  return Answer(host_->LoadBytes(std::move(bytes)), response);
}

grpc::Status AdminService::Answer(absl::StatusOr<hosting::LoadOutcome> outcome,
                                  v1::LoadResponse* response) {
  if (!outcome.ok()) return ToGrpcStatus(outcome.status());
  *response->mutable_bundle() = ToProto(outcome->bundle);
  response->set_already_loaded(outcome->already_loaded);
  for (std::string& change : outcome->changes) response->add_changes(std::move(change));
  return grpc::Status::OK;
}

grpc::Status AdminService::Unload(grpc::ServerContext* context, const v1::UnloadRequest* request,
                                  v1::UnloadResponse* response) {
  if (grpc::Status allowed = auth_->Check(*context); !allowed.ok()) return allowed;
  if (request->target().empty()) {
    return ToGrpcStatus(
        absl::InvalidArgumentError("unload needs a hash, a group or GROUP-VERSION"));
  }
  absl::StatusOr<hosting::UnloadOutcome> outcome = host_->Unload(request->target());
  if (!outcome.ok()) {
    return ToGrpcStatus(BoundInputInError(outcome.status(), request->target()));
  }
  for (const hosting::BundleInfo& info : outcome->unloaded) {
    *response->add_unloaded() = ToProto(info);
  }
  for (std::string& change : outcome->changes) response->add_changes(std::move(change));
  return grpc::Status::OK;
}

grpc::Status AdminService::List(grpc::ServerContext* context, const v1::ListRequest* request,
                                v1::ListResponse* response) {
  if (grpc::Status allowed = auth_->Check(*context); !allowed.ok()) return allowed;
  for (const hosting::BundleInfo& info : host_->List(request->group())) {
    *response->add_bundles() = ToProto(info);
  }
  // Recorded but not running (failed to restore, or held back after crash
  // loops): listed with the reason in `failure`.
  for (const hosting::BundleInfo& info : host_->NotRestored(request->group())) {
    *response->add_bundles() = ToProto(info);
  }
  return grpc::Status::OK;
}

v1::ActorInfo AdminService::DescribeActor(const runtime::ActorStatus& status) const {
  v1::ActorInfo info;
  info.set_address(status.address);
  info.set_class_name(status.class_name);
  info.set_parent(status.parent);
  info.set_global_name(status.global_name);
  info.set_state(status.state);
  info.set_mailbox_depth(status.mailbox_depth);
  info.set_received(status.received);
  info.set_sent(status.sent);
  info.set_failed(status.failed);
  info.set_pending_wakeups(status.pending_wakeups);
  for (const std::string& child : status.children) info.add_children(child);
  hosting::BundleHost::ActorOrigin origin = host_->OriginOf(status.address);
  info.set_bundle(origin.bundle);
  info.set_role(origin.role);
  info.set_restarts(origin.restarts);
  return info;
}

grpc::Status AdminService::Status(grpc::ServerContext* context, const v1::StatusRequest* request,
                                  v1::StatusResponse* response) {
  if (grpc::Status allowed = auth_->Check(*context); !allowed.ok()) return allowed;
  if (!request->actor().empty()) {
    absl::StatusOr<runtime::ActorRef> actor = ResolveTarget(*system_, request->actor());
    if (!actor.ok()) return ToGrpcStatus(actor.status());
    absl::StatusOr<runtime::ActorStatus> status = system_->GetActorStatus(*actor);
    if (!status.ok()) {
      return ToGrpcStatus(absl::NotFoundError(
          troupe::StrCat("no live actor at ", troupe::Quoted(request->actor()), ": ",
                         BoundInputInError(status.status(), request->actor()).message())));
    }
    v1::ActorInfo* info = response->add_actors();
    *info = DescribeActor(*status);
    response->set_text(FormatActorStatus(*info));
    return grpc::Status::OK;
  }
  runtime::SystemStatus system = system_->GetStatus();
  v1::SystemInfo* info = response->mutable_system();
  info->set_node(facts_->node);
  info->set_version(facts_->version);
  info->set_started_at_unix_ms(absl::ToUnixMillis(facts_->started_at));
  info->set_live_actors(system.live_actors);
  info->set_dead_letters(system.dead_letters);
  info->set_poison_messages(system.poison_messages);
  info->set_handler_failures(system.handler_failures);
  info->set_pending_wakeups(system.pending_wakeups);
  info->set_worker_threads(static_cast<uint32_t>(facts_->worker_threads));
  info->set_clients(facts_->open_streams ? facts_->open_streams() : 0);
  for (const std::string& listener : facts_->listeners) info->add_listeners(listener);
  if (facts_->http_listener) {
    const std::string http = facts_->http_listener();
    info->add_listeners(http.empty() ? "http: not serving (restarting)"
                                     : troupe::StrCat("http://", http, " (token)"));
  }
  for (const std::string& name : system.global_names) info->add_global_names(name);
  for (const hosting::BundleInfo& bundle : host_->List()) {
    *response->add_bundles() = ToProto(bundle);
  }
  for (const runtime::ActorStatus& actor : system_->ListActors()) {
    // The daemon's own plumbing (client streams) is not the user's business;
    // ask reply slots are not listed by the runtime at all.
    if (actor.class_name == "client" ||
        actor.class_name.rfind("troupe.", 0) == 0) {
      continue;
    }
    *response->add_actors() = DescribeActor(actor);
  }
  response->set_text(FormatSystemStatus(*response));
  return grpc::Status::OK;
}

grpc::Status AdminService::ActorLogs(grpc::ServerContext* context,
                                     const v1::ActorLogsRequest* request,
                                     v1::ActorLogsResponse* response) {
  if (grpc::Status allowed = auth_->Check(*context); !allowed.ok()) return allowed;
  // Local actors only (no convention lookup): a name resolves while its
  // actor lives; an exited actor's lines are found by its address.
  std::string address = request->actor();
  if (absl::StatusOr<runtime::ActorRef> actor = ResolveTarget(*system_, request->actor());
      actor.ok()) {
    address = system_->FormatAddress(actor->get());
  } else if (request->actor().rfind("troupe://", 0) != 0) {
    return ToGrpcStatus(actor.status());
  }
  runtime::ActorLogTail tail;
  if (!system_->actor_logs().Tail(address, request->max_lines(), &tail)) {
    return ToGrpcStatus(absl::NotFoundError(troupe::StrCat(
        "no log lines kept for ", troupe::Quoted(request->actor()),
        ": it never logged, it is not an actor of this daemon, or it exited long ago")));
  }
  response->set_address(address);
  response->set_dropped(tail.dropped);
  response->set_exited(tail.exited);
  for (const runtime::ActorLogLine& line : tail.lines) {
    v1::ActorLogLine* out = response->add_lines();
    out->set_unix_ms(absl::ToUnixMillis(line.time));
    out->set_level(LogLevelName(line.level));
    out->set_text(line.text);
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::Role(grpc::ServerContext* context, const v1::RoleRequest* request,
                                v1::RoleResponse* response) {
  if (grpc::Status allowed = auth_->Check(*context); !allowed.ok()) return allowed;
  if (request->role().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("role lookup needs a role name"));
  }
  absl::StatusOr<std::vector<hosting::ManagedActor>> actors =
      host_->Role(request->role(), request->group());
  if (!actors.ok()) return ToGrpcStatus(actors.status());
  for (const hosting::ManagedActor& actor : *actors) *response->add_actors() = ToProto(actor);
  return grpc::Status::OK;
}

grpc::Status AdminService::GetCapabilities(grpc::ServerContext* context,
                                           const v1::GetCapabilitiesRequest*,
                                           v1::GetCapabilitiesResponse* response) {
  if (grpc::Status allowed = auth_->Check(*context); !allowed.ok()) return allowed;
  response->set_json(system_->CapabilitiesJson());
  for (const std::string& name : system_->ReadOnlyCapabilities()) response->add_read_only(name);
  return grpc::Status::OK;
}

grpc::Status AdminService::SetCapability(grpc::ServerContext* context,
                                         const v1::SetCapabilityRequest* request,
                                         v1::SetCapabilityResponse* response) {
  if (grpc::Status allowed = auth_->Check(*context); !allowed.ok()) return allowed;
  if (request->name().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("a capability needs a name"));
  }
  // A read-only name is FAILED_PRECONDITION "capability 'troupe.cores' is read-only".
  absl::StatusOr<bool> updated = system_->UpdateCapability(request->name(), request->value_json());
  if (!updated.ok()) return ToGrpcStatus(updated.status());
  response->set_json(system_->CapabilitiesJson());
  return grpc::Status::OK;
}

grpc::Status AdminService::Shutdown(grpc::ServerContext* context, const v1::ShutdownRequest*,
                                    v1::ShutdownResponse*) {
  if (grpc::Status allowed = auth_->Check(*context); !allowed.ok()) return allowed;
  if (request_shutdown_) request_shutdown_();
  return grpc::Status::OK;
}

grpc::Status AdminService::ConventionStatus(grpc::ServerContext* context,
                                            const v1::ConventionStatusRequest*,
                                            v1::ConventionStatusResponse* response) {
  if (grpc::Status allowed = auth_->Check(*context); !allowed.ok()) return allowed;
  *response = ConventionNow();
  return grpc::Status::OK;
}

v1::ConventionStatusResponse AdminService::ConventionNow() const {
  if (facts_->convention_status) return facts_->convention_status();
  v1::ConventionStatusResponse alone;
  alone.set_role("alone");
  alone.set_self(facts_->node);
  return alone;
}

namespace {

// A WatchConvention call refused before it started (no client token).
class RefusedWatch final : public grpc::ServerWriteReactor<v1::ConventionStatusResponse> {
 public:
  explicit RefusedWatch(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerWriteReactor<v1::ConventionStatusResponse>* AdminService::WatchConvention(
    grpc::CallbackServerContext* context, const v1::WatchConventionRequest*) {
  if (grpc::Status allowed = auth_->Check(*context); !allowed.ok()) {
    return new RefusedWatch(allowed);
  }
  return watch_.Watch(context);
}

grpc::ServerUnaryReactor* AdminService::InviteMember(grpc::CallbackServerContext* context,
                                                     const v1::InviteMemberRequest* request,
                                                     v1::InviteMemberResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status allowed = auth_->Check(*context); !allowed.ok()) {
    reactor->Finish(allowed);
    return reactor;
  }
  if (!facts_->invite_member) {
    reactor->Finish(ToGrpcStatus(absl::FailedPreconditionError(
        "this daemon takes part in no convention (it needs listen_tcp with a fixed port and "
        "keys/convention.key)")));
    return reactor;
  }
  if (request->address().empty()) {
    reactor->Finish(
        ToGrpcStatus(absl::InvalidArgumentError("an invitation needs the member's host:port")));
    return reactor;
  }
  // The invitation is sent to the member and waits for its answer: on a
  // BlockingCalls thread. The request and response live until Finish.
  absl::Status queued =
      blocking_->Run([this, context, reactor, request, response](const absl::Status& admitted) {
        if (!admitted.ok()) return reactor->Finish(ToGrpcStatus(admitted));
        if (context->IsCancelled()) return reactor->Finish(grpc::Status::CANCELLED);
        absl::StatusOr<std::string> result = facts_->invite_member(request->address());
        if (!result.ok()) return reactor->Finish(ToGrpcStatus(result.status()));
        response->set_result(*std::move(result));
        reactor->Finish(grpc::Status::OK);
      });
  if (!queued.ok()) reactor->Finish(ToGrpcStatus(queued));
  return reactor;
}

std::string FormatSystemStatus(const v1::StatusResponse& status) {
  const v1::SystemInfo& s = status.system();
  std::string out =
      absl::StrFormat("troupd %s on %s, up %s\n", s.version(), s.node(),
                      Uptime(absl::Now() - absl::FromUnixMillis(s.started_at_unix_ms())));
  for (const std::string& listener : s.listeners()) out += "  listening on " + listener + "\n";
  out += absl::StrFormat(
      "  %d worker threads, %d clients connected\n"
      "  %d actors, %d dead letters, %d poison messages, %d handler failures, %d wakeups "
      "pending\n",
      s.worker_threads(), s.clients(), s.live_actors(), s.dead_letters(), s.poison_messages(),
      s.handler_failures(), s.pending_wakeups());
  out += status.bundles().empty() ? "bundles: none loaded\n" : "bundles:\n";
  for (const v1::BundleInfo& b : status.bundles()) {
    out += absl::StrFormat("  %-20s %-12s %-8s %s  %d actors", b.group(), b.version(),
                           StateName(b.state()), b.hash().substr(0, 16), b.actors_size());
    if (!b.isolation().empty()) {
      out += absl::StrFormat("  %s (%s)", b.isolation(), b.isolation_reason());
    }
    out += "\n";
    for (const v1::ManagedActor& a : b.actors()) {
      std::string state = a.state() == v1::MANAGED_ACTOR_STATE_DOWN ? "DOWN (" + a.last_exit() + ")"
                          : a.state() == v1::MANAGED_ACTOR_STATE_EXITED ? "exited"
                                                                        : "running";
      out += absl::StrFormat("    %-28s %-24s role=%s name=%s restarts=%d %s\n", a.address(),
                             a.class_name(), a.role().empty() ? "-" : a.role(),
                             a.global_name().empty() ? "-" : a.global_name(), a.restarts(), state);
    }
  }
  if (!status.actors().empty()) {
    out += absl::StrFormat("actors:\n  %-28s %-24s %-10s %8s %10s %8s\n", "ADDRESS", "CLASS",
                           "STATE", "MAILBOX", "RECEIVED", "FAILED");
    for (const v1::ActorInfo& a : status.actors()) {
      out += absl::StrFormat("  %-28s %-24s %-10s %8d %10d %8d\n", a.address(), a.class_name(),
                             a.state(), a.mailbox_depth(), a.received(), a.failed());
    }
  }
  return out;
}

std::string FormatActorStatus(const v1::ActorInfo& a) {
  std::string out = absl::StrFormat("%s\n  class     %s\n  state     %s\n", a.address(),
                                    a.class_name(), a.state());
  if (!a.bundle().empty()) out += absl::StrFormat("  bundle    %s\n", a.bundle());
  if (!a.role().empty()) out += absl::StrFormat("  role      %s\n", a.role());
  if (!a.global_name().empty()) out += absl::StrFormat("  name      %s\n", a.global_name());
  if (!a.parent().empty()) out += absl::StrFormat("  parent    %s\n", a.parent());
  out += absl::StrFormat(
      "  mailbox   %d\n  received  %d\n  sent      %d\n  failed    %d\n  restarts  %d\n"
      "  wakeups   %d pending\n",
      a.mailbox_depth(), a.received(), a.sent(), a.failed(), a.restarts(), a.pending_wakeups());
  for (const std::string& child : a.children()) out += "  child     " + child + "\n";
  return out;
}

}  // namespace troupe::service
