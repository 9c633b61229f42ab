// bundle_host.h - the bundles a running daemon hosts: verify, store, load,
// activate, drain, unload, restore after a restart, and keep the actors of
// the active versions running (the manifest's TLI actions).
//
// Model (docs/daemon.md has the user's view):
// - Loading verifies the bundle against the trusted keys (re-read on every
//   load), copies it to <TROUPE_DIR>/loaded/<hash>.troupe, opens its
//   libraries (loader::LoadedBundle), creates one actor per manifest ActorSpec
//   as a child of the version's supervisor, sends each its on_load actions and
//   waits until every actor has handled them (a runtime Sync barrier). Any
//   failure (create or action) unloads the new version, leaves the previous one
//   active and reports which actor failed and why.
// - The new version becomes active: its global names are bound to its actors
//   (ActorSystem::BindGlobalName), roles resolve to them, CreateActor for the
//   group uses its library. The previous active version gets its on_deactivate
//   actions; with AutoUnload {enabled: true} (or keep_loaded exceeded) it then
//   drains: each actor gets an exit request queued behind its mail, and the
//   libraries are closed once every actor has exited (or drain_timeout passed,
//   then the bundle stays listed as draining and unload is retried later).
// - Unloading the active version reactivates the highest remaining version
//   (Version ordering of daemon/bundle/version.h) and sends its on_reactivate
//   actions.
// - An actor of the active version that exits without being asked is created
//   again (new address, names rebound, on_load actions sent again), at most
//   restart_limit times within restart_window; then it stays down and List
//   says so with the reason.
// - The loaded set (hash, active or not, in load order) is written to
//   <TROUPE_DIR>/loaded/state after every change (write + rename), before
//   anything of the previous set is deleted, so a crash at any point leaves
//   a state that restores the old or the new set; Restore() loads it again at
//   startup (and rewrites it only once it is done). A load whose state cannot
//   be written fails and is undone.
//
// Thread-safe: every public method may be called from any thread; loads and
// unloads are serialized. Made for a threaded ActorSystem; with a
// deterministic one, the blocking calls step the system while they wait.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/bundle/isolation.h"
#include "daemon/bundle/limits.h"
#include "daemon/common/clock.h"
#include "daemon/common/mutex.h"
#include "daemon/hosting/bundle_info.h"
#include "daemon/runtime/actor_system.h"

namespace troupe::isolation {
class LocalMembers;
}

namespace troupe::hosting {

// Test-only: what a step of a load does (see HostOptions::fault_for_test).
struct LoadStepFault {
  bool crash = false;    // the process dies just before the step
  int error_number = 0;  // else, when not 0: the step fails with this errno (e.g. ENOSPC)
};

// restart_window is measured on `clock`; load_timeout and drain_timeout bound
// how long a call blocks and are real time (like ActorSystem::Ask).
struct HostOptions {
  std::string troupe_dir;    // keys/trusted, loaded/ live here
  std::string library_root;  // private (0700) directory for extracted libraries;
                             // empty: <troupe_dir>/loaded/code
  uint32_t restart_limit = 5;
  absl::Duration restart_window = absl::Seconds(60);
  // How long Load (auto-unload), Unload and Shutdown wait for drained actors.
  absl::Duration drain_timeout = absl::Seconds(30);
  // How long Load waits for a new version's on_load actions to be handled.
  absl::Duration load_timeout = absl::Seconds(30);
  Clock* clock = nullptr;  // nullptr: the real clock
  bundle::Limits limits;   // what a bundle may not exceed (config: BundleLimits())
  // Where a version runs when neither its signer's trust entry nor its
  // manifest decides (config: isolation_default; bundle::EffectiveIsolation).
  bundle::Isolation isolation_default = bundle::Isolation::kInline;
  // How isolated hosts are confined (config: IsolatedHosts()).
  bundle::IsolatedHostLimits isolated_hosts;
  // Where isolated hosts run (docs/isolation.md): the routing of the node's
  // id slots (the system's local members) and the troupe-host program. A
  // host without them refuses versions that must run isolated.
  isolation::LocalMembers* local_members = nullptr;
  std::string host_program;
  // Called by Restore before each recorded bundle is restored, with its name
  // ("hello 1.0 (0123456789abcdef)"); e.g. to extend a start-up timeout.
  std::function<void(std::string_view bundle_name)> on_restore_progress;
  // Test-only fault injection; unset in production. Called before each step
  // of a load (or of recording the state) that changes TROUPE_DIR, with its
  // name: "write copy", "rename copy", "extract code", "write state",
  // "rename state", "remove old copy". A crash makes the call
  // return AbortedError, and from then on the host changes nothing in
  // TROUPE_DIR (as if the process had died there; Shutdown still closes the
  // libraries, which removes their directories); a new host on the same
  // TROUPE_DIR then plays the restarted daemon.
  std::function<LoadStepFault(std::string_view step)> fault_for_test;
};

// What a load did (BundleInfo and the rest are hosting's own structs,
// bundle_info.h; the services map them to protos).
struct LoadOutcome {
  BundleInfo bundle;
  bool already_loaded = false;
  std::vector<std::string> changes;  // "activated hello 2.0", ...
};

struct UnloadOutcome {
  std::vector<BundleInfo> unloaded;
  std::vector<std::string> changes;
};

// Installs troupd's handler of fatal signals (SIGSEGV, SIGBUS, SIGILL,
// SIGFPE, SIGABRT; SA_ONSTACK, SA_RESETHAND). When one hits a thread while it
// runs a bundle's code (runtime::CurrentBundleCode), by a fault of that thread
// or sent by the process itself (abort), the handler appends
// "fault <hash> <signal>" to the running mark of the host that ran Restore
// last (see Restore); then the signal takes its default action (core dump,
// death) as without the handler. Process-wide: troupd calls it once at
// start-up; tests that host bundles do not need it.
absl::Status InstallFaultHandler();

class BundleHost {
 public:
  // `system` must outlive the host.
  BundleHost(runtime::ActorSystem* system, HostOptions options);
  ~BundleHost();  // Shutdown() if not done
  BundleHost(const BundleHost&) = delete;
  BundleHost& operator=(const BundleHost&) = delete;

  // Loads every bundle recorded in <TROUPE_DIR>/loaded/state, in load order,
  // re-verifying each; the recorded active version of each group ends up
  // active. A bundle that fails now (requirements that do not hold yet, a key
  // no longer trusted, a timeout, ...) is logged and reported in the returned
  // list of problems ("hello 1.0 (0123456789abcdef) was not restored: why...");
  // the others still load. It is not listed, but its stored copy and its place
  // in the state are kept (across later loads and unloads), so the next start
  // tries again; while it failed, another version of its group stands in (and
  // is recorded inactive) until a new version of the group is loaded. Unload
  // removes it for good. Only a bundle whose stored copy is gone is dropped.
  //
  // Before that it removes what interrupted loads and unloads left behind
  // (stored copies and library directories no state line names, partial
  // "*.tmp" files): see RestoreCleanup. And it holds back a bundle whose code
  // faulted (InstallFaultHandler) twice within restart_window, killing the
  // daemon each time (crash-loop protection, see docs/daemon.md "Crash
  // loops"): it is reported, not loaded, and listed by NotRestored with the
  // reason, until it is loaded again or unloaded.
  // A host that ran Restore marks TROUPE_DIR as running until Shutdown, and
  // keeps the mark open for the fault handler; a start that finds the mark
  // charges each fault recorded in it to its bundle. An unclean exit without
  // one (kill -9, out of memory, power loss) charges nothing.
  std::vector<std::string> Restore();

  // What the last Restore removed ("removed <path> (<what it was>)"), for
  // the daemon's log (also logged here as warnings).
  std::vector<std::string> RestoreCleanup() const;

  // The recorded bundles of `group` (all when empty) that run nothing: they
  // failed to restore or are held back after crashes. State kNone,
  // `failure` says why; in state-file order.
  std::vector<BundleInfo> NotRestored(std::string_view group = {}) const;

  // FailedPrecondition when verification fails or an on_load action fails
  // (also: requirements that do not hold here, a hash still draining, after
  // Shutdown); DeadlineExceeded when on_load actions take over load_timeout;
  // NotFound for a missing file; InvalidArgument for a file that is no bundle;
  // A version that must run isolated (its signer is trusted --isolated, its
  // manifest or isolation_default says process) runs in a host process
  // (HostOptions::local_members, host_program; Unavailable or
  // DeadlineExceeded when that host does not start); Unimplemented, with
  // nothing of it stored, when this host has no host program.
  // Returns after older versions that AutoUnload drains have gone (or
  // drain_timeout passed).
  absl::StatusOr<LoadOutcome> LoadFile(const std::string& path);
  absl::StatusOr<LoadOutcome> LoadBytes(std::string bytes);

  // `target`: a source hash (or a unique prefix of at least 8 hex digits), a
  // group (every version) or GROUP-VERSION. NotFound when nothing matches;
  // InvalidArgument for a prefix several bundles share. A bundle that failed to
  // restore (see Restore) matches too: it is removed from the state, its copy
  // deleted, and it is returned with state kNone ("removed hello 1.0 (...) (it
  // had failed to restore)"). Waits up to
  // drain_timeout; an unloaded bundle is returned with state kDraining when it
  // had not finished by then, else with state kNone (gone; its running actors
  // reported kExited).
  absl::StatusOr<UnloadOutcome> Unload(std::string_view target);

  // Loaded bundles of `group` (all when empty), by group, versions in version order.
  std::vector<BundleInfo> List(std::string_view group = {}) const;
  // Called after every Restore, LoadFile, LoadBytes and Unload, whatever
  // its outcome (how the convention tells the others at once which bundles
  // this daemon has), on the calling thread with no lock of the host held;
  // it must not block. The last registration wins; an empty one clears it.
  void SetBundlesObserver(std::function<void()> observer);

  // The managed actors playing `role` in the active version of `group` (of
  // every group when empty). NotFound when none.
  absl::StatusOr<std::vector<ManagedActor>> Role(std::string_view role,
                                                 std::string_view group = {}) const;

  // Creates an actor of `class_name` from the active version of `group`.
  // Without options.parent its parent is the version's supervisor. Either way
  // it is asked to exit when the version drains (its code goes away).
  // options.requirements: FailedPrecondition naming the first one this
  // node's capabilities do not meet; then the class's own capability check
  // gets them in the object form (runtime::RequirementsObjectJson), as for
  // manifest actors.
  // NotFound for an unknown group or a class the version does not have.
  absl::StatusOr<runtime::ActorRef> CreateActor(std::string_view group, std::string_view class_name,
                                                const runtime::CreateOptions& options);

  // The stored file (signed, as loaded) of the loaded version with source
  // hash `hash`, e.g. for a convention peer that fetches it. NotFound when no
  // loaded version has that hash.
  absl::StatusOr<std::string> StoredBundlePath(std::string_view hash) const;

  // The bundle ("group version") and role of a managed actor, for status.
  struct ActorOrigin {
    std::string bundle;
    std::string role;
    uint32_t restarts = 0;
  };
  // For another live actor whose class comes from a loaded version (made by
  // CreateActor or by its actors) only `bundle` is set. Empty fields for an
  // actor that has nothing to do with a loaded bundle.
  ActorOrigin OriginOf(std::string_view address) const;

  // Sends on_deactivate to every active version, drains every actor (up to
  // drain_timeout) and closes the libraries. The persisted state is kept, so
  // the next start restores the same set; the running mark is removed (a
  // clean exit). Idempotent.
  void Shutdown();

  // Called from a host process's watcher thread when the host of an
  // isolated version ended, after its actors were reported gone (LocalMember
  // Lost): its slot of ids [first, limit) and why, naming the version
  // ("bundle 'hello' version '1.0': host process killed by signal 11
  // (SIGSEGV)"), e.g. to fail the asks waiting on its actors. It must not
  // block. The last registration wins.
  using HostLostFn =
      std::function<void(uint64_t first, uint64_t limit, const std::string& reason)>;
  void SetHostLostObserver(HostLostFn observer);

  // Test-only: from now on the host changes nothing in TROUPE_DIR, as after
  // the death of the process (see HostOptions::fault_for_test); loads and
  // unloads fail.
  void CrashForTest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace troupe::hosting
