// confinement_policy.h - what an isolated host applies to itself, all at
// once, before it loads any bundle code. Read this first; the steps are in
// process_attributes.h, resource_limits.h, run_as_user.h, file_access.h and
// syscall_filter.h, and docs/isolation.md says what is confined and what is
// not.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/confinement/file_access.h"
#include "daemon/confinement/resource_limits.h"
#include "daemon/confinement/syscall_filter.h"

namespace troupe::confinement {

struct ConfinementPolicy {
  // troupd's pid: the host is killed when troupd ends. Required.
  pid_t parent = 0;
  ResourceLimits limits;
  // The user the host runs as when it starts as root (isolated_user);
  // ignored otherwise (the host keeps troupd's user).
  std::string user = "nobody";
  // Landlock: what the host may still read (the bundle's data directory and
  // the libraries it loads) and write. The paths are opened after the change
  // of user, so `user` must be able to reach them.
  FileAccess files;
  // When true a kernel without Landlock is an error; when false it is
  // reported in ConfinementReport::skipped and reads stay open (writes are
  // still refused by the syscall filter).
  bool require_landlock = false;
  RefusedSyscallAction on_refused_syscall = RefusedSyscallAction::kFailWithEperm;
};

// What ApplyAll did, for the host's log.
struct ConfinementReport {
  // One line per optional step that was skipped, with the reason, e.g.
  // "landlock: landlock unavailable: ...". Empty when everything applied.
  std::vector<std::string> skipped;
  int landlock_abi = 0;              // the Landlock ABI applied; 0 when none
  bool user_changed = false;         // RunAsUser ran (the host started as root)
  bool file_writes_allowed = false;  // opens for writing pass the syscall filter
};

// Applies `policy` to the calling process, in this order: parent-death
// signal; rlimits, then the user (both while still root); the parent-death
// signal again (a change of user clears it) and the parent checked once
// more; no_new_privs; Landlock; the syscall filter last (it refuses the
// calls of the steps before it). Every step is required except Landlock
// when `require_landlock` is false and the kernel lacks it, and the user
// when the process is not root; those are listed in `skipped`.
//
// The process must be single-threaded (no_new_privs and Landlock confine the
// calling thread): FailedPreconditionError otherwise, before any change.
// Any error leaves the process partly confined; the caller must log it and
// exit without running bundle code (fail closed).
absl::StatusOr<ConfinementReport> ApplyAll(const ConfinementPolicy& policy);

}  // namespace troupe::confinement
