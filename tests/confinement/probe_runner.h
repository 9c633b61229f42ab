// probe_runner.h - runs confinement_probe (probe.cc) and collects what it
// printed and how it ended, for the confinement tests.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/common/command_result.h"

// Whether this build runs under AddressSanitizer or ThreadSanitizer (the
// probe is built the same way). Both reserve terabytes of address space at
// start, so an RLIMIT_AS the tests could set would break the sanitizer first.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TROUPE_TEST_SANITIZER_RESERVES_MEMORY 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TROUPE_TEST_SANITIZER_RESERVES_MEMORY 1
#endif
#endif
#ifndef TROUPE_TEST_SANITIZER_RESERVES_MEMORY
#define TROUPE_TEST_SANITIZER_RESERVES_MEMORY 0
#endif

namespace troupe::confinement::testing {

// How a probe ended and what it printed.
struct ProbeResult {
  bool exited = false;  // ended by exit; else by `signal`
  int exit_code = -1;
  int signal = 0;
  std::string out;
  std::string err;

  bool Has(const std::string& line) const { return troupe::testing::HasLine(out, line); }
  bool Killed(int by) const { return !exited && signal == by; }
};

inline std::ostream& operator<<(std::ostream& os, const ProbeResult& r) {
  if (r.exited) {
    os << "exit " << r.exit_code;
  } else {
    os << "signal " << r.signal << " (" << ::strsignal(r.signal) << ")";
  }
  return os << "\n--- stdout\n" << r.out << "--- stderr\n" << r.err;
}

// Runs the probe with `args` (stdin /dev/null) and waits until it ended and
// both of its output pipes are closed (by it and by any probe it started).
inline ProbeResult RunProbe(const std::vector<std::string>& args) {
  ProbeResult result;
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << ::strerror(errno);
    return result;
  }
  std::vector<std::string> all = {TROUPE_CONFINEMENT_PROBE};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ADD_FAILURE() << "posix_spawn " << argv[0] << ": " << ::strerror(rc);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return result;
  }
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* texts[2] = {&result.out, &result.err};
  int open_pipes = 2;
  while (open_pipes > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      ADD_FAILURE() << "poll: " << ::strerror(errno);
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        texts[i]->append(buffer, n);
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_pipes;
      }
    }
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) {
    ADD_FAILURE() << "waitpid: " << ::strerror(errno);
    return result;
  }
  result.exited = WIFEXITED(status);
  result.exit_code = result.exited ? WEXITSTATUS(status) : -1;
  result.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return result;
}

// The N of "<prefix>the process has N threads..." in `result`'s output, or 0.
// (ThreadSanitizer adds a thread of its own to the ones the probe starts.)
inline int ThreadsInRefusal(const ProbeResult& result, const std::string& prefix) {
  for (const std::string& line : troupe::testing::Lines(result.out)) {
    int threads = 0;
    if (line.rfind(prefix, 0) == 0 &&
        std::sscanf(line.c_str() + prefix.size(), "the process has %d threads", &threads) == 1) {
      return threads;
    }
  }
  return 0;
}

// The probe's line for a refused operation.
inline std::string Refused(const std::string& op, const std::string& errno_name = "EPERM") {
  return op + ": errno " + errno_name;
}

}  // namespace troupe::confinement::testing
