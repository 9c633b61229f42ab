// host_core.h - private to daemon/hosting: the state of a BundleHost (its
// versions, their slots and supervisors, what failed to restore) and the
// HostCore that does the work; BundleHost (bundle_host.cc) is its thread-safe
// front. Split by job: host_core.cc (bookkeeping, disk steps, the crash
// record), supervision.cc (supervisors, starting managed actors,
// activation), drain.cc, load.cc, isolated_load.cc (versions that must run
// isolated), restore_unload.cc (restore, unload, shutdown), bundle_host.cc
// (queries and the front).
#pragma once

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
#include "daemon/bundle/isolation.h"
#include "daemon/bundle/keys.h"
#include "daemon/bundle/version.h"
#include "daemon/common/logging.h"
#include "daemon/common/status_macros.h"
#include "daemon/common/strings.h"
#include "daemon/hosting/bundle_host.h"
#include "daemon/hosting/crash_record.h"
#include "daemon/hosting/leftovers.h"
#include "daemon/hosting/loaded_state.h"
#include "daemon/hosting/requirements.h"
#include "daemon/hosting/unload_target.h"
#include "daemon/isolation/isolated_host.h"
#include "daemon/loader/bundle_loader.h"
#include "daemon/runtime/actor_class.h"
#include "daemon/runtime/addresses.h"
#include "troupe/abi.h"
#include "troupe/wire.h"

namespace troupe::hosting {

namespace fs = std::filesystem;
using runtime::ActorRef;
using runtime::Cell;
using runtime::Message;

// How often a drain wait looks for actors that exited without telling the
// supervisor (e.g. ones the host did not create).
inline constexpr absl::Duration kDrainPoll = absl::Milliseconds(50);
inline constexpr std::string_view kSupervisorClass = "troupe.BundleSupervisor";

inline std::string_view StatusText(const absl::Status& status) {
  return {status.message().data(), status.message().size()};
}

// One manifest ActorSpec of one loaded version: the actor the host keeps.
struct Slot {
  troupe::v1::ActorSpec spec;
  const troupe_plugin_v1_t* library = nullptr;  // the version's library exporting the class
  runtime::Requirements requirements;  // the spec's, converted at load
  ActorRef actor;  // the current instance (null until created)
  std::string address;
  absl::Time started_at;
  uint32_t restarts = 0;
  std::deque<absl::Time> recent_restarts;  // within restart_window
  ManagedActorState state = ManagedActorState::kRunning;
  std::string last_exit;
  bool exit_requested = false;  // the host asked it to exit: not a failure
  // While the version loads:
  bool settled = false;       // its on_load actions were handled, or it is gone
  std::string failure;        // why it cannot serve (create failure, exit)
  std::string failed_action;  // the first on_load action that failed ...
  std::string action_error;   // ... and why
};

enum class VersionState { kLoading, kActive, kInactive, kDraining };

// The code of a version that runs isolated (isolated_load.cc): its
// libraries as sealed memfds (each host started gets them) and its host
// process. A host that ended is replaced when an actor of the version is
// started again (StartSlot); an ended host is kept in `retired` until the
// version closes, because its own watcher thread reports its end and it is
// never destroyed from there, nor under HostCore::mu_ (its destructor waits
// for that report, which takes mu_).
struct IsolatedCode {
  IsolatedCode() = default;
  IsolatedCode(const IsolatedCode&) = delete;
  IsolatedCode& operator=(const IsolatedCode&) = delete;
  ~IsolatedCode() {
    host.reset();
    retired.clear();
    for (const isolation::HostLibraryFile& library : libraries) ::close(library.fd);
  }
  std::vector<isolation::HostLibraryFile> libraries;  // deps first; owned descriptors
  std::unique_ptr<isolation::IsolatedHost> host;      // the current one
  std::vector<std::unique_ptr<isolation::IsolatedHost>> retired;
  uint32_t restarts = 0;  // hosts started after the first
  std::vector<std::string> classes;  // what the first host said it has (HostReady)
  // Of the last host that ended (OnHostEnded).
  std::string last_end;
  std::vector<std::string> last_stderr;
};

// One loaded version of a group.
struct Version {
  uint64_t id = 0;  // load sequence number
  std::string hash;
  std::string group;
  std::string version;
  std::string key_id;
  troupe::v1::Manifest manifest;
  bundle::IsolationDecision isolation;  // decided at load
  absl::Time loaded_at;
  std::unique_ptr<loader::LoadedBundle> code;  // inline: the opened libraries
  std::unique_ptr<IsolatedCode> isolated;       // isolated: the host process
  std::vector<const troupe_plugin_v1_t*> registered;  // not yet unregistered
  ActorRef supervisor;  // parent of the slots' actors; hears their exits
  std::vector<Slot> slots;
  VersionState state = VersionState::kLoading;
  absl::flat_hash_set<uint64_t> stragglers_asked;  // other live actors asked to exit

  std::string Name() const { return troupe::StrCat(group, " ", version); }
  // The library of this version exporting `class_name`, or nullptr (always
  // for an isolated version: its libraries are open in its host only).
  const troupe_plugin_v1_t* LibraryFor(std::string_view class_name) const {
    if (code == nullptr) return nullptr;
    for (const auto& library : code->libraries()) {
      if (library->FindClass(class_name) != nullptr) return &library->plugin();
    }
    return nullptr;
  }
  // The classes its libraries export (for an isolated version, those its
  // host said it has).
  std::vector<std::string> Classes() const {
    std::vector<std::string> out;
    if (isolated != nullptr) return isolated->classes;
    if (code == nullptr) return out;
    for (const auto& library : code->libraries()) {
      for (std::string_view name : library->ClassNames()) out.emplace_back(name);
    }
    return out;
  }
  bool Exports(std::string_view class_name) const {
    if (code != nullptr) return LibraryFor(class_name) != nullptr;
    const std::vector<std::string> classes = Classes();
    return std::find(classes.begin(), classes.end(), class_name) != classes.end();
  }
  std::string ExportedClasses() const {
    std::string out;
    for (const std::string& name : Classes()) troupe::StrAppend(&out, out.empty() ? "" : ", ", name);
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
  std::vector<BundleInfo> NotRestored(std::string_view group) const;
  void CrashForTest() { crashed_ = true; }
  void SetHostLostObserver(BundleHost::HostLostFn observer) {
    troupe::MutexLock lock(&observer_mu_);
    host_lost_ = std::move(observer);
  }
  absl::StatusOr<LoadOutcome> Load(absl::StatusOr<bundle::VerifiedBundle> verified);
  // Where the stored copy of a loaded bundle lives.
  std::string CopyPath(std::string_view hash) const {
    return troupe::StrCat(loaded_dir_, "/", hash, bundle::kBundleSuffix);
  }
  absl::StatusOr<UnloadOutcome> Unload(std::string_view target);
  std::vector<BundleInfo> List(std::string_view group) const;
  absl::StatusOr<std::vector<ManagedActor>> Role(std::string_view role,
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
  // Opens the code of `v` in this process (loader::LoadedBundle) and
  // registers its libraries; what it opened stays in `v` for the caller to
  // undo on error.
  absl::Status OpenInline(const bundle::VerifiedBundle& verified, Version* v)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);
  // isolated_load.cc. Unimplemented, naming the version and why it must run
  // isolated, when this host has no isolated hosts (HostOptions::
  // local_members or host_program unset): checked before anything is stored.
  absl::Status CheckCanIsolate(const bundle::VerifiedBundle& verified,
                               const bundle::IsolationDecision& isolation) const;
  // Hands the verified libraries of `v` to a new host process and waits up
  // to load_timeout until it is ready; what it started stays in `v`.
  absl::Status OpenIsolated(const bundle::VerifiedBundle& verified, Version* v)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);
  // Starts a host for `v` (the first, or one after the last ended, which is
  // retired): it does not wait for the host to be ready.
  absl::Status SpawnHost(Version* v);
  // The live host of isolated `v`, started anew when the last one ended.
  absl::StatusOr<isolation::IsolatedHost*> LiveHost(Version* v) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Creates an actor of `class_name` in the host of isolated `v`.
  absl::StatusOr<ActorRef> CreateIsolated(Version* v, std::string_view class_name,
                                          const runtime::CreateOptions& options)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // From a host's watcher thread when it ended: records why for status and logs it.
  void OnHostEnded(uint64_t version_id, isolation::IsolatedHost* host, const std::string& reason,
                   const std::vector<std::string>& last_stderr);
  // Stops the hosts of closed isolated versions (never under mu_).
  static void StopHosts(std::vector<std::unique_ptr<IsolatedCode>> hosts);
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
  BundleInfo Info(const Version& v) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ManagedActor Managed(const Slot& slot) const;

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
  troupe::Mutex observer_mu_;
  BundleHost::HostLostFn host_lost_ ABSL_GUARDED_BY(observer_mu_);
};

}  // namespace troupe::hosting
