// child_process.h - the pieces troupd's supervisors of child processes share
// (the HTTP API process, isolated hosts): watching a child with a pidfd,
// waiting in poll(2), and the text of how a child ended.
#pragma once

#include <poll.h>
#include <spawn.h>
#include <sys/types.h>

#include <string>

#include "absl/time/time.h"

namespace troupe {

// Initializes `attr` for a child troupd supervises: it starts with no signal
// blocked (troupd blocks SIGTERM/SIGINT for its sigwait thread) and in its
// own process group (a terminal's Ctrl-C reaches troupd, which stops it).
// The caller destroys it.
void InitChildSpawnAttributes(posix_spawnattr_t* attr);

// pidfd_open(2) of `pid`: readable once the child has exited. -1 (errno set)
// when the kernel cannot give one.
int PidfdOpen(pid_t pid);

// How a child ended, from its wait status: "exited with code 3", "was killed
// by signal 11 (SIGSEGV)".
std::string WaitStatusText(int wait_status);

// poll(2) on `fds` for at most `timeout` (InfiniteDuration: no limit),
// retrying after EINTR. Returns poll's result.
int PollFor(pollfd* fds, nfds_t n, absl::Duration timeout);

}  // namespace troupe
