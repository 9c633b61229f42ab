// host_core.cc - HostCore bookkeeping (finding versions, the status of a
// version and its managed actors, recording the loaded state) and its disk
// steps and crash record (host_core.h).
#include "daemon/hosting/host_core.h"

namespace troupe::hosting {

// ---------------------------------------------------------------------------
// Bookkeeping

Version* HostCore::FindVersion(uint64_t id) const {
  for (const auto& v : versions_) {
    if (v->id == id) return v.get();
  }
  return nullptr;
}

Version* HostCore::FindHash(std::string_view hash) const {
  for (const auto& v : versions_) {
    if (v->hash == hash) return v.get();
  }
  return nullptr;
}

Version* HostCore::ActiveOf(std::string_view group) const {
  for (const auto& v : versions_) {
    if (v->group == group && v->state == VersionState::kActive) return v.get();
  }
  return nullptr;
}

ManagedActor HostCore::Managed(const Slot& slot) const {
  ManagedActor out;
  out.class_name = slot.spec.class_name();
  out.address = slot.address;
  out.role = slot.spec.role();
  out.global_name = slot.spec.global_name();
  if (slot.actor) out.started_at = slot.started_at;
  out.restarts = slot.restarts;
  out.state = slot.state;
  out.last_exit = slot.last_exit;
  if (slot.state == ManagedActorState::kRunning && slot.actor &&
      slot.actor->state() == runtime::CellState::kExited) {
    // Gone without a notice reaching the host (e.g. the actor system shut down).
    out.state = ManagedActorState::kExited;
    if (slot.last_exit.empty()) out.last_exit = "exited";
  }
  return out;
}

BundleInfo HostCore::Info(const Version& v) const {
  BundleInfo info;
  info.hash = v.hash;
  info.group = v.group;
  info.version = v.version;
  switch (v.state) {
    case VersionState::kActive:
      info.state = BundleState::kActive;
      break;
    case VersionState::kInactive:
      info.state = BundleState::kInactive;
      break;
    case VersionState::kDraining:
      info.state = BundleState::kDraining;
      break;
    case VersionState::kLoading:
      info.state = BundleState::kNone;
      break;
  }
  info.loaded_at = v.loaded_at;
  info.signing_key = v.key_id;
  info.isolation = v.isolation.isolation;
  info.isolation_reason = v.isolation.reason;
  if (v.isolated != nullptr) {
    IsolatedHostInfo host;
    if (const isolation::IsolatedHost* current = v.isolated->host.get();
        current != nullptr && !current->ended()) {
      host.pid = current->pid();
      host.resident_bytes = current->ResidentBytes();
    }
    host.restarts = v.isolated->restarts;
    host.last_end = v.isolated->last_end;
    host.last_stderr = v.isolated->last_stderr;
    info.host = std::move(host);
  }
  for (const Slot& slot : v.slots) info.actors.push_back(Managed(slot));
  return info;
}

void HostCore::Note(std::vector<std::string>* changes, std::string line) const {
  LogInfo("hosting: ", line);
  if (changes != nullptr) changes->push_back(std::move(line));
}

absl::Status HostCore::PersistState() {
  if (restoring_) return absl::OkStatus();
  if (crashed_) return absl::AbortedError("the bundle host stopped at a simulated crash");
  // A group whose recorded active version failed to restore keeps it as the
  // one to activate: the version standing in for it is recorded inactive.
  absl::flat_hash_set<std::string> held;
  for (const RestoreFailed& f : restore_failed_) {
    if (f.active && !f.group.empty()) held.insert(f.group);
  }
  std::vector<StateEntry> entries;
  size_t next_failed = 0;  // restore_failed_ entries keep their place in the load order
  auto add_failed = [&](uint64_t before_id) {
    for (; next_failed < restore_failed_.size() &&
           restore_failed_[next_failed].before_id <= before_id;
         ++next_failed) {
      const RestoreFailed& f = restore_failed_[next_failed];
      entries.push_back(StateEntry{f.hash, f.active,
                                   f.group.empty() ? "" : troupe::StrCat(f.group, " ", f.version)});
    }
  };
  for (const auto& v : versions_) {
    add_failed(v->id);
    if (v->state == VersionState::kActive || v->state == VersionState::kInactive) {
      entries.push_back(StateEntry{
          v->hash, v->state == VersionState::kActive && !held.contains(v->group), v->Name()});
    }
  }
  add_failed(UINT64_MAX);
  TROUPE_RETURN_IF_ERROR(MakePrivateDirectory(loaded_dir_));
  return WriteRecorded(StatePath(), FormatLoadedState(entries), "state");
}

// ---------------------------------------------------------------------------
// Disk steps and the crash record

absl::Status HostCore::Step(std::string_view name, std::string_view path, std::string_view what) {
  if (crashed_) return absl::AbortedError("the bundle host stopped at a simulated crash");
  if (!options_.fault_for_test) return absl::OkStatus();
  const LoadStepFault fault = options_.fault_for_test(name);
  if (fault.crash) {
    crashed_ = true;
    return absl::AbortedError(troupe::StrCat("simulated crash before step '", name, "'"));
  }
  if (fault.error_number != 0) return ErrnoError(fault.error_number, path, what);
  return absl::OkStatus();
}

absl::Status HostCore::WriteRecorded(const std::string& path, std::string_view content,
                                     std::string_view what) {
  const std::string temp = troupe::StrCat(path, ".tmp");
  TROUPE_RETURN_IF_ERROR(Step(troupe::StrCat("write ", what), temp, "cannot write"));
  TROUPE_RETURN_IF_ERROR(WriteTempFile(path, content, 0600));
  if (absl::Status s = Step(troupe::StrCat("rename ", what), path, "cannot replace"); !s.ok()) {
    if (!crashed_) ::unlink(temp.c_str());  // a crash leaves it, as a real one would
    return s;
  }
  return ReplaceWithTemp(path);
}

void HostCore::SaveCrashHistory() {
  if (crashed_) return;
  if (absl::Status saved =
          WriteFileAtomically(CrashesPath(), FormatCrashHistory(crash_history_), 0600);
      !saved.ok()) {
    LogWarning("hosting: cannot record the daemon's unclean exits: ", StatusText(saved));
  }
}

void HostCore::DetectUncleanExit() {
  if (crashed_) return;
  if (absl::StatusOr<std::string> history = ReadWholeFile(CrashesPath()); history.ok()) {
    crash_history_ = ParseCrashHistory(*history);
  } else if (history.status().code() != absl::StatusCode::kNotFound) {
    // E.g. a FIFO or an oversized file there (ReadWholeFile): as if none.
    LogWarning("hosting: restore: the record of unclean exits is unreadable and starts afresh: ",
               StatusText(history.status()));
  }
  const absl::Time now = clock_->Now();
  absl::StatusOr<std::string> running = ReadWholeFile(RunningPath());
  if (!running.ok() && running.status().code() != absl::StatusCode::kNotFound) {
    LogWarning("hosting: restore: cannot tell whether the last run ended cleanly: ",
               StatusText(running.status()));
  }
  const size_t before = crash_history_.crashes.size();
  const std::vector<CrashHistory::Charged> charged = crash_history_.ChargeDeadRun(
      running.ok() ? std::string_view(*running) : std::string_view(), now,
      options_.restart_window);
  if (running.ok() && charged.empty()) {
    LogWarning(
        "hosting: restore: troupd did not stop cleanly last time (no fault in bundle code "
        "recorded)");
  }
  for (const CrashHistory::Charged& c : charged) {
    LogWarning("hosting: restore: troupd died last time of ", SignalName(c.signal),
               " in the code of bundle ", c.hash.substr(0, 16));
    if (!c.held_reason.empty()) {
      LogError("hosting: restore: ", c.hash.substr(0, 16), ": ", c.held_reason);
    }
  }
  if (running.ok() || crash_history_.crashes.size() != before) SaveCrashHistory();
  absl::Status marked = MakePrivateDirectory(loaded_dir_);
  if (marked.ok()) marked = WriteFileAtomically(RunningPath(), FormatRunning(now), 0600);
  int fd = -1;
  if (marked.ok()) {
    fd = ::open(RunningPath().c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) marked = ErrnoError(errno, RunningPath(), "cannot open");
  }
  if (!marked.ok()) {
    LogWarning("hosting: cannot mark the daemon running (crash loops will not be detected): ",
               StatusText(marked));
  }
  marked_running_ = marked.ok();
  if (fd >= 0) {
    if (fault_record_ >= 0) {
      (void)ReleaseFaultRecord(fault_record_);
      ::close(fault_record_);
    }
    fault_record_ = fd;
    (void)ExchangeFaultRecord(fd);  // this host's run is the one a fault ends
  }
}

}  // namespace troupe::hosting
