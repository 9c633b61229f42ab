// daemon_harness.h - the end-to-end fixture: a temporary TROUPE_DIR that
// trusts the build-tree key, the built troupd as a child process serving it,
// and the built director run against it. Paths come from compile
// definitions (tests/e2e/CMakeLists.txt).
//
// Nothing here sleeps: waiting for the daemon is bounded polling with gRPC
// connect deadlines plus waitpid(WNOHANG); waiting for its exit is a pidfd.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"
#include "tests/common/command_result.h"
#include "tests/common/temp_dir.h"
#include "troupe/v1/admin.grpc.pb.h"

extern char** environ;

namespace troupe::testing {

// A pidfd for `pid` (readable once it has exited), or -1.
inline int PidfdOpenForTest(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

// True once process `pid` has exited (also as an unreaped zombie of someone
// else), waiting at most `timeout`.
inline bool WaitForProcessExit(pid_t pid, std::chrono::milliseconds timeout) {
  const int fd = PidfdOpenForTest(pid);
  if (fd < 0) return errno == ESRCH;
  pollfd p{fd, POLLIN, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (rc < 0 && errno == EINTR);
  ::close(fd);
  return rc > 0;
}

// Environment of the children: ours without TROUPE_DIR (every command gets
// --dir).
inline std::vector<std::string> ChildEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string(*e).rfind("TROUPE_DIR=", 0) != 0) env.push_back(*e);
  }
  return env;
}

// Starts `argv` with stdin from /dev/null, stdout to `out` and stderr to
// `err` (appending). Returns the pid, or -1.
inline pid_t SpawnForTest(std::vector<std::string> argv, const std::string& out,
                          const std::string& err) {
  std::vector<std::string> env = ChildEnvironment();
  std::vector<char*> c_argv, c_env;
  for (std::string& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  for (std::string& e : env) c_env.push_back(e.data());
  c_env.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, c_argv[0], &actions, nullptr, c_argv.data(), c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

class DaemonHarness {
 public:
  // Makes <temp>/troupe (TROUPE_DIR) trusting the build-tree key, with a
  // short drain timeout so that stops stay quick.
  DaemonHarness() : root_("troupe_e2e") {
    dir_ = root_.path() + "/troupe";
    std::filesystem::create_directories(dir_ + "/config");
    std::filesystem::create_directories(bundles_dir());
    WriteFileForTest(dir_ + "/config/drain_timeout_seconds", "5\n");
    CommandResult trust = Director({"trust", TROUPE_BUILD_PUBLIC_KEY});
    EXPECT_EQ(trust.code, 0) << trust;
  }

  ~DaemonHarness() {
    if (daemon_pid_ > 0) {
      EXPECT_TRUE(StopDaemon());
    }
    // Daemons started by `director start` are not our children: make sure
    // none outlives the test, also one a failed test did not adopt.
    if (const pid_t serving = SocketPeerPid(); serving > 0) adopted_.push_back(serving);
    for (pid_t pid : adopted_) {
      if (!WaitForProcessExit(pid, std::chrono::milliseconds(0))) {
        ADD_FAILURE() << "troupd pid " << pid << " still runs at the end of the test; killing it";
        ::kill(pid, SIGKILL);
        WaitForProcessExit(pid, std::chrono::seconds(10));
      }
    }
  }

  DaemonHarness(const DaemonHarness&) = delete;
  DaemonHarness& operator=(const DaemonHarness&) = delete;

  const std::string& root() const { return root_.path(); }
  const std::string& dir() const { return dir_; }
  std::string bundles_dir() const { return dir_ + "/bundles"; }
  std::string socket() const { return dir_ + "/run/troupd.sock"; }
  pid_t daemon_pid() const { return daemon_pid_; }
  std::string DaemonLog() const { return ReadFileForTest(log_); }

  // Starts `troupd --dir dir() [extra_args]` (output appended to
  // <root>/troupd.log) and waits until Admin.Status answers on socket().
  ::testing::AssertionResult StartDaemon(const std::vector<std::string>& extra_args = {}) {
    ::testing::AssertionResult spawned = StartDaemonNoWait(extra_args);
    if (!spawned) return spawned;
    return WaitUntilAnswering(daemon_pid_, std::chrono::seconds(30));
  }

  // Starts troupd like StartDaemon without waiting for it to answer.
  ::testing::AssertionResult StartDaemonNoWait(const std::vector<std::string>& extra_args = {}) {
    if (daemon_pid_ > 0) return ::testing::AssertionFailure() << "troupd already started";
    log_ = root_.path() + "/troupd.log";
    std::vector<std::string> argv = {TROUPD_PATH, "--dir", dir_};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    daemon_pid_ = SpawnForTest(argv, log_, log_);
    if (daemon_pid_ < 0) return ::testing::AssertionFailure() << "cannot spawn " << TROUPD_PATH;
    return ::testing::AssertionSuccess();
  }

  // SIGTERM, then waits (at most 60 s; SIGKILL after that) and reaps it.
  // Success only for exit status 0.
  ::testing::AssertionResult StopDaemon() {
    if (daemon_pid_ <= 0) return ::testing::AssertionFailure() << "no troupd to stop";
    const pid_t pid = daemon_pid_;
    daemon_pid_ = -1;
    ::kill(pid, SIGTERM);
    bool killed = false;
    if (!WaitForProcessExit(pid, std::chrono::seconds(60))) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) {
      return ::testing::AssertionFailure() << "waitpid failed for troupd " << pid;
    }
    if (killed) {
      return ::testing::AssertionFailure()
             << "troupd did not exit within 60 s of SIGTERM; killed. Log:\n"
             << DaemonLog();
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return ::testing::AssertionFailure()
             << "troupd ended with wait status " << status << ". Log:\n"
             << DaemonLog();
    }
    return ::testing::AssertionSuccess();
  }

  // SIGKILL and reap: a crash, leaving the socket file behind.
  void KillDaemon() {
    ASSERT_GT(daemon_pid_, 0);
    ::kill(daemon_pid_, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(daemon_pid_, &status, 0), daemon_pid_);
    daemon_pid_ = -1;
  }

  // A troupd this test did not spawn (from `director start`): killed at
  // the end if it still runs.
  void Adopt(pid_t pid) { adopted_.push_back(pid); }

  // The pid of the process serving socket() (SO_PEERCRED), or -1.
  pid_t SocketPeerPid() const {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = socket();
    if (path.size() >= sizeof addr.sun_path) {
      ::close(fd);
      return -1;
    }
    std::memcpy(addr.sun_path, path.data(), path.size());
    pid_t pid = -1;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
      ucred cred{};
      socklen_t size = sizeof cred;
      if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &size) == 0) pid = cred.pid;
    }
    ::close(fd);
    return pid;
  }

  // Runs director with --dir dir() and `args`, in root().
  CommandResult Director(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {TROUPE_DIRECTOR_PATH, "--dir", dir_};
    argv.insert(argv.end(), args.begin(), args.end());
    return Run(argv);
  }

  // Runs the program argv[0] with `argv` and waits for it.
  CommandResult Run(std::vector<std::string> argv) const {
    const std::string out = root_.path() + "/.command.out";
    const std::string err = root_.path() + "/.command.err";
    std::filesystem::remove(out);
    std::filesystem::remove(err);
    CommandResult result;
    const pid_t pid = SpawnForTest(argv, out, err);
    int status = 0;
    if (pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) {
      result.code = WEXITSTATUS(status);
    }
    result.out = ReadFileForTest(out);
    result.err = ReadFileForTest(err);
    return result;
  }

  // Waits until Admin.Status answers on socket(), or `pid` exits, or
  // `bound` passes.
  ::testing::AssertionResult WaitUntilAnswering(pid_t pid, std::chrono::milliseconds bound) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 250);
    auto channel =
        grpc::CreateCustomChannel("unix:" + socket(), grpc::InsecureChannelCredentials(), args);
    auto admin = troupe::v1::Admin::NewStub(channel);
    const auto deadline = std::chrono::system_clock::now() + bound;
    while (std::chrono::system_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        daemon_pid_ = -1;
        return ::testing::AssertionFailure()
               << "troupd exited (wait status " << status << ") before answering. Log:\n"
               << DaemonLog();
      }
      const auto step =
          std::min(deadline, std::chrono::system_clock::now() + std::chrono::milliseconds(250));
      if (!channel->WaitForConnected(step)) continue;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      troupe::v1::StatusResponse response;
      if (admin->Status(&context, troupe::v1::StatusRequest(), &response).ok()) {
        return ::testing::AssertionSuccess();
      }
    }
    return ::testing::AssertionFailure() << "troupd did not answer on " << socket() << " within "
                                         << bound.count() << " ms. Log:\n"
                                         << DaemonLog();
  }

 private:
  TempDir root_;
  std::string dir_;
  std::string log_;
  pid_t daemon_pid_ = -1;
  std::vector<pid_t> adopted_;
};

}  // namespace troupe::testing
