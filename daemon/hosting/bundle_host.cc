#include "daemon/hosting/bundle_host.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <deque>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "daemon/bundle/bundle.h"
#include "daemon/bundle/keys.h"
#include "daemon/bundle/version.h"
#include "daemon/common/logging.h"
#include "daemon/common/status_macros.h"
#include "daemon/common/strings.h"
#include "daemon/hosting/crash_record.h"
#include "daemon/hosting/leftovers.h"
#include "daemon/hosting/loaded_state.h"
#include "daemon/hosting/requirements.h"
#include "daemon/hosting/unload_target.h"
#include "daemon/loader/bundle_loader.h"
#include "daemon/runtime/actor_class.h"
#include "troupe/abi.h"
#include "troupe/wire.h"

namespace troupe::hosting {
namespace {

namespace fs = std::filesystem;
using runtime::ActorRef;
using runtime::Cell;
using runtime::Message;

// How often a drain wait looks for actors that exited without telling the
// supervisor (e.g. ones the host did not create).
constexpr absl::Duration kDrainPoll = absl::Milliseconds(50);
constexpr std::string_view kSupervisorClass = "troupe.BundleSupervisor";

std::string_view StatusText(const absl::Status& status) {
  return {status.message().data(), status.message().size()};
}

// One manifest ActorSpec of one loaded version: the actor the host keeps.
struct Slot {
  troupe::v1::ActorSpec spec;
  const troupe_plugin_v1_t* library = nullptr;  // the version's library exporting the class
  std::string requirements_json;
  ActorRef actor;  // the current instance (null until created)
  std::string address;
  absl::Time started_at;
  uint32_t restarts = 0;
  std::deque<absl::Time> recent_restarts;  // within restart_window
  v1::ManagedActorState state = v1::MANAGED_ACTOR_STATE_RUNNING;
  std::string last_exit;
  bool exit_requested = false;  // the host asked it to exit: not a failure
  // While the version loads:
  bool settled = false;       // its on_load actions were handled, or it is gone
  std::string failure;        // why it cannot serve (create failure, exit)
  std::string failed_action;  // the first on_load action that failed ...
  std::string action_error;   // ... and why
};

enum class VersionState { kLoading, kActive, kInactive, kDraining };

// One loaded version of a group.
struct Version {
  uint64_t id = 0;  // load sequence number
  std::string hash;
  std::string group;
  std::string version;
  std::string key_id;
  troupe::v1::Manifest manifest;
  absl::Time loaded_at;
  std::unique_ptr<loader::LoadedBundle> code;
  std::vector<const troupe_plugin_v1_t*> registered;  // not yet unregistered
  ActorRef supervisor;  // parent of the slots' actors; hears their exits
  std::vector<Slot> slots;
  VersionState state = VersionState::kLoading;
  absl::flat_hash_set<uint64_t> stragglers_asked;  // other live actors asked to exit

  std::string Name() const { return troupe::StrCat(group, " ", version); }
  // The library of this version exporting `class_name`, or nullptr.
  const troupe_plugin_v1_t* LibraryFor(std::string_view class_name) const {
    for (const auto& library : code->libraries()) {
      if (library->FindClass(class_name) != nullptr) return &library->plugin();
    }
    return nullptr;
  }
  std::string ExportedClasses() const {
    std::string out;
    for (const auto& library : code->libraries()) {
      for (std::string_view name : library->ClassNames()) {
        troupe::StrAppend(&out, out.empty() ? "" : ", ", name);
      }
    }
    return out.empty() ? "none" : out;
  }
};

// A recorded bundle Restore could not load (requirements that do not hold
// yet, a key no longer trusted, a timeout, ...). Its stored copy stays and it
// stays in the state, so a later start tries again; Unload removes it.
struct RestoreFailed {
  std::string hash;
  bool active = false;  // recorded active (until another version of its group is loaded)
  std::string group;    // empty when unknown (an old state line, and it did not verify)
  std::string version;
  uint64_t before_id = 0;  // recorded before the versions loaded from this id on
  std::string reason;      // why it is not running

  // "hello 1.0 (0123456789abcdef)"
  std::string Name() const {
    return troupe::StrCat(group.empty() ? "bundle" : troupe::StrCat(group, " ", version), " (",
                          hash.substr(0, 16), ")");
  }
};

// How a load makes the new version active.
enum class Activation {
  kNew,              // a load: becomes active, AutoUnload applies
  kRestoreActive,    // Restore of the recorded active version
  kRestoreInactive,  // Restore of a recorded inactive version: on_deactivate after on_load
};

}  // namespace

// Everything of the host. Shared with the supervisors' handlers (weakly), so
// a handler that runs after the host is gone does nothing.
class HostCore : public std::enable_shared_from_this<HostCore> {
 public:
  HostCore(runtime::ActorSystem* system, HostOptions options)
      : system_(system),
        options_(std::move(options)),
        clock_(options_.clock != nullptr ? options_.clock : RealClock::Get()),
        trust_(troupe::StrCat(options_.troupe_dir, "/keys/trusted")),
        loaded_dir_(troupe::StrCat(options_.troupe_dir, "/loaded")),
        library_root_(options_.library_root.empty() ? troupe::StrCat(loaded_dir_, "/code")
                                                    : options_.library_root) {}

  std::vector<std::string> Restore();
  std::vector<std::string> RestoreCleanup() const {
    troupe::MutexLock lock(&mu_);
    return cleanup_;
  }
  std::vector<v1::BundleInfo> NotRestored(std::string_view group) const;
  void CrashForTest() { crashed_ = true; }
  absl::StatusOr<LoadOutcome> Load(absl::StatusOr<bundle::VerifiedBundle> verified);
  // Where the stored copy of a loaded bundle lives.
  std::string CopyPath(std::string_view hash) const {
    return troupe::StrCat(loaded_dir_, "/", hash, bundle::kBundleSuffix);
  }
  absl::StatusOr<UnloadOutcome> Unload(std::string_view target);
  std::vector<v1::BundleInfo> List(std::string_view group) const;
  absl::StatusOr<std::vector<v1::ManagedActor>> Role(std::string_view role,
                                                     std::string_view group) const;
  absl::StatusOr<ActorRef> CreateActor(std::string_view group, std::string_view class_name,
                                       const runtime::CreateOptions& options);
  BundleHost::ActorOrigin OriginOf(std::string_view address) const;
  void Shutdown();

  const bundle::TrustStore& trust() const { return trust_; }
  const bundle::Limits& limits() const { return options_.limits; }

 private:
  // ---- loading
  absl::StatusOr<LoadOutcome> LoadVerified(bundle::VerifiedBundle verified, Activation activation,
                                           bool store_copy) ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);
  // Creates the version's actors, sends their on_load actions and waits until
  // each handled them. The first problem, naming the actor, or OK.
  absl::Status StartVersion(Version* v) ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);
  // Creates the slot's actor (a child of the supervisor) and sends it its
  // on_load actions; binds its global name when `bind_name`.
  absl::Status StartSlot(Version* v, Slot* slot, bool bind_name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SendAction(Version* v, Slot* slot, const troupe::v1::Action& action)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends the actions `which` selects to every running actor of `v`; a
  // refused send is logged.
  void SendActions(Version* v, const google::protobuf::RepeatedPtrField<troupe::v1::Action>& (
                                   troupe::v1::ActorSpec::*which)() const)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void BindNames(Version* v) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes `v` (inactive) the active version again: names, missing actors,
  // on_reactivate.
  void Reactivate(Version* v, std::vector<std::string>* changes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reactivates the highest loaded version of `group` when none is active.
  void EnsureActive(const std::string& group, std::vector<std::string>* changes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- draining
  // Marks `v` draining and asks each of its actors to exit behind its mail.
  void BeginDrain(Version* v) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits until `ids` (all draining versions when empty) are unloaded or
  // `deadline` passed; closes the finished ones. Returns "unloaded x" for
  // each closed version and, for each of `ids` that is not, "x is still
  // draining: ...".
  std::vector<std::string> FinishDrains(const std::vector<uint64_t>& ids, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);
  // Unregisters the libraries of a draining version; true once all are.
  bool TryUnregister(Version* v) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits on cv_ (or steps a deterministic system) until signalled or
  // `deadline`. False when no progress can come (deadline, idle system).
  bool WaitForProgress(absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Closes the code of versions taken out of versions_.
  void CloseVersions(std::vector<std::unique_ptr<Version>> done);

  // ---- supervision (runs on the supervisor's turn)
  void OnSupervisorMessage(uint64_t version_id, Message& message);
  void OnManagedExit(Version* v, Slot* slot, std::string_view reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Which versions loading `v` (active now) drains by its AutoUnload.
  std::vector<Version*> DrainedBy(const Version& v) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- bookkeeping
  Version* FindVersion(uint64_t id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Version* FindHash(std::string_view hash) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Version* ActiveOf(std::string_view group) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::BundleInfo Info(const Version& v) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::ManagedActor Managed(const Slot& slot) const;

  bool RestoreFailedHas(std::string_view hash) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return std::any_of(restore_failed_.begin(), restore_failed_.end(),
                       [&](const RestoreFailed& f) { return f.hash == hash; });
  }
  // Writes <loaded>/state from versions_ and restore_failed_ (steps "write
  // state", "rename state"). OK without writing while Restore runs.
  absl::Status PersistState() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string StatePath() const { return troupe::StrCat(loaded_dir_, "/state"); }
  std::string RunningPath() const { return troupe::StrCat(loaded_dir_, "/running"); }
  std::string CrashesPath() const { return troupe::StrCat(loaded_dir_, "/crashes"); }

  // ---- disk steps (fault injection for tests: HostOptions::fault_for_test)
  // OK to go on with step `name`; AbortedError once the host "died" (then
  // nothing more changes on disk); else the error the OS would give for
  // `what` on `path`.
  absl::Status Step(std::string_view name, std::string_view path, std::string_view what);
  // Writes `path` atomically through the steps "write <what>", "rename <what>".
  absl::Status WriteRecorded(const std::string& path, std::string_view content,
                             std::string_view what);
  // Writes <loaded>/crashes from crash_history_; logs a failure.
  void SaveCrashHistory() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Charges the faults recorded in the running mark the last run left (if
  // it did not stop cleanly), then marks this run and keeps the mark open
  // for the fault handler (Restore, before anything loads).
  void DetectUncleanExit() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Note(std::vector<std::string>* changes, std::string line) const;

  runtime::ActorSystem* const system_;
  const HostOptions options_;
  Clock* const clock_;
  const bundle::TrustStore trust_;
  const std::string loaded_dir_;
  const std::string library_root_;

  troupe::Mutex op_mu_;  // serializes Restore, Load, Unload and Shutdown; before mu_
  mutable troupe::Mutex mu_;
  troupe::CondVar cv_;  // signalled when an actor of a version reports (sync, exit)
  std::vector<std::unique_ptr<Version>> versions_ ABSL_GUARDED_BY(mu_);  // load order
  std::vector<RestoreFailed> restore_failed_ ABSL_GUARDED_BY(mu_);       // in before_id order
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  // While Restore runs, the state is not rewritten (a crash meanwhile must
  // not lose the entries not restored yet); it is written once at the end.
  bool restoring_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> crashed_{false};                  // a simulated crash: TROUPE_DIR is left alone
  bool marked_running_ ABSL_GUARDED_BY(mu_) = false;  // Restore wrote <loaded>/running
  int fault_record_ ABSL_GUARDED_BY(mu_) = -1;         // <loaded>/running, O_APPEND
  CrashHistory crash_history_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> cleanup_ ABSL_GUARDED_BY(mu_);  // what Restore removed
};

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

v1::ManagedActor HostCore::Managed(const Slot& slot) const {
  v1::ManagedActor out;
  out.set_class_name(slot.spec.class_name());
  out.set_address(slot.address);
  out.set_role(slot.spec.role());
  out.set_global_name(slot.spec.global_name());
  if (slot.actor) out.set_started_at_unix_ms(absl::ToUnixMillis(slot.started_at));
  out.set_restarts(slot.restarts);
  out.set_state(slot.state);
  out.set_last_exit(slot.last_exit);
  if (slot.state == v1::MANAGED_ACTOR_STATE_RUNNING && slot.actor &&
      slot.actor->state() == runtime::CellState::kExited) {
    // Gone without a notice reaching the host (e.g. the actor system shut down).
    out.set_state(v1::MANAGED_ACTOR_STATE_EXITED);
    if (slot.last_exit.empty()) out.set_last_exit("exited");
  }
  return out;
}

v1::BundleInfo HostCore::Info(const Version& v) const {
  v1::BundleInfo info;
  info.set_hash(v.hash);
  info.set_group(v.group);
  info.set_version(v.version);
  switch (v.state) {
    case VersionState::kActive:
      info.set_state(v1::BUNDLE_STATE_ACTIVE);
      break;
    case VersionState::kInactive:
      info.set_state(v1::BUNDLE_STATE_INACTIVE);
      break;
    case VersionState::kDraining:
      info.set_state(v1::BUNDLE_STATE_DRAINING);
      break;
    case VersionState::kLoading:
      info.set_state(v1::BUNDLE_STATE_UNSPECIFIED);
      break;
  }
  info.set_loaded_at_unix_ms(absl::ToUnixMillis(v.loaded_at));
  info.set_signing_key(v.key_id);
  for (const Slot& slot : v.slots) *info.add_actors() = Managed(slot);
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
    slot->state = v1::MANAGED_ACTOR_STATE_EXITED;
    slot->last_exit = reason.empty() ? "asked to exit by the host" : std::string(reason);
    return;
  }
  slot->last_exit = reason.empty() ? "exited on its own" : std::string(reason);
  if (v->state == VersionState::kLoading) {
    slot->state = v1::MANAGED_ACTOR_STATE_EXITED;
    if (!slot->settled) {
      slot->settled = true;
      if (slot->failure.empty()) {
        slot->failure = troupe::StrCat("exited during its on_load actions (", slot->last_exit, ")");
      }
    }
    return;
  }
  if (v->state != VersionState::kActive || shut_down_) {
    slot->state = v1::MANAGED_ACTOR_STATE_DOWN;
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
    slot->state = v1::MANAGED_ACTOR_STATE_DOWN;
    troupe::StrAppend(&slot->last_exit, "; not restarted: it was restarted ",
                      options_.restart_limit, " times within ",
                      absl::FormatDuration(options_.restart_window));
    LogWarning("hosting: ", v->Name(), ": actor '", class_name, "' is down: ", slot->last_exit);
    return;
  }
  slot->recent_restarts.push_back(now);
  const std::string why = slot->last_exit;
  if (absl::Status started = StartSlot(v, slot, /*bind_name=*/true); !started.ok()) {
    slot->state = v1::MANAGED_ACTOR_STATE_DOWN;
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
    if (!slot.actor || slot.state != v1::MANAGED_ACTOR_STATE_RUNNING) continue;
    for (const troupe::v1::Action& action : (slot.spec.*which)()) {
      if (absl::Status sent = SendAction(v, &slot, action); !sent.ok()) {
        LogWarning("hosting: ", v->Name(), ": actor '", slot.spec.class_name(),
                   "': cannot send action '", action.type(), "': ", StatusText(sent));
      }
    }
  }
}

absl::Status HostCore::StartSlot(Version* v, Slot* slot, bool bind_name) {
  if (absl::Status fits = CheckRequirements(slot->spec.requirements(), system_->CapabilitiesJson());
      !fits.ok()) {
    return absl::Status(fits.code(), troupe::StrCat("cannot run on this node: ", StatusText(fits)));
  }
  runtime::CreateOptions create;
  create.parent = v->supervisor;
  create.library = slot->library;
  create.requirements_json = slot->requirements_json;
  absl::StatusOr<ActorRef> created = system_->CreateActor(slot->spec.class_name(), create);
  if (!created.ok()) {
    return absl::Status(created.status().code(),
                        troupe::StrCat("could not be created: ", StatusText(created.status())));
  }
  ActorRef actor = *std::move(created);
  slot->actor = actor;
  slot->address = system_->FormatAddress(actor.get());
  slot->started_at = clock_->Now();
  slot->state = v1::MANAGED_ACTOR_STATE_RUNNING;
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
        slot.state != v1::MANAGED_ACTOR_STATE_RUNNING) {
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
    if (slot.actor && slot.state == v1::MANAGED_ACTOR_STATE_RUNNING) running.push_back(&slot);
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
    if (slot.actor && slot.state == v1::MANAGED_ACTOR_STATE_RUNNING) continue;
    slot.recent_restarts.clear();
    if (absl::Status started = StartSlot(v, &slot, /*bind_name=*/true); !started.ok()) {
      slot.state = v1::MANAGED_ACTOR_STATE_DOWN;
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

// ---------------------------------------------------------------------------
// Draining

void HostCore::BeginDrain(Version* v) {
  v->state = VersionState::kDraining;
  for (Slot& slot : v->slots) {
    if (!slot.actor || slot.state != v1::MANAGED_ACTOR_STATE_RUNNING) continue;
    slot.exit_requested = true;
    (void)system_->RequestExit(slot.actor);
  }
}

bool HostCore::TryUnregister(Version* v) {
  for (auto it = v->registered.begin(); it != v->registered.end();) {
    if (system_->UnregisterLibrary(*it).ok()) {
      it = v->registered.erase(it);
    } else {
      ++it;
    }
  }
  return v->registered.empty();
}

bool HostCore::WaitForProgress(absl::Time deadline) {
  if (system_->options().deterministic) {
    mu_.Unlock();
    bool ran = system_->RunOne();
    mu_.Lock();
    return ran;
  }
  if (absl::Now() >= deadline) return false;
  cv_.WaitWithDeadline(&mu_, std::min(deadline, absl::Now() + kDrainPoll));
  return true;
}

std::vector<std::string> HostCore::FinishDrains(const std::vector<uint64_t>& ids,
                                                absl::Time deadline) {
  std::vector<std::unique_ptr<Version>> done;
  std::vector<std::string> lines;
  {
    troupe::MutexLock lock(&mu_);
    auto wanted = [&](const Version& v) {
      return v.state == VersionState::kDraining &&
             (ids.empty() || std::find(ids.begin(), ids.end(), v.id) != ids.end());
    };
    for (;;) {
      bool waiting = false;
      for (auto it = versions_.begin(); it != versions_.end();) {
        Version* v = it->get();
        if (v->state != VersionState::kDraining) {
          ++it;
          continue;
        }
        bool slots_gone = std::all_of(v->slots.begin(), v->slots.end(), [](const Slot& s) {
          return !s.actor || s.actor->state() == runtime::CellState::kExited;
        });
        if (slots_gone) {
          // Actors of its libraries the host did not create (e.g. named ones
          // its actors made) are asked too, once the managed ones are gone.
          for (const troupe_plugin_v1_t* library : v->registered) {
            for (const ActorRef& actor : system_->LiveActorsOfLibrary(library)) {
              if (v->stragglers_asked.insert(actor->id()).second) {
                (void)system_->RequestExit(actor);
              }
            }
          }
          if (TryUnregister(v)) {
            if (wanted(*v)) {
              lines.push_back(troupe::StrCat("unloaded ", v->Name()));
            } else {
              LogInfo("hosting: unloaded ", v->Name(), " (it had drained meanwhile)");
            }
            done.push_back(std::move(*it));
            it = versions_.erase(it);
            continue;
          }
        }
        if (wanted(*v)) waiting = true;
        ++it;
      }
      if (!waiting || !WaitForProgress(deadline)) break;
    }
    for (const auto& v : versions_) {
      if (ids.empty() || !wanted(*v)) continue;  // a sweep reports only what it closed
      lines.push_back(troupe::StrCat(
          v->Name(), " is still draining: its actors have not all exited within ",
          absl::FormatDuration(options_.drain_timeout), "; it is unloaded once they have"));
    }
  }
  for (const std::string& line : lines) LogInfo("hosting: ", line);
  CloseVersions(std::move(done));
  return lines;
}

void HostCore::CloseVersions(std::vector<std::unique_ptr<Version>> done) {
  for (auto& v : done) {
    std::vector<std::string> resident;
    {
      // Closing runs the libraries' destructors: their code.
      runtime::BundleCodeScope running_code(v->hash.c_str());
      resident = v->code->Unload();
    }
    if (!resident.empty()) {
      LogWarning("hosting: ", v->Name(), ": ", resident.size(),
                 " libraries stay mapped after the unload (a leak, see PLUGIN-LOADING.md)");
    }
    (void)system_->RequestExit(v->supervisor);
  }
}

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
  const fs::path code_dir = fs::path(library_root_) / verified.source_hash;
  if (absl::Status step = Step("extract code", code_dir.string(), "cannot write"); !step.ok()) {
    return fail(step);
  }
  std::error_code ec;  // filesystem calls here report errors, never throw
  if (fs::exists(code_dir, ec)) {
    // Left by a crash (nothing of this hash is loaded now): unless its code
    // is still mapped, it can go.
    for (fs::recursive_directory_iterator it(code_dir, ec), end; !ec && it != end;
         it.increment(ec)) {
      std::error_code file_ec;
      if (it->is_regular_file(file_ec) && loader::IsResident(it->path().string())) {
        return fail(absl::FailedPreconditionError(troupe::StrCat(
            name, ": code of an earlier load of ", verified.source_hash,
            " is still mapped in this process; restart the daemon to load it again")));
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
  if (!code.ok()) return fail(code.status());

  auto owned = std::make_unique<Version>();
  Version* v = owned.get();
  v->hash = verified.source_hash;
  v->group = verified.manifest.group();
  v->version = verified.manifest.version();
  v->key_id = verified.key_id;
  v->manifest = std::move(verified.manifest);
  v->loaded_at = clock_->Now();
  v->code = *std::move(code);
  // Undoes everything of a version that never became visible.
  auto discard = [&](absl::Status status) {
    for (const troupe_plugin_v1_t* library : v->registered) {
      (void)system_->UnregisterLibrary(library);
    }
    {
      runtime::BundleCodeScope running_code(v->hash.c_str());
      v->code->Unload();
    }
    return fail(std::move(status));
  };
  for (const auto& library : v->code->libraries()) {
    if (absl::Status s = system_->RegisterLibrary(&library->plugin(), v->hash); !s.ok()) {
      return discard(absl::Status(s.code(), troupe::StrCat(name, ": ", StatusText(s))));
    }
    v->registered.push_back(&library->plugin());
  }
  for (const troupe::v1::ActorSpec& spec : v->manifest.actors()) {
    Slot slot;
    slot.spec = spec;
    slot.library = v->LibraryFor(spec.class_name());
    if (slot.library == nullptr) {
      return discard(absl::FailedPreconditionError(troupe::StrCat(
          name, ": actor '", spec.class_name(),
          "' is not exported by any library of the bundle (they export: ", v->ExportedClasses(),
          ")")));
    }
    slot.requirements_json = RequirementsJson(spec.requirements());
    v->slots.push_back(std::move(slot));
  }

  {
    troupe::MutexLock lock(&mu_);
    v->id = next_id_++;
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

std::vector<v1::BundleInfo> HostCore::NotRestored(std::string_view group) const {
  std::vector<v1::BundleInfo> out;
  troupe::MutexLock lock(&mu_);
  for (const RestoreFailed& f : restore_failed_) {
    if (!group.empty() && f.group != group) continue;
    v1::BundleInfo info;
    info.set_hash(f.hash);
    info.set_group(f.group);
    info.set_version(f.version);
    info.set_failure(f.reason);
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
  std::vector<v1::BundleInfo> removed;  // bundles that had failed to restore
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
        v1::BundleInfo info;  // gone: no state
        info.set_hash(f.hash);
        info.set_group(f.group);
        info.set_version(f.version);
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
  for (v1::BundleInfo& info : outcome.unloaded) {
    bool gone = true;
    for (const auto& v : versions_) {
      if (v->hash == info.hash()) {
        info = Info(*v);  // still draining
        gone = false;
      }
    }
    if (gone) {
      info.set_state(v1::BUNDLE_STATE_UNSPECIFIED);
      for (v1::ManagedActor& actor : *info.mutable_actors()) {
        if (actor.state() == v1::MANAGED_ACTOR_STATE_RUNNING) {
          actor.set_state(v1::MANAGED_ACTOR_STATE_EXITED);
        }
      }
    }
  }
  for (v1::BundleInfo& info : removed) outcome.unloaded.push_back(std::move(info));
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
  troupe::MutexLock lock(&mu_);
  for (auto& v : versions_) {
    // Code that may still run is never unmapped: a leak, not a crash.
    LogWarning("hosting: ", v->Name(), " did not drain before shutdown; its libraries stay loaded");
    (void)v->code.release();
    (void)system_->RequestExit(v->supervisor);
  }
  versions_.clear();
  // A clean exit: the next start does not count it (see DetectUncleanExit).
  if (fault_record_ >= 0) {
    (void)ReleaseFaultRecord(fault_record_);
    ::close(fault_record_);
    fault_record_ = -1;
  }
  if (marked_running_ && !crashed_) ::unlink(RunningPath().c_str());
}

// ---------------------------------------------------------------------------
// Queries

std::vector<v1::BundleInfo> HostCore::List(std::string_view group) const {
  std::vector<const Version*> chosen;
  troupe::MutexLock lock(&mu_);
  for (const auto& v : versions_) {
    if (v->state == VersionState::kLoading) continue;
    if (!group.empty() && v->group != group) continue;
    chosen.push_back(v.get());
  }
  std::sort(chosen.begin(), chosen.end(), [](const Version* a, const Version* b) {
    if (a->group != b->group) return a->group < b->group;
    int order = bundle::CompareVersions(a->version, b->version);
    if (order != 0) return order < 0;
    return a->id < b->id;
  });
  std::vector<v1::BundleInfo> out;
  for (const Version* v : chosen) out.push_back(Info(*v));
  return out;
}

absl::StatusOr<std::vector<v1::ManagedActor>> HostCore::Role(std::string_view role,
                                                             std::string_view group) const {
  std::vector<v1::ManagedActor> out;
  troupe::MutexLock lock(&mu_);
  std::vector<const Version*> active;
  for (const auto& v : versions_) {
    if (v->state == VersionState::kActive && (group.empty() || v->group == group)) {
      active.push_back(v.get());
    }
  }
  std::sort(active.begin(), active.end(),
            [](const Version* a, const Version* b) { return a->group < b->group; });
  for (const Version* v : active) {
    for (const Slot& slot : v->slots) {
      if (slot.spec.role() == role) out.push_back(Managed(slot));
    }
  }
  if (out.empty()) {
    return absl::NotFoundError(
        group.empty() ? troupe::StrCat("no actor plays role '", role, "' in any active bundle")
                      : troupe::StrCat("no actor plays role '", role,
                                       "' in the active version of group '", group, "'"));
  }
  return out;
}

absl::StatusOr<ActorRef> HostCore::CreateActor(std::string_view group, std::string_view class_name,
                                               const runtime::CreateOptions& options) {
  // options.requirements_json is a manifest-style array; checked like a
  // manifest's, then handed to the class's own check in the object form.
  TROUPE_ASSIGN_OR_RETURN(
      const Requirements requirements,
      ParseRequirementsArray(options.requirements_json,
                             troupe::StrCat("requirements for actor class '", class_name, "'")));
  troupe::MutexLock lock(&mu_);
  if (shut_down_) return absl::FailedPreconditionError("the bundle host has shut down");
  Version* v = ActiveOf(group);
  if (v == nullptr) {
    for (const auto& other : versions_) {
      if (other->group == group && other->state != VersionState::kLoading) {
        return absl::FailedPreconditionError(
            troupe::StrCat("group '", group, "' has no active version (it is being unloaded)"));
      }
    }
    return absl::NotFoundError(troupe::StrCat("no bundle of group '", group, "' is loaded"));
  }
  const troupe_plugin_v1_t* library = v->LibraryFor(class_name);
  if (library == nullptr) {
    return absl::NotFoundError(troupe::StrCat(v->Name(), " has no actor class '", class_name,
                                              "' (its libraries export: ", v->ExportedClasses(),
                                              ")"));
  }
  if (absl::Status fits = CheckRequirements(requirements, system_->CapabilitiesJson());
      !fits.ok()) {
    return absl::Status(fits.code(),
                        troupe::StrCat(v->Name(), ": actor class '", class_name,
                                       "' cannot run on this node: ", StatusText(fits)));
  }
  runtime::CreateOptions create = options;
  create.requirements_json = RequirementsJson(requirements);
  create.library = library;
  if (!create.parent) create.parent = v->supervisor;  // so it drains with the version
  return system_->CreateActor(class_name, create);
}

BundleHost::ActorOrigin HostCore::OriginOf(std::string_view address) const {
  BundleHost::ActorOrigin origin;
  if (address.empty()) return origin;
  troupe::MutexLock lock(&mu_);
  for (const auto& v : versions_) {
    for (const Slot& slot : v->slots) {
      if (slot.address == address) {
        origin.bundle = v->Name();
        origin.role = slot.spec.role();
        origin.restarts = slot.restarts;
        return origin;
      }
    }
  }
  absl::StatusOr<ActorRef> actor = system_->ParseAddress(address);
  if (!actor.ok() || (*actor)->actor_class() == nullptr) return origin;
  const void* library = (*actor)->actor_class()->library();
  if (library == nullptr) return origin;
  for (const auto& v : versions_) {
    for (const auto& lib : v->code->libraries()) {
      if (&lib->plugin() == library) {
        origin.bundle = v->Name();
        return origin;
      }
    }
  }
  return origin;
}

// ---------------------------------------------------------------------------
// BundleHost

struct BundleHost::Impl {
  std::shared_ptr<HostCore> core;
  troupe::Mutex observer_mu;
  std::function<void()> bundles_observer ABSL_GUARDED_BY(observer_mu);

  // Tells the observer; returns `result`.
  template <typename T>
  T Changed(T result) {
    troupe::MutexLock lock(&observer_mu);
    if (bundles_observer) bundles_observer();
    return result;
  }
};

BundleHost::BundleHost(runtime::ActorSystem* system, HostOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->core = std::make_shared<HostCore>(system, std::move(options));
}

BundleHost::~BundleHost() { Shutdown(); }

std::vector<std::string> BundleHost::Restore() { return impl_->Changed(impl_->core->Restore()); }

std::vector<std::string> BundleHost::RestoreCleanup() const {
  return impl_->core->RestoreCleanup();
}

std::vector<v1::BundleInfo> BundleHost::NotRestored(std::string_view group) const {
  return impl_->core->NotRestored(group);
}

void BundleHost::CrashForTest() { impl_->core->CrashForTest(); }

absl::StatusOr<LoadOutcome> BundleHost::LoadFile(const std::string& path) {
  const HostCore& core = *impl_->core;
  return impl_->Changed(
      impl_->core->Load(bundle::VerifyBundleFile(path, core.trust(), core.limits())));
}

absl::StatusOr<LoadOutcome> BundleHost::LoadBytes(std::string bytes) {
  const HostCore& core = *impl_->core;
  return impl_->Changed(impl_->core->Load(
      bundle::VerifyBundle(std::move(bytes), "uploaded bundle", core.trust(), core.limits())));
}

absl::StatusOr<UnloadOutcome> BundleHost::Unload(std::string_view target) {
  return impl_->Changed(impl_->core->Unload(target));
}

void BundleHost::SetBundlesObserver(std::function<void()> observer) {
  troupe::MutexLock lock(&impl_->observer_mu);
  impl_->bundles_observer = std::move(observer);
}

std::vector<v1::BundleInfo> BundleHost::List(std::string_view group) const {
  return impl_->core->List(group);
}

absl::StatusOr<std::vector<v1::ManagedActor>> BundleHost::Role(std::string_view role,
                                                               std::string_view group) const {
  return impl_->core->Role(role, group);
}

absl::StatusOr<runtime::ActorRef> BundleHost::CreateActor(std::string_view group,
                                                          std::string_view class_name,
                                                          const runtime::CreateOptions& options) {
  return impl_->core->CreateActor(group, class_name, options);
}

absl::StatusOr<std::string> BundleHost::StoredBundlePath(std::string_view hash) const {
  for (const v1::BundleInfo& info : List()) {
    if (info.hash() == hash) return impl_->core->CopyPath(hash);
  }
  return absl::NotFoundError(
      troupe::StrCat("no bundle with source hash ", hash, " is loaded here"));
}

BundleHost::ActorOrigin BundleHost::OriginOf(std::string_view address) const {
  return impl_->core->OriginOf(address);
}

void BundleHost::Shutdown() { impl_->core->Shutdown(); }

}  // namespace troupe::hosting
