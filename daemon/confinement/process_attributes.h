// process_attributes.h - the small per-process confinement steps of an
// isolated host: die with the parent, never gain privileges again, and the
// thread count that the per-thread steps (Landlock, no_new_privs) depend on.
// Each function changes only the calling process and never aborts.
#pragma once

#include <sys/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace troupe::confinement {

// Asks the kernel to SIGKILL this process when its parent ends
// (PR_SET_PDEATHSIG), then checks that the parent is still `expected_parent`:
// FailedPreconditionError when it ended before the request took effect (the
// process has been re-parented). InvalidArgumentError when `expected_parent`
// is not a pid. A change of user (RunAsUser) clears the request: make it
// again afterwards (ApplyAll does).
absl::Status DieWithParent(pid_t expected_parent);

// Sets no_new_privs (PR_SET_NO_NEW_PRIVS) and checks it is set: execve can no
// longer grant privileges (set-user-ID bits, file capabilities), and Landlock
// and seccomp may be applied without CAP_SYS_ADMIN. Irreversible. Inherited
// by threads started later, not by threads that exist already.
absl::Status ForbidNewPrivileges();

// The number of threads of this process (entries of /proc/self/task).
// InternalError naming the directory when /proc cannot be read.
absl::StatusOr<int> CountThreads();

// OK when the process has exactly one thread; otherwise
// FailedPreconditionError naming `step`, which applies to the calling thread
// only and must therefore run before any other thread starts.
absl::Status RequireSingleThread(const char* step);

}  // namespace troupe::confinement
