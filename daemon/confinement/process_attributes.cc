// process_attributes.cc - parent-death signal, no_new_privs, thread count
// (see process_attributes.h).
#include "daemon/confinement/process_attributes.h"

#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>

#include "daemon/common/posix_io.h"
#include "daemon/common/strings.h"

namespace troupe::confinement {

absl::Status DieWithParent(pid_t expected_parent) {
  if (expected_parent <= 0) {
    return absl::InvalidArgumentError(
        StrCat("parent death signal: ", expected_parent, " is not a parent pid"));
  }
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) {
    return ErrnoError(errno, "parent death signal", "prctl(PR_SET_PDEATHSIG)");
  }
  int signal = 0;
  if (::prctl(PR_GET_PDEATHSIG, &signal, 0, 0, 0) != 0) {
    return ErrnoError(errno, "parent death signal", "prctl(PR_GET_PDEATHSIG)");
  }
  if (signal != SIGKILL) {
    return absl::InternalError(
        StrCat("parent death signal: the kernel reports signal ", signal, " instead of SIGKILL"));
  }
  // Checked after the request: a parent that ends from now on kills us, one
  // that ended before left us with another parent.
  const pid_t parent = ::getppid();
  if (parent != expected_parent) {
    return absl::FailedPreconditionError(StrCat("parent death signal: parent ", expected_parent,
                                                " has ended (the parent is now ", parent, ")"));
  }
  return absl::OkStatus();
}

absl::Status ForbidNewPrivileges() {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return ErrnoError(errno, "no_new_privs", "prctl(PR_SET_NO_NEW_PRIVS)");
  }
  const int set = ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  if (set != 1) {
    return absl::InternalError(
        StrCat("no_new_privs: the kernel reports ", set, " after setting it"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> CountThreads() {
  constexpr char kTasks[] = "/proc/self/task";
  DIR* dir = ::opendir(kTasks);
  if (dir == nullptr) {
    return absl::InternalError(StrCat(kTasks, ": cannot open: ", ErrnoText(errno)));
  }
  int threads = 0;
  errno = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++threads;
  }
  const int read_error = errno;
  ::closedir(dir);
  if (read_error != 0) {
    return absl::InternalError(StrCat(kTasks, ": cannot read: ", ErrnoText(read_error)));
  }
  return threads;
}

absl::Status RequireSingleThread(const char* step) {
  absl::StatusOr<int> threads = CountThreads();
  if (!threads.ok()) return threads.status();
  if (*threads != 1) {
    return absl::FailedPreconditionError(
        StrCat(step, ": the process has ", *threads,
               " threads; this step confines the calling thread only, so it must run before any "
               "other thread starts"));
  }
  return absl::OkStatus();
}

}  // namespace troupe::confinement
