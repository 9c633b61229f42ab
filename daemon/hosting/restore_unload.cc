// restore_unload.cc - HostCore: restoring the recorded bundles at start,
// unloading, shutdown (host_core.h).
#include "daemon/hosting/host_core.h"

namespace troupe::hosting {

// ---------------------------------------------------------------------------
// Restore, unload, shutdown

std::vector<std::string> HostCore::Restore() {
  troupe::MutexLock op(&op_mu_);
  std::vector<std::string> problems;
  if (crashed_) return problems;
  const std::string state_path = StatePath();
  absl::StatusOr<std::string> text = ReadWholeFile(state_path);
  const bool have_state = text.ok();
  if (!text.ok() && text.status().code() == absl::StatusCode::kNotFound) text = std::string();
  if (!text.ok()) {
    problems.push_back(std::string(StatusText(text.status())));
    for (const std::string& p : problems) LogError("hosting: restore: ", p);
    return problems;
  }
  // What interrupted loads left behind goes first: nothing else uses it.
  std::vector<std::string> cleanup =
      RemoveLeftovers(loaded_dir_, library_root_, *text, [this](std::string_view hash) {
        troupe::MutexLock lock(&mu_);
        return FindHash(hash) != nullptr;
      });
  for (const std::string& line : cleanup) LogWarning("hosting: restore: ", line);
  ParsedState parsed = ParseLoadedState(*text, state_path);
  problems = parsed.problems;
  {
    troupe::MutexLock lock(&mu_);
    cleanup_ = std::move(cleanup);
    restore_failed_.clear();  // the state holds them: they are tried again
    restoring_ = true;
    DetectUncleanExit();
  }
  for (const StateEntry& entry : parsed.entries) {
    {
      troupe::MutexLock lock(&mu_);
      if (FindHash(entry.hash) != nullptr) continue;
    }
    // Named by the state line until its manifest is read.
    RestoreFailed failed;
    failed.hash = entry.hash;
    failed.active = entry.active;
    if (size_t space = entry.name.find(' '); space != std::string::npos) {
      failed.group = entry.name.substr(0, space);
      failed.version = entry.name.substr(space + 1);
    }
    if (options_.on_restore_progress) options_.on_restore_progress(failed.Name());
    const std::string copy = CopyPath(entry.hash);
    std::error_code ec;
    if (!fs::exists(copy, ec) && !ec) {
      // Nothing left to load, now or later.
      problems.push_back(troupe::StrCat(failed.Name(), " was not restored and is dropped: ", copy,
                                        " does not exist"));
      continue;
    }
    {
      troupe::MutexLock lock(&mu_);
      failed.before_id = next_id_;
      if (const std::string* held = crash_history_.HeldReason(entry.hash); held != nullptr) {
        // Its code is not run again: that is what kills the daemon.
        failed.reason = *held;
        problems.push_back(troupe::StrCat(failed.Name(), ": ", *held));
        restore_failed_.push_back(std::move(failed));
        continue;
      }
    }
    absl::StatusOr<bundle::VerifiedBundle> verified =
        bundle::VerifyBundleFile(copy, trust_, options_.limits);
    if (verified.ok() && verified->source_hash != entry.hash) {
      verified = absl::FailedPreconditionError(
          troupe::StrCat(copy, ": holds bundle ", verified->source_hash, ", not ", entry.hash));
    }
    if (verified.ok()) {
      failed.group = verified->manifest.group();
      failed.version = verified->manifest.version();
    }
    absl::StatusOr<LoadOutcome> loaded =
        verified.ok()
            ? LoadVerified(*std::move(verified),
                           entry.active ? Activation::kRestoreActive : Activation::kRestoreInactive,
                           /*store_copy=*/false)
            : absl::StatusOr<LoadOutcome>(verified.status());
    if (!loaded.ok()) {
      // Kept (copy and state line): the cause may pass (capabilities are set
      // at runtime, a key trusted again, a slow start).
      failed.reason = std::string(StatusText(loaded.status()));
      problems.push_back(troupe::StrCat(failed.Name(),
                                        " was not restored: ", StatusText(loaded.status()),
                                        "; it stays recorded and the next start tries again "
                                        "(`director unload ",
                                        failed.hash.substr(0, 16), "` removes it)"));
      troupe::MutexLock lock(&mu_);
      restore_failed_.push_back(std::move(failed));
    }
  }
  {
    troupe::MutexLock lock(&mu_);
    absl::flat_hash_set<std::string> groups;
    for (const auto& v : versions_) groups.insert(v->group);
    for (const std::string& group : groups) EnsureActive(group, nullptr);
    restoring_ = false;
    if (have_state) {
      if (absl::Status persisted = PersistState(); !persisted.ok()) {
        LogError("hosting: restore: cannot record the loaded bundles: ", StatusText(persisted));
      }
    }
  }
  for (const std::string& p : problems) LogError("hosting: restore: ", p);
  return problems;
}

std::vector<BundleInfo> HostCore::NotRestored(std::string_view group) const {
  std::vector<BundleInfo> out;
  troupe::MutexLock lock(&mu_);
  for (const RestoreFailed& f : restore_failed_) {
    if (!group.empty() && f.group != group) continue;
    BundleInfo info;  // runs nothing: state kNone
    info.hash = f.hash;
    info.group = f.group;
    info.version = f.version;
    info.failure = f.reason;
    out.push_back(std::move(info));
  }
  return out;
}

absl::StatusOr<UnloadOutcome> HostCore::Unload(std::string_view target) {
  troupe::MutexLock op(&op_mu_);
  {
    troupe::MutexLock lock(&mu_);
    if (shut_down_) return absl::FailedPreconditionError("the bundle host has shut down");
  }
  if (crashed_)
    return absl::FailedPreconditionError("the bundle host stopped at a simulated crash");
  FinishDrains({}, absl::Now());
  UnloadOutcome outcome;
  std::vector<uint64_t> ids;
  std::vector<BundleInfo> removed;  // bundles that had failed to restore
  {
    troupe::MutexLock lock(&mu_);
    std::vector<LoadedName> names;
    std::vector<Version*> candidates;
    for (const auto& v : versions_) {
      names.push_back(LoadedName{v->hash, v->group, v->version});
      candidates.push_back(v.get());
    }
    // Then the bundles that failed to restore: unloading one forgets it.
    for (const RestoreFailed& f : restore_failed_) {
      names.push_back(LoadedName{f.hash, f.group, f.version});
    }
    TROUPE_ASSIGN_OR_RETURN(std::vector<size_t> matches, MatchUnloadTarget(target, names));
    std::vector<std::string> groups;
    std::vector<Version*> to_drain;
    std::vector<std::string> forget;
    std::vector<std::string> copies;  // deleted once the state no longer names them
    for (size_t i : matches) {
      if (i >= candidates.size()) {
        const RestoreFailed& f = restore_failed_[i - candidates.size()];
        Note(&outcome.changes, troupe::StrCat("removed ", f.Name(), " (it had failed to restore)"));
        copies.push_back(CopyPath(f.hash));
        BundleInfo info;  // gone: state kNone
        info.hash = f.hash;
        info.group = f.group;
        info.version = f.version;
        removed.push_back(std::move(info));
        forget.push_back(f.hash);
        continue;
      }
      Version* v = candidates[i];
      ids.push_back(v->id);
      if (v->state == VersionState::kDraining) continue;  // already on its way
      if (v->state == VersionState::kActive) {
        SendActions(v, &troupe::v1::ActorSpec::on_deactivate);
        Note(&outcome.changes, troupe::StrCat("deactivated ", v->Name()));
        if (std::find(groups.begin(), groups.end(), v->group) == groups.end()) {
          groups.push_back(v->group);
        }
      }
      v->state = VersionState::kDraining;  // no longer a candidate for EnsureActive
      to_drain.push_back(v);
      copies.push_back(CopyPath(v->hash));
    }
    restore_failed_.erase(std::remove_if(restore_failed_.begin(), restore_failed_.end(),
                                         [&](const RestoreFailed& f) {
                                           return std::find(forget.begin(), forget.end(), f.hash) !=
                                                  forget.end();
                                         }),
                          restore_failed_.end());
    // Names move to the reactivated version before the old actors are asked
    // to exit: mail sent by name until then is in their mailboxes, ahead of
    // the exit request (ActorSystem::TellByName), and is handled, not lost.
    for (const std::string& group : groups) EnsureActive(group, &outcome.changes);
    for (Version* v : to_drain) BeginDrain(v);
    if (absl::Status persisted = PersistState(); !persisted.ok()) {
      // The stored copies stay with the old record: a restart restores the
      // old set, unloaded bundles included.
      std::string warning = troupe::StrCat(
          "warning: the loaded set was not recorded (a restart loads the unloaded bundles "
          "again): ",
          StatusText(persisted));
      LogError("hosting: ", warning);
      outcome.changes.push_back(std::move(warning));
    } else {
      for (const std::string& copy : copies) ::unlink(copy.c_str());
      bool forgotten = false;
      for (const std::string& hash : forget) forgotten |= crash_history_.Forget(hash);
      for (uint64_t id : ids) forgotten |= crash_history_.Forget(FindVersion(id)->hash);
      if (forgotten) SaveCrashHistory();
    }
    for (uint64_t id : ids) outcome.unloaded.push_back(Info(*FindVersion(id)));
  }
  if (!ids.empty()) {  // (empty ids would wait for every draining version)
    for (std::string& line : FinishDrains(ids, absl::Now() + options_.drain_timeout)) {
      outcome.changes.push_back(std::move(line));
    }
  }
  troupe::MutexLock lock(&mu_);
  for (BundleInfo& info : outcome.unloaded) {
    bool gone = true;
    for (const auto& v : versions_) {
      if (v->hash == info.hash) {
        info = Info(*v);  // still draining
        gone = false;
      }
    }
    if (gone) {
      info.state = BundleState::kNone;
      for (ManagedActor& actor : info.actors) {
        if (actor.state == ManagedActorState::kRunning) actor.state = ManagedActorState::kExited;
      }
    }
  }
  for (BundleInfo& info : removed) outcome.unloaded.push_back(std::move(info));
  return outcome;
}

void HostCore::Shutdown() {
  troupe::MutexLock op(&op_mu_);
  {
    troupe::MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
    for (const auto& v : versions_) {
      if (v->state == VersionState::kActive) {
        SendActions(v.get(), &troupe::v1::ActorSpec::on_deactivate);
      }
    }
    for (const auto& v : versions_) {
      if (v->state != VersionState::kDraining) BeginDrain(v.get());
    }
  }
  FinishDrains({}, absl::Now() + options_.drain_timeout);
  std::vector<std::unique_ptr<IsolatedCode>> hosts;
  {
    troupe::MutexLock lock(&mu_);
    for (auto& v : versions_) {
      if (v->isolated != nullptr) {
        // Its code runs in its own process: that process is stopped (below,
        // without the lock: a host's end is reported under it).
        LogWarning("hosting: ", v->Name(), " did not drain before shutdown; its host is stopped");
        hosts.push_back(std::move(v->isolated));
      } else {
        // Code that may still run is never unmapped: a leak, not a crash.
        LogWarning("hosting: ", v->Name(),
                   " did not drain before shutdown; its libraries stay loaded");
        (void)v->code.release();
      }
      (void)system_->RequestExit(v->supervisor);
    }
    versions_.clear();
  }
  StopHosts(std::move(hosts));
  troupe::MutexLock lock(&mu_);
  // A clean exit: the next start does not count it (see DetectUncleanExit).
  if (fault_record_ >= 0) {
    (void)ReleaseFaultRecord(fault_record_);
    ::close(fault_record_);
    fault_record_ = -1;
  }
  if (marked_running_ && !crashed_) ::unlink(RunningPath().c_str());
}

}  // namespace troupe::hosting
