// hosting_protos.cc - see hosting_protos.h.
#include "daemon/service/hosting_protos.h"

namespace troupe::service {

v1::BundleState ToProto(hosting::BundleState state) {
  switch (state) {
    case hosting::BundleState::kActive:
      return v1::BUNDLE_STATE_ACTIVE;
    case hosting::BundleState::kInactive:
      return v1::BUNDLE_STATE_INACTIVE;
    case hosting::BundleState::kDraining:
      return v1::BUNDLE_STATE_DRAINING;
    case hosting::BundleState::kNone:
      break;
  }
  return v1::BUNDLE_STATE_UNSPECIFIED;
}

v1::ManagedActorState ToProto(hosting::ManagedActorState state) {
  switch (state) {
    case hosting::ManagedActorState::kRunning:
      return v1::MANAGED_ACTOR_STATE_RUNNING;
    case hosting::ManagedActorState::kExited:
      return v1::MANAGED_ACTOR_STATE_EXITED;
    case hosting::ManagedActorState::kDown:
      return v1::MANAGED_ACTOR_STATE_DOWN;
  }
  return v1::MANAGED_ACTOR_STATE_UNSPECIFIED;
}

v1::ManagedActor ToProto(const hosting::ManagedActor& actor) {
  v1::ManagedActor out;
  out.set_class_name(actor.class_name);
  out.set_address(actor.address);
  out.set_role(actor.role);
  out.set_global_name(actor.global_name);
  if (actor.started_at.has_value()) {
    out.set_started_at_unix_ms(absl::ToUnixMillis(*actor.started_at));
  }
  out.set_restarts(actor.restarts);
  out.set_state(ToProto(actor.state));
  out.set_last_exit(actor.last_exit);
  return out;
}

v1::BundleInfo ToProto(const hosting::BundleInfo& bundle) {
  v1::BundleInfo out;
  out.set_hash(bundle.hash);
  out.set_group(bundle.group);
  out.set_version(bundle.version);
  out.set_state(ToProto(bundle.state));
  if (bundle.loaded_at.has_value()) {
    out.set_loaded_at_unix_ms(absl::ToUnixMillis(*bundle.loaded_at));
  }
  out.set_signing_key(bundle.signing_key);
  if (bundle.isolation.has_value()) {
    const std::string_view isolation = troupe::bundle::IsolationName(*bundle.isolation);
    out.set_isolation(std::string(isolation));
    out.set_isolation_reason(bundle.isolation_reason);
  }
  if (bundle.host.has_value()) {
    v1::IsolatedHostInfo* host = out.mutable_host();
    host->set_pid(static_cast<uint32_t>(bundle.host->pid));
    host->set_resident_bytes(bundle.host->resident_bytes);
    host->set_restarts(bundle.host->restarts);
    host->set_last_end(bundle.host->last_end);
    for (const std::string& line : bundle.host->last_stderr) host->add_last_stderr(line);
  }
  for (const hosting::ManagedActor& actor : bundle.actors) *out.add_actors() = ToProto(actor);
  out.set_failure(bundle.failure);
  return out;
}

}  // namespace troupe::service
