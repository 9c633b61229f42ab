// lifecycle_commands.cc - `start` (troupd in the background, or in this
// process with --foreground, then wait until it answers; a daemon that already
// answers is success) and `shutdown` (drain and stop troupd, and wait until
// its process has exited).
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "daemon/common/strings.h"
#include "director/commands/commands.h"
#include "director/commands/daemon_client.h"
#include "director/commands/daemon_commands.h"

extern char** environ;

namespace troupe::director {
namespace {

namespace fs = std::filesystem;
namespace v1 = troupe::v1;

// Seconds as people write them: "15 s", "0.5 s".
std::string Seconds(absl::Duration d) { return troupe::StrCat(absl::ToDoubleSeconds(d), " s"); }

// ---------------------------------------------------------------- shutdown

struct ShutdownOptions {
  std::string socket;
};

// A pidfd for `pid` (readable once it exits), or -1. Through syscall(2):
// glibc 2.36's <sys/pidfd.h> declares pidfd_open without C linkage.
int PidfdOpen(pid_t pid) {
  if (pid <= 0) return -1;
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

// Waits until the process behind `pidfd` has exited (no polling), or, with
// no pidfd (-1: old kernel, a pid from another namespace), until the socket
// stops answering. False when `bound` passes first.
bool WaitForExit(int pidfd, const std::string& socket, absl::Duration bound) {
  const absl::Time deadline = absl::Now() + bound;
  if (pidfd >= 0) {
    pollfd fd{pidfd, POLLIN, 0};
    int rc = 0;
    do {
      const int64_t left = std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()));
      rc = ::poll(&fd, 1, static_cast<int>(std::min<int64_t>(left, 1 << 30)));
    } while (rc < 0 && errno == EINTR);
    return rc > 0;
  }
  while (absl::Now() < deadline) {
    absl::StatusOr<pid_t> probe = ProbeSocket(socket);
    if (!probe.ok() && probe.status().code() == absl::StatusCode::kUnavailable) return true;
    ::poll(nullptr, 0, 50);  // bounded polling only without a pidfd
  }
  return false;
}

int ShutdownCommand(Context& ctx, const ShutdownOptions& options) {
  Connection c = ConnectOrFail(ctx, options.socket);
  if (!c.client) return c.code;
  const pid_t pid = c.client->pid();
  // Opened before asking, so that the pid cannot be reused meanwhile.
  const int pidfd = PidfdOpen(pid);
  absl::Cleanup close_pidfd = [pidfd] {
    if (pidfd >= 0) ::close(pidfd);
  };
  absl::StatusOr<v1::ShutdownResponse> response =
      c.client->Call(&v1::Admin::Stub::Shutdown, v1::ShutdownRequest(), "shutdown");
  // UNAVAILABLE or CANCELLED: the daemon closed the call while stopping.
  if (!response.ok() && !absl::IsUnavailable(response.status()) &&
      !absl::IsCancelled(response.status())) {
    return ctx.Fail(response.status());
  }
  // troupd gives open calls 1 s, then drains the bundles' actors and then
  // the actor system, each for up to drain_timeout_seconds; the margin
  // covers closing the libraries.
  const absl::Duration drain = DrainTimeout(ctx);
  const absl::Duration bound = 2 * drain + absl::Seconds(15);
  if (!WaitForExit(pidfd, c.client->socket(), bound)) {
    return ctx.Fail(absl::DeadlineExceededError(troupe::StrCat(
        "troupd", pid > 0 ? troupe::StrCat(" (pid ", pid, ")") : "", " on ", c.client->socket(),
        " is still stopping after ", Seconds(bound), " (drain_timeout_seconds is ",
        absl::ToInt64Seconds(drain), "); it goes on stopping by itself, or stop it with kill")));
  }
  if (ctx.json()) {
    return ctx.PrintJson(
        Json{{"socket", c.client->socket()}, {"pid", static_cast<uint64_t>(pid)}});
  }
  ctx.out() << "troupd stopped";
  if (pid > 0) ctx.out() << " (pid " << pid << ")";
  ctx.out() << "\n";
  return kExitOk;
}

// ------------------------------------------------------------------- start

struct StartOptions {
  std::string socket;
  std::string troupd;
  bool foreground = false;
  double wait_seconds = 15;
};

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// --troupd; else next to this executable (also ../sbin for an installed
// tree); else the build tree (build/director/director ->
// build/daemon/troupd/troupd); else $PATH.
absl::StatusOr<std::string> FindTroupd(const std::string& flag) {
  if (!flag.empty()) {
    if (IsExecutableFile(flag)) return flag;
    return absl::NotFoundError(troupe::StrCat("--troupd ", flag, ": not an executable file"));
  }
  std::vector<std::string> looked;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path dir = self.parent_path();
    std::vector<fs::path> candidates = {dir / "troupd", dir.parent_path() / "sbin" / "troupd"};
    if (dir.filename() == "director") {
      candidates.push_back(dir.parent_path() / "daemon" / "troupd" / "troupd");
    }
    for (const fs::path& candidate : candidates) {
      if (IsExecutableFile(candidate.string())) return candidate.string();
      looked.push_back(candidate.string());
    }
  }
  const char* path_env = std::getenv("PATH");
  std::string path_list = path_env != nullptr ? path_env : "";
  size_t start = 0;
  while (start <= path_list.size()) {
    size_t end = path_list.find(':', start);
    if (end == std::string::npos) end = path_list.size();
    const std::string entry = path_list.substr(start, end - start);
    start = end + 1;
    if (entry.empty()) continue;
    const std::string candidate = entry + "/troupd";
    if (IsExecutableFile(candidate)) return candidate;
  }
  looked.push_back("$PATH");
  return absl::NotFoundError(troupe::StrCat("cannot find the troupd program (looked at ",
                                            absl::StrJoin(looked, ", "), "); give --troupd PATH"));
}

// The last `max_lines` lines of `path` from byte `from` on, looked for in
// its last kLogTailBytes.
std::string LogTail(const std::string& path, uint64_t from, size_t max_lines) {
  constexpr uint64_t kLogTailBytes = 1 << 20;
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const std::streamoff size = in.tellg();
  if (size < 0 || static_cast<uint64_t>(size) <= from) return "";
  const uint64_t start = std::max<uint64_t>(
      from, static_cast<uint64_t>(size) - std::min<uint64_t>(size, kLogTailBytes));
  std::string tail(static_cast<uint64_t>(size) - start, '\0');
  in.seekg(static_cast<std::streamoff>(start));
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  tail.resize(static_cast<size_t>(std::max<std::streamsize>(in.gcount(), 0)));
  if (start > from) {  // the window began inside a line: drop its rest
    const size_t first_line_end = tail.find('\n');
    tail.erase(0, first_line_end == std::string::npos ? tail.size() : first_line_end + 1);
  }
  if (tail.empty()) return "";
  if (!tail.empty() && tail.back() == '\n') tail.pop_back();
  size_t at = tail.size();
  for (size_t lines = 0; lines < max_lines && at != std::string::npos && at > 0; ++lines) {
    at = tail.rfind('\n', at - 1);
  }
  if (at != std::string::npos && at < tail.size() && tail[at] == '\n') ++at;
  if (at == std::string::npos) at = 0;
  return tail.substr(at) + "\n";
}

// Waits until the troupd with `pid` (our child) answers Admin.Status on
// `socket`: polls with gRPC connect deadlines (250 ms) and waitpid(WNOHANG),
// no fixed sleeps. Aborted with the exit status when the child exits first;
// DeadlineExceeded after `bound`.
absl::Status WaitForDaemon(pid_t pid, const std::string& socket, absl::Duration bound) {
  std::shared_ptr<grpc::Channel> channel = MakeChannel(socket, /*fast_reconnect=*/true);
  std::unique_ptr<v1::Admin::Stub> admin = v1::Admin::NewStub(channel);
  const absl::Time deadline = absl::Now() + bound;
  while (true) {
    int wstatus = 0;
    const pid_t done = ::waitpid(pid, &wstatus, WNOHANG);
    if (done == pid) {
      return absl::AbortedError(
          WIFEXITED(wstatus) ? troupe::StrCat("troupd exited with status ", WEXITSTATUS(wstatus))
          : WIFSIGNALED(wstatus) ? troupe::StrCat("troupd was killed by signal ", WTERMSIG(wstatus))
                                 : std::string("troupd ended"));
    }
    const absl::Time now = absl::Now();
    if (now >= deadline) break;
    const absl::Time step = std::min(deadline, now + absl::Milliseconds(250));
    if (channel->WaitForConnected(absl::ToChronoTime(step))) {
      v1::StatusResponse response;
      grpc::Status status = admin->Status(DaemonClient::NewContext(absl::Seconds(5)).get(),
                                          v1::StatusRequest(), &response);
      // Only our child counts: another troupd started at the same moment
      // may have won the socket (ours then exits, noticed above).
      absl::StatusOr<pid_t> peer = ProbeSocket(socket);
      if (status.ok() && peer.ok() && (*peer == pid || *peer == 0)) return absl::OkStatus();
    }
  }
  return absl::DeadlineExceededError(troupe::StrCat("troupd (pid ", pid, ") does not answer on ",
                                                    socket, " after ", Seconds(bound)));
}

int AlreadyRunning(Context& ctx, const std::string& socket, pid_t pid) {
  if (ctx.json()) {
    return ctx.PrintJson(Json{
        {"already_running", true}, {"pid", static_cast<uint64_t>(pid)}, {"socket", socket}});
  }
  ctx.out() << "troupd is already running on " << socket;
  if (pid > 0) ctx.out() << " (pid " << pid << ")";
  ctx.out() << "\n";
  return kExitOk;
}

int StartCommand(Context& ctx, const StartOptions& options) {
  absl::StatusOr<std::string> socket = ResolveSocketPath(ctx, options.socket);
  if (!socket.ok()) {
    return ctx.Fail(socket.status(),
                    options.socket.empty() ? kExitInvalidConfig : kExitInvalidInput);
  }
  // Idempotent, like systemctl start: a daemon that answers is success.
  absl::StatusOr<pid_t> running = ProbeSocket(*socket);
  if (running.ok()) return AlreadyRunning(ctx, *socket, *running);
  if (running.status().code() != absl::StatusCode::kUnavailable) return ctx.Fail(running.status());
  absl::StatusOr<std::string> troupd = FindTroupd(options.troupd);
  if (!troupd.ok()) return ctx.Fail(troupd.status());

  std::error_code ec;
  fs::path dir = fs::absolute(ctx.config().dir(), ec);
  std::vector<std::string> args = {*troupd, "--dir", dir.lexically_normal().string()};
  if (!options.socket.empty()) args.insert(args.end(), {"--socket", *socket});
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  if (options.foreground) {
    ctx.out().flush();
    ::execv(argv[0], argv.data());
    return ctx.Fail(
        absl::UnknownError(troupe::StrCat("cannot run ", *troupd, ": ", std::strerror(errno))));
  }

  const std::string run_dir = fs::path(*socket).parent_path().string();
  if (absl::Status s = MakeDirectories(run_dir, 0700); !s.ok()) return ctx.Fail(s);
  const std::string log = run_dir + "/troupd.log";
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) {
    return ctx.Fail(absl::UnknownError(
        troupe::StrCat("cannot open the log ", log, ": ", std::strerror(errno))));
  }
  struct stat log_stat;
  const uint64_t log_start = ::fstat(log_fd, &log_stat) == 0 ? log_stat.st_size : 0;

  // posix_spawn rather than fork: director has gRPC threads by now, and
  // POSIX_SPAWN_SETSID gives the same new session as fork + setsid.
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, log_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, log_fd, 2);
  posix_spawn_file_actions_addchdir_np(&actions, "/");
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(log_fd);
  if (spawned != 0) {
    return ctx.Fail(
        absl::UnknownError(troupe::StrCat("cannot run ", *troupd, ": ", std::strerror(spawned))));
  }

  const absl::Duration bound = absl::Seconds(options.wait_seconds);
  absl::Status up = WaitForDaemon(pid, *socket, bound);
  if (up.code() == absl::StatusCode::kAborted) {
    // Two `start`s at once: ours lost the socket to the other's daemon.
    if (absl::StatusOr<pid_t> other = ProbeSocket(*socket); other.ok() && *other != pid) {
      ctx.err() << "director: note: the troupd started here (pid " << pid << ") stopped ("
                << StatusText(up) << "): another one started meanwhile\n";
      return AlreadyRunning(ctx, *socket, *other);
    }
    ctx.err() << "director: " << StatusText(up) << " before it answered on " << *socket
              << "; the end of " << log << ":\n"
              << LogTail(log, log_start, 20);
    if (ctx.json()) {
      ctx.out() << JsonText(Json{{"ok", false},
                                 {"exit_code", int{kExitInternal}},
                                 {"error", StatusText(up)},
                                 {"log", log}})
                << "\n";
    }
    return kExitInternal;
  }
  if (!up.ok()) {
    return ctx.Fail(absl::DeadlineExceededError(
        troupe::StrCat(StatusText(up), "; it keeps running (see ", log,
                       "; stop it with `director shutdown` or kill ", pid, ")")));
  }
  if (ctx.json()) {
    return ctx.PrintJson(Json{{"already_running", false},
                              {"pid", static_cast<uint64_t>(pid)},
                              {"socket", *socket},
                              {"log", log}});
  }
  ctx.out() << "troupd started (pid " << pid << "), socket " << *socket << ", log " << log << "\n";
  return kExitOk;
}

}  // namespace

void AddStartCommand(CLI::App& app, Runner* run) {
  auto start = std::make_shared<StartOptions>();
  CLI::App* cmd = app.add_subcommand(
      "start",
      "Start troupd in the background (log in the socket's directory) and wait until it "
      "answers; exit 0 when one already runs");
  AddSocketOption(cmd, &start->socket);
  cmd->add_flag("--foreground", start->foreground,
                "Run troupd in this process instead (exec), logging to stderr");
  cmd->add_option("--troupd", start->troupd,
                  "The troupd program (default: next to director, the build tree, $PATH)");
  cmd->add_option("--wait", start->wait_seconds, "Seconds to wait for troupd to answer (15)")
      ->check(CLI::PositiveNumber);
  cmd->callback(
      [start, run] { *run = [start](Context& ctx) { return StartCommand(ctx, *start); }; });
}

void AddShutdownCommand(CLI::App& app, Runner* run) {
  auto shutdown = std::make_shared<ShutdownOptions>();
  CLI::App* cmd =
      app.add_subcommand("shutdown", "Stop troupd: drain its actors, wait until it has exited");
  AddSocketOption(cmd, &shutdown->socket);
  cmd->callback([shutdown, run] {
    *run = [shutdown](Context& ctx) { return ShutdownCommand(ctx, *shutdown); };
  });
}

}  // namespace troupe::director
