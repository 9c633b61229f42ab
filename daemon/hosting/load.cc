// load.cc - HostCore: loading a verified bundle (the order of its steps, undo
// on failure) and what it drains (host_core.h).
#include "daemon/hosting/host_core.h"

namespace troupe::hosting {

// ---------------------------------------------------------------------------
// Loading

absl::Status HostCore::StartVersion(Version* v) {
  const absl::Time deadline = absl::Now() + options_.load_timeout;
  troupe::MutexLock lock(&mu_);
  size_t started = 0;
  absl::Status failure;
  for (Slot& slot : v->slots) {
    if (absl::Status s = StartSlot(v, &slot, /*bind_name=*/false); !s.ok()) {
      failure = absl::Status(s.code(), troupe::StrCat(v->Name(), ": actor '",
                                                      slot.spec.class_name(), "' ", StatusText(s)));
      break;
    }
    ++started;
    // Answered once the actor has handled everything before it.
    system_->Deliver(slot.actor.get(), Message::Make(runtime::kSyncType, "", v->supervisor.get()));
  }
  auto all_settled = [&]() {
    for (size_t i = 0; i < started; ++i) {
      if (!v->slots[i].settled) return false;
    }
    return true;
  };
  while (!all_settled()) {
    if (!WaitForProgress(deadline)) break;
  }
  if (!failure.ok()) return failure;
  for (Slot& slot : v->slots) {
    std::string prefix = troupe::StrCat(v->Name(), ": actor '", slot.spec.class_name(), "' ");
    if (!slot.failure.empty()) {
      return absl::FailedPreconditionError(troupe::StrCat(prefix, slot.failure));
    }
    if (!slot.failed_action.empty()) {
      return absl::FailedPreconditionError(troupe::StrCat(
          prefix, "failed its on_load action '", slot.failed_action, "': ", slot.action_error));
    }
    if (!slot.settled) {
      return absl::DeadlineExceededError(
          troupe::StrCat(prefix, "did not finish its on_load actions within ",
                         absl::FormatDuration(options_.load_timeout)));
    }
  }
  return absl::OkStatus();
}

absl::Status HostCore::OpenInline(const bundle::VerifiedBundle& verified, Version* v) {
  const fs::path code_dir = fs::path(library_root_) / verified.source_hash;
  if (absl::Status step = Step("extract code", code_dir.string(), "cannot write"); !step.ok()) {
    return step;
  }
  std::error_code ec;  // filesystem calls here report errors, never throw
  if (fs::exists(code_dir, ec)) {
    // Left by a crash (nothing of this hash is loaded now): unless its code
    // is still mapped, it can go.
    for (fs::recursive_directory_iterator it(code_dir, ec), end; !ec && it != end;
         it.increment(ec)) {
      std::error_code file_ec;
      if (it->is_regular_file(file_ec) && loader::IsResident(it->path().string())) {
        return absl::FailedPreconditionError(troupe::StrCat(
            v->Name(), ": code of an earlier load of ", verified.source_hash,
            " is still mapped in this process; restart the daemon to load it again"));
      }
    }
    fs::remove_all(code_dir, ec);
  }
  absl::StatusOr<std::unique_ptr<loader::LoadedBundle>> code;
  {
    // Opening runs the libraries' initializers and entry points: their code.
    runtime::BundleCodeScope running_code(verified.source_hash.c_str());
    code = loader::LoadedBundle::Load(verified, library_root_);
  }
  if (!code.ok()) return code.status();
  v->code = *std::move(code);
  for (const auto& library : v->code->libraries()) {
    if (absl::Status s = system_->RegisterLibrary(&library->plugin(), v->hash); !s.ok()) {
      return absl::Status(s.code(), troupe::StrCat(v->Name(), ": ", StatusText(s)));
    }
    v->registered.push_back(&library->plugin());
  }
  return absl::OkStatus();
}

absl::StatusOr<LoadOutcome> HostCore::Load(absl::StatusOr<bundle::VerifiedBundle> verified) {
  troupe::MutexLock op(&op_mu_);
  if (!verified.ok()) return verified.status();
  return LoadVerified(*std::move(verified), Activation::kNew, /*store_copy=*/true);
}

absl::StatusOr<LoadOutcome> HostCore::LoadVerified(bundle::VerifiedBundle verified,
                                                   Activation activation, bool store_copy) {
  {
    troupe::MutexLock lock(&mu_);
    if (shut_down_) return absl::FailedPreconditionError("the bundle host has shut down");
  }
  if (crashed_)
    return absl::FailedPreconditionError("the bundle host stopped at a simulated crash");
  FinishDrains({}, absl::Now());  // finish what drained meanwhile
  const std::string name =
      troupe::StrCat(verified.manifest.group(), " ", verified.manifest.version());
  {
    troupe::MutexLock lock(&mu_);
    if (Version* existing = FindHash(verified.source_hash); existing != nullptr) {
      if (existing->state == VersionState::kDraining) {
        return absl::FailedPreconditionError(troupe::StrCat(
            name, " (", verified.source_hash,
            ") is still draining from an earlier unload; load it again once it is gone"));
      }
      LoadOutcome outcome;
      outcome.bundle = Info(*existing);
      outcome.already_loaded = true;
      return outcome;
    }
  }
  // Where it runs: the signer's trust entry, then the manifest, then the
  // daemon's default.
  bundle::IsolationDecision isolation =
      bundle::EffectiveIsolation(verified.manifest.isolation(), verified.key_id,
                                 verified.signer_isolated, options_.isolation_default);
  const bool isolated = isolation.isolation == bundle::Isolation::kProcess;
  if (isolated) TROUPE_RETURN_IF_ERROR(CheckCanIsolate(verified, isolation));

  // Store a copy for Restore, then open the code. A failure removes it again,
  // unless it is the copy of a bundle that failed to restore (still recorded).
  const std::string copy = CopyPath(verified.source_hash);
  bool remove_copy = store_copy;  // on failure
  {
    troupe::MutexLock lock(&mu_);
    if (RestoreFailedHas(verified.source_hash)) remove_copy = false;
  }
  if (store_copy) {
    TROUPE_RETURN_IF_ERROR(MakePrivateDirectory(loaded_dir_));
    TROUPE_RETURN_IF_ERROR(WriteRecorded(copy, verified.bytes, "copy"));
  }
  auto fail = [&](absl::Status status) {
    if (remove_copy && !crashed_) ::unlink(copy.c_str());
    LogWarning("hosting: loading ", name, " failed: ", StatusText(status));
    return status;
  };
  auto owned = std::make_unique<Version>();
  Version* v = owned.get();
  v->hash = verified.source_hash;
  v->group = verified.manifest.group();
  v->version = verified.manifest.version();
  v->key_id = verified.key_id;
  v->isolation = std::move(isolation);
  v->loaded_at = clock_->Now();
  {
    troupe::MutexLock lock(&mu_);
    v->id = next_id_++;  // before a host is started: it reports by this id
  }
  // Undoes everything of a version that never became visible.
  auto discard = [&](absl::Status status) {
    for (const troupe_plugin_v1_t* library : v->registered) {
      (void)system_->UnregisterLibrary(library);
    }
    if (v->code != nullptr) {
      runtime::BundleCodeScope running_code(v->hash.c_str());
      v->code->Unload();
    }
    v->isolated.reset();  // kills a host it started
    return fail(std::move(status));
  };
  if (absl::Status opened = isolated ? OpenIsolated(verified, v) : OpenInline(verified, v);
      !opened.ok()) {
    return discard(opened);
  }
  v->manifest = std::move(verified.manifest);
  for (const troupe::v1::ActorSpec& spec : v->manifest.actors()) {
    Slot slot;
    slot.spec = spec;
    slot.library = v->LibraryFor(spec.class_name());
    if (!v->Exports(spec.class_name())) {
      return discard(absl::FailedPreconditionError(troupe::StrCat(
          name, ": actor '", spec.class_name(),
          "' is not exported by any library of the bundle (they export: ", v->ExportedClasses(),
          ")")));
    }
    absl::StatusOr<runtime::Requirements> requirements = RequirementsFromProto(
        spec.requirements(), troupe::StrCat(name, ": actor '", spec.class_name(), "'"));
    if (!requirements.ok()) return discard(requirements.status());
    slot.requirements = *std::move(requirements);
    v->slots.push_back(std::move(slot));
  }

  {
    troupe::MutexLock lock(&mu_);
    std::weak_ptr<HostCore> weak = weak_from_this();
    const uint64_t id = v->id;
    v->supervisor = system_->SpawnNative(
        [weak, id](Cell*, Message& message) {
          if (std::shared_ptr<HostCore> core = weak.lock()) {
            core->OnSupervisorMessage(id, message);
          }
        },
        kSupervisorClass);
    versions_.push_back(std::move(owned));
  }

  if (absl::Status started = StartVersion(v); !started.ok()) {
    LogWarning("hosting: loading ", name, " failed: ", StatusText(started));
    uint64_t id;
    {
      troupe::MutexLock lock(&mu_);
      BeginDrain(v);
      id = v->id;
    }
    FinishDrains({id}, absl::Now() + options_.drain_timeout);
    if (remove_copy && !crashed_) ::unlink(copy.c_str());
    return started;
  }

  LoadOutcome outcome;
  std::vector<uint64_t> draining;
  std::vector<std::string> old_copies;  // deleted once the state no longer names them
  absl::Status unrecorded;
  std::string previous_name;
  {
    troupe::MutexLock lock(&mu_);
    // The new set, in memory only: no action, name or exit request yet, so
    // that a state that cannot be recorded undoes it without a trace.
    std::vector<std::pair<Version*, VersionState>> undo = {{v, v->state}};
    const std::vector<RestoreFailed> failed_before = restore_failed_;
    restore_failed_.erase(std::remove_if(restore_failed_.begin(), restore_failed_.end(),
                                         [&](const RestoreFailed& f) { return f.hash == v->hash; }),
                          restore_failed_.end());
    if (activation == Activation::kNew) {
      // The user chose the active version of the group now.
      for (RestoreFailed& f : restore_failed_) {
        if (f.group == v->group) f.active = false;
      }
    }
    Version* previous = nullptr;
    std::vector<Version*> to_drain;
    if (activation == Activation::kRestoreInactive) {
      v->state = VersionState::kInactive;
    } else {
      previous = ActiveOf(v->group);
      v->state = VersionState::kActive;
      if (previous != nullptr) {
        undo.emplace_back(previous, previous->state);
        previous->state = VersionState::kInactive;
        previous_name = previous->Name();
      }
      if (activation == Activation::kNew) to_drain = DrainedBy(*v);
      for (Version* old : to_drain) {
        if (old != previous) undo.emplace_back(old, old->state);
        old->state = VersionState::kDraining;
      }
    }
    // Recorded before anything of the old set goes: a crash from here on
    // restores the new set, before it the old one.
    if (absl::Status persisted = PersistState(); !persisted.ok()) {
      for (const auto& [version, state] : undo) version->state = state;
      restore_failed_ = failed_before;
      if (crashed_) return persisted;  // as if dead: nothing more happens
      unrecorded = persisted;
      BeginDrain(v);
      draining.push_back(v->id);
    } else {
      std::vector<std::string>* changes = &outcome.changes;
      Note(changes,
           troupe::StrCat("loaded ", name, " (", v->hash.substr(0, 16), ", key ", v->key_id, ")"));
      if (activation == Activation::kRestoreInactive) {
        SendActions(v, &troupe::v1::ActorSpec::on_deactivate);
      } else {
        BindNames(v);
        Note(changes, troupe::StrCat("activated ", name));
        if (previous != nullptr) {
          SendActions(previous, &troupe::v1::ActorSpec::on_deactivate);
          const bool goes = std::find(to_drain.begin(), to_drain.end(), previous) != to_drain.end();
          Note(changes, troupe::StrCat("deactivated ", previous->Name(),
                                       goes ? " (draining)" : " (kept loaded)"));
        }
        for (Version* old : to_drain) {
          if (old != previous) Note(changes, troupe::StrCat("draining ", old->Name()));
          BeginDrain(old);
          old_copies.push_back(CopyPath(old->hash));
          draining.push_back(old->id);
        }
      }
      // Loaded again: its crashes are forgiven (and a hold lifted).
      if (activation == Activation::kNew && crash_history_.Forget(v->hash)) SaveCrashHistory();
      outcome.bundle = Info(*v);
    }
  }
  if (!unrecorded.ok()) {
    FinishDrains(draining, absl::Now() + options_.drain_timeout);
    if (remove_copy) ::unlink(copy.c_str());
    absl::Status status(
        unrecorded.code(),
        troupe::StrCat(name, " was not loaded: the loaded set cannot be recorded in ", StatePath(),
                       " (", StatusText(unrecorded), "); the load was undone",
                       previous_name.empty()
                           ? std::string()
                           : troupe::StrCat(", ", previous_name, " stays active")));
    LogError("hosting: ", StatusText(status));
    return status;
  }
  for (const std::string& old_copy : old_copies) {
    absl::Status step = Step("remove old copy", old_copy, "cannot remove");
    if (step.code() == absl::StatusCode::kAborted) return step;
    if (step.ok() && ::unlink(old_copy.c_str()) != 0 && errno != ENOENT) {
      step = ErrnoError(errno, old_copy, "cannot remove");
    }
    if (!step.ok()) {
      LogWarning("hosting: ", StatusText(step), " (the next start removes it)");
    }
  }
  if (!draining.empty()) {
    for (std::string& line : FinishDrains(draining, absl::Now() + options_.drain_timeout)) {
      outcome.changes.push_back(std::move(line));
    }
    troupe::MutexLock lock(&mu_);
    outcome.bundle = Info(*v);
  }
  return outcome;
}

std::vector<Version*> HostCore::DrainedBy(const Version& v) const {
  std::vector<Version*> to_drain;
  const troupe::v1::AutoUnload& policy = v.manifest.auto_unload();
  if (policy.policy_case() == troupe::v1::AutoUnload::kEnabled && policy.enabled()) {
    for (const auto& other : versions_) {
      if (other->group == v.group && other->state == VersionState::kInactive) {
        to_drain.push_back(other.get());
      }
    }
  } else if (policy.policy_case() == troupe::v1::AutoUnload::kKeepLoaded &&
             policy.keep_loaded() > 0) {
    std::vector<Version*> kept;  // load order, the new one last
    for (const auto& other : versions_) {
      if (other->group == v.group &&
          (other->state == VersionState::kActive || other->state == VersionState::kInactive)) {
        kept.push_back(other.get());
      }
    }
    for (size_t i = 0; i + policy.keep_loaded() < kept.size(); ++i) {
      if (kept[i] != &v) to_drain.push_back(kept[i]);
    }
  }
  return to_drain;
}

}  // namespace troupe::hosting
