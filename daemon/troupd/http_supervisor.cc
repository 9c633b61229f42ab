// http_supervisor.cc - see http_supervisor.h.
#include "daemon/troupd/http_supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "daemon/common/child_process.h"
#include "daemon/common/logging.h"
#include "daemon/common/strings.h"

extern char** environ;

namespace troupe::troupd {
namespace {

constexpr absl::Duration kFirstBackoff = absl::Seconds(1);
constexpr absl::Duration kMaxBackoff = absl::Seconds(30);
// A child that ran this long before dying starts the backoff over.
constexpr absl::Duration kStableRun = absl::Minutes(1);
constexpr absl::Duration kStopGrace = absl::Seconds(5);

}  // namespace

std::string ProgramBesideSelf(const std::string& name) {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return name;
  return (self.parent_path() / name).string();
}

HttpSupervisor::HttpSupervisor(std::string program, std::vector<std::string> args)
    : program_(std::move(program)), args_(std::move(args)) {}

HttpSupervisor::~HttpSupervisor() { Stop(); }

void HttpSupervisor::Start() {
  troupe::MutexLock lock(&mu_);
  if (started_) return;
  started_ = true;
  stop_event_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_event_ < 0) {
    LogError("cannot start the HTTP API: eventfd: ", std::strerror(errno));
    return;
  }
  thread_ = std::thread([this] { Run(); });
}

void HttpSupervisor::Stop() {
  {
    troupe::MutexLock lock(&mu_);
    if (!started_ || !thread_.joinable()) return;
  }
  const uint64_t one = 1;
  (void)!::write(stop_event_, &one, sizeof one);
  thread_.join();
  ::close(stop_event_);
}

std::string HttpSupervisor::address() const {
  troupe::MutexLock lock(&mu_);
  return address_;
}

pid_t HttpSupervisor::pid() const {
  troupe::MutexLock lock(&mu_);
  return pid_;
}

bool HttpSupervisor::WaitUntilServing(absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  troupe::MutexLock lock(&mu_);
  while (address_.empty()) {
    if (serving_cv_.WaitWithDeadline(&mu_, deadline)) return !address_.empty();
  }
  return true;
}

pid_t HttpSupervisor::Spawn(int report_fd) {
  std::vector<std::string> argv = {program_};
  argv.insert(argv.end(), args_.begin(), args_.end());
  argv.insert(argv.end(), {"--report-fd", "3", "--parent-pid", std::to_string(::getpid())});
  std::vector<char*> c_argv;
  for (std::string& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, report_fd, 3);
  // Nothing else: descriptors a bundle opened without close-on-exec stay here.
  posix_spawn_file_actions_addclosefrom_np(&actions, 4);
  posix_spawnattr_t attr;
  InitChildSpawnAttributes(&attr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, program_.c_str(), &actions, &attr, c_argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    LogError("cannot start the HTTP API: ", program_, ": ", std::strerror(rc));
    return -1;
  }
  return pid;
}

void HttpSupervisor::Run() {
  absl::Duration backoff = kFirstBackoff;
  for (;;) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
      LogError("cannot start the HTTP API: pipe: ", std::strerror(errno));
      return;
    }
    const absl::Time started = absl::Now();
    const pid_t pid = Spawn(pipe_fds[1]);
    ::close(pipe_fds[1]);
    const int pidfd = pid > 0 ? PidfdOpen(pid) : -1;
    bool exited_by_itself = true;
    if (pid > 0 && pidfd < 0) {
      LogError("cannot watch the HTTP API process ", pid, ": pidfd_open: ", std::strerror(errno));
      StopChild(pid, -1);
    } else if (pid > 0) {
      {
        troupe::MutexLock lock(&mu_);
        pid_ = pid;
      }
      exited_by_itself = Watch(pid, pidfd, pipe_fds[0]);
      {
        troupe::MutexLock lock(&mu_);
        pid_ = -1;
        address_.clear();
      }
      if (!exited_by_itself) StopChild(pid, pidfd);
      ::close(pidfd);
    }
    ::close(pipe_fds[0]);
    if (!exited_by_itself) return;
    if (absl::Now() - started >= kStableRun) backoff = kFirstBackoff;
    LogWarning("restarting the HTTP API in ", absl::FormatDuration(backoff));
    pollfd stop{stop_event_, POLLIN, 0};
    if (PollFor(&stop, 1, backoff) > 0) return;
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

bool HttpSupervisor::Watch(pid_t pid, int pidfd, int report_fd) {
  std::string report;
  bool reading = true;
  for (;;) {
    pollfd fds[3] = {{stop_event_, POLLIN, 0}, {pidfd, POLLIN, 0}, {report_fd, POLLIN, 0}};
    if (PollFor(fds, reading ? 3 : 2, absl::InfiniteDuration()) < 0) return false;
    if (fds[0].revents != 0) return false;
    if (reading && fds[2].revents != 0) {
      char buffer[256];
      const ssize_t n = ::read(report_fd, buffer, sizeof buffer);
      if (n > 0 && report.size() < 1024) report.append(buffer, static_cast<size_t>(n));
      if (n <= 0 || report.find('\n') != std::string::npos) {
        reading = false;
        const std::string address = report.substr(0, report.find('\n'));
        if (!address.empty()) {
          troupe::MutexLock lock(&mu_);
          address_ = address;
          serving_cv_.SignalAll();
        }
      }
    }
    if (fds[1].revents != 0) {
      int status = 0;
      if (::waitpid(pid, &status, 0) != pid) status = 0;
      LogError("the HTTP API process (troupe-http, pid ", pid, ") ", WaitStatusText(status));
      return true;
    }
  }
}

void HttpSupervisor::StopChild(pid_t pid, int pidfd) {
  ::kill(pid, SIGTERM);
  bool gone = false;
  if (pidfd >= 0) {
    pollfd exited{pidfd, POLLIN, 0};
    gone = PollFor(&exited, 1, kStopGrace) > 0;
  }
  if (!gone) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

}  // namespace troupe::troupd
