// supervision.cc - HostCore: the supervisors of managed actors (restarts,
// crash-loop hold), starting managed actors and their actions, names,
// activation (host_core.h).
#include "daemon/hosting/host_core.h"

namespace troupe::hosting {

// ---------------------------------------------------------------------------
// Supervision

void HostCore::OnSupervisorMessage(uint64_t version_id, Message& message) {
  troupe::MutexLock lock(&mu_);
  Version* v = FindVersion(version_id);
  if (v == nullptr) return;  // unloaded meanwhile
  Cell* from = message.sender();
  Slot* slot = nullptr;
  for (Slot& s : v->slots) {
    if (from != nullptr && s.actor.get() == from) slot = &s;
  }
  const std::string_view type = message.type();
  if (type == runtime::kSyncReplyType) {
    if (slot != nullptr) slot->settled = true;
    cv_.SignalAll();
    return;
  }
  if (type == TROUPE_MSG_POISON) {
    std::string_view payload = message.payload();
    std::string_view original_type, original_payload, error;
    if (!wire::ReadField(&payload, &original_type) ||
        !wire::ReadField(&payload, &original_payload) || !wire::ReadField(&payload, &error)) {
      return;
    }
    if (slot == nullptr) return;
    if (original_type == runtime::kSyncType) {
      // The barrier came back unhandled: the actor never started.
      slot->settled = true;
      if (slot->failure.empty()) slot->failure = troupe::StrCat("could not be created: ", error);
      cv_.SignalAll();
    } else if (v->state == VersionState::kLoading) {
      if (slot->failed_action.empty()) {
        slot->failed_action = std::string(original_type);
        slot->action_error = std::string(error);
      }
    } else {
      LogWarning("hosting: ", v->Name(), ": actor '", slot->spec.class_name(),
                 "' failed its action '", original_type, "': ", error);
    }
    return;
  }
  if (type == TROUPE_MSG_CHILD_EXITED) {
    std::string_view payload = message.payload();
    std::string_view address, reason;
    if (wire::ReadField(&payload, &address)) (void)wire::ReadField(&payload, &reason);
    if (slot != nullptr) OnManagedExit(v, slot, reason);
    cv_.SignalAll();
    return;
  }
  // Anything else (replies to actions, the supervisor's own exit request) is
  // of no interest.
}

void HostCore::OnManagedExit(Version* v, Slot* slot, std::string_view reason) {
  const std::string& class_name = slot->spec.class_name();
  if (slot->exit_requested) {
    slot->state = ManagedActorState::kExited;
    slot->last_exit = reason.empty() ? "asked to exit by the host" : std::string(reason);
    return;
  }
  slot->last_exit = reason.empty() ? "exited on its own" : std::string(reason);
  if (v->state == VersionState::kLoading) {
    slot->state = ManagedActorState::kExited;
    if (!slot->settled) {
      slot->settled = true;
      if (slot->failure.empty()) {
        slot->failure = troupe::StrCat("exited during its on_load actions (", slot->last_exit, ")");
      }
    }
    return;
  }
  if (v->state != VersionState::kActive || shut_down_) {
    slot->state = ManagedActorState::kDown;
    LogWarning("hosting: ", v->Name(), ": actor '", class_name, "' exited unexpectedly (",
               slot->last_exit, "); not restarted: the version is not active");
    return;
  }
  const absl::Time now = clock_->Now();
  while (!slot->recent_restarts.empty() &&
         slot->recent_restarts.front() <= now - options_.restart_window) {
    slot->recent_restarts.pop_front();
  }
  if (slot->recent_restarts.size() >= options_.restart_limit) {
    slot->state = ManagedActorState::kDown;
    troupe::StrAppend(&slot->last_exit, "; not restarted: it was restarted ",
                      options_.restart_limit, " times within ",
                      absl::FormatDuration(options_.restart_window));
    LogWarning("hosting: ", v->Name(), ": actor '", class_name, "' is down: ", slot->last_exit);
    return;
  }
  slot->recent_restarts.push_back(now);
  const std::string why = slot->last_exit;
  if (absl::Status started = StartSlot(v, slot, /*bind_name=*/true); !started.ok()) {
    slot->state = ManagedActorState::kDown;
    slot->last_exit = troupe::StrCat(why, "; restart failed: ", StatusText(started));
    LogWarning("hosting: ", v->Name(), ": actor '", class_name, "' is down: ", slot->last_exit);
    return;
  }
  ++slot->restarts;
  slot->last_exit = why;
  LogInfo("hosting: ", v->Name(), ": actor '", class_name, "' exited unexpectedly (", why,
          "); restarted as ", slot->address, " (", slot->recent_restarts.size(), " of ",
          options_.restart_limit, " restarts within ",
          absl::FormatDuration(options_.restart_window), ")");
}

// ---------------------------------------------------------------------------
// Starting actors

absl::Status HostCore::SendAction(Version* v, Slot* slot, const troupe::v1::Action& action) {
  const std::string& payload = action.body_case() == troupe::v1::Action::kPayloadBase64
                                   ? action.payload_base64()
                                   : action.payload();
  return system_->Tell(slot->actor, Message::Make(action.type(), payload), v->supervisor);
}

void HostCore::SendActions(Version* v,
                           const google::protobuf::RepeatedPtrField<troupe::v1::Action>& (
                               troupe::v1::ActorSpec::*which)() const) {
  for (Slot& slot : v->slots) {
    if (!slot.actor || slot.state != ManagedActorState::kRunning) continue;
    for (const troupe::v1::Action& action : (slot.spec.*which)()) {
      if (absl::Status sent = SendAction(v, &slot, action); !sent.ok()) {
        LogWarning("hosting: ", v->Name(), ": actor '", slot.spec.class_name(),
                   "': cannot send action '", action.type(), "': ", StatusText(sent));
      }
    }
  }
}

absl::Status HostCore::StartSlot(Version* v, Slot* slot, bool bind_name) {
  if (absl::Status fits = CheckOnThisNode(slot->requirements, system_->CapabilitiesJson());
      !fits.ok()) {
    return absl::Status(fits.code(), troupe::StrCat("cannot run on this node: ", StatusText(fits)));
  }
  runtime::CreateOptions create;
  create.parent = v->supervisor;
  create.library = slot->library;
  create.requirements = slot->requirements;
  absl::StatusOr<ActorRef> created;
  if (v->isolated != nullptr) {
    // The host knows the name too: the actor's exit there releases it here.
    absl::StatusOr<isolation::IsolatedHost*> host = LiveHost(v);
    created = host.ok() ? (*host)->CreateNow(slot->spec.class_name(), create.parent,
                                             slot->spec.global_name())
                        : host.status();
  } else {
    created = system_->CreateActor(slot->spec.class_name(), create);
  }
  if (!created.ok()) {
    return absl::Status(created.status().code(),
                        troupe::StrCat("could not be created: ", StatusText(created.status())));
  }
  ActorRef actor = *std::move(created);
  slot->actor = actor;
  slot->address = system_->FormatAddress(actor.get());
  slot->started_at = clock_->Now();
  slot->state = ManagedActorState::kRunning;
  slot->exit_requested = false;
  if (bind_name && !slot->spec.global_name().empty()) {
    if (absl::Status bound = system_->BindGlobalName(slot->spec.global_name(), actor);
        !bound.ok()) {
      LogWarning("hosting: ", v->Name(), ": cannot name actor '", slot->spec.class_name(), "' '",
                 slot->spec.global_name(), "': ", StatusText(bound));
    }
  }
  for (const troupe::v1::Action& action : slot->spec.on_load()) {
    if (absl::Status sent = SendAction(v, slot, action); !sent.ok()) {
      return absl::Status(sent.code(), troupe::StrCat("cannot send its on_load action '",
                                                      action.type(), "': ", StatusText(sent)));
    }
  }
  return absl::OkStatus();
}

void HostCore::BindNames(Version* v) {
  for (Slot& slot : v->slots) {
    if (slot.spec.global_name().empty() || !slot.actor ||
        slot.state != ManagedActorState::kRunning) {
      continue;
    }
    if (absl::Status bound = system_->BindGlobalName(slot.spec.global_name(), slot.actor);
        !bound.ok()) {
      LogWarning("hosting: ", v->Name(), ": cannot name actor '", slot.spec.class_name(), "' '",
                 slot.spec.global_name(), "': ", StatusText(bound));
    }
  }
}

void HostCore::Reactivate(Version* v, std::vector<std::string>* changes) {
  v->state = VersionState::kActive;
  std::vector<Slot*> running;
  for (Slot& slot : v->slots) {
    if (slot.actor && slot.state == ManagedActorState::kRunning) running.push_back(&slot);
  }
  BindNames(v);
  for (Slot* slot : running) {
    for (const troupe::v1::Action& action : slot->spec.on_reactivate()) {
      if (absl::Status sent = SendAction(v, slot, action); !sent.ok()) {
        LogWarning("hosting: ", v->Name(), ": actor '", slot->spec.class_name(),
                   "': cannot send action '", action.type(), "': ", StatusText(sent));
      }
    }
  }
  // Actors that went down while the version was inactive start afresh.
  for (Slot& slot : v->slots) {
    if (slot.actor && slot.state == ManagedActorState::kRunning) continue;
    slot.recent_restarts.clear();
    if (absl::Status started = StartSlot(v, &slot, /*bind_name=*/true); !started.ok()) {
      slot.state = ManagedActorState::kDown;
      slot.last_exit = troupe::StrCat("could not be started again: ", StatusText(started));
      LogWarning("hosting: ", v->Name(), ": actor '", slot.spec.class_name(),
                 "' is down: ", slot.last_exit);
    } else {
      ++slot.restarts;
    }
  }
  Note(changes, troupe::StrCat("reactivated ", v->Name()));
}

void HostCore::EnsureActive(const std::string& group, std::vector<std::string>* changes) {
  if (ActiveOf(group) != nullptr) return;
  Version* best = nullptr;
  for (const auto& v : versions_) {
    if (v->group != group || v->state != VersionState::kInactive) continue;
    if (best == nullptr || bundle::CompareVersions(v->version, best->version) > 0 ||
        (bundle::CompareVersions(v->version, best->version) == 0 && v->id > best->id)) {
      best = v.get();
    }
  }
  if (best != nullptr) Reactivate(best, changes);
}

}  // namespace troupe::hosting
