// child_process.cc - pidfds, poll and wait-status texts (child_process.h).
#include "daemon/common/child_process.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/common/strings.h"

namespace troupe {

void InitChildSpawnAttributes(posix_spawnattr_t* attr) {
  posix_spawnattr_init(attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(attr, &none);
  posix_spawnattr_setpgroup(attr, 0);
  posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
}

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

std::string WaitStatusText(int wait_status) {
  if (WIFEXITED(wait_status)) return troupe::StrCat("exited with code ", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    const char* name = ::sigabbrev_np(sig);
    return troupe::StrCat("was killed by signal ", sig, name != nullptr ? " (SIG" : "",
                          name != nullptr ? name : "", name != nullptr ? ")" : "");
  }
  return troupe::StrCat("ended with wait status ", wait_status);
}

int PollFor(pollfd* fds, nfds_t n, absl::Duration timeout) {
  const int ms = timeout == absl::InfiniteDuration()
                     ? -1
                     : static_cast<int>(absl::ToInt64Milliseconds(timeout));
  int rc;
  do {
    rc = ::poll(fds, n, ms);
  } while (rc < 0 && errno == EINTR);
  return rc;
}

}  // namespace troupe
