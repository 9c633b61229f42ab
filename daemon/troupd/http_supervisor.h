// http_supervisor.h - runs troupe-http (daemon/http/), the HTTP/JSON API,
// beside troupd when listen_http is set: one service, nothing else to start.
// The HTTP parser runs in that child process, never in the daemon's address
// space; the child talks to troupd over its unix socket like any client.
//
// The child is started with posix_spawn (never fork of the multi-threaded
// daemon) from the directory troupd runs from, in its own process group,
// with no descriptor of troupd's but the report pipe, and with --parent-pid
// (it gets SIGTERM if troupd dies). It reports the address it bound on a pipe;
// address() is that once reported, else "". When the child exits, the exit
// is logged (code or signal) and it is started again after 1 s, doubling up
// to 30 s while it keeps dying within a minute of starting. Stop sends it
// SIGTERM and waits up to 5 s (then SIGKILL). Nothing here sleeps: the
// supervisor thread waits in poll(2) on the child's pidfd, the report pipe
// and a stop event.
#pragma once

#include <sys/types.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "daemon/common/mutex.h"

namespace troupe::troupd {

class HttpSupervisor {
 public:
  // `program`: the troupe-http binary; `args`: its arguments after the name
  // (--report-fd and --parent-pid are added).
  HttpSupervisor(std::string program, std::vector<std::string> args);
  ~HttpSupervisor();  // Stop()
  HttpSupervisor(const HttpSupervisor&) = delete;
  HttpSupervisor& operator=(const HttpSupervisor&) = delete;

  void Start();
  void Stop();

  // HOST:PORT the child serves, "" while none serves.
  std::string address() const;
  // The child's pid, or -1.
  pid_t pid() const;
  // Waits until a child serves (address() non-empty), at most `timeout`.
  bool WaitUntilServing(absl::Duration timeout) const;

 private:
  void Run();
  // Spawns a child writing its address to `report_fd`; -1 on failure (logged).
  pid_t Spawn(int report_fd);
  // Waits for the child `pid` (pidfd) to exit or for Stop; returns true when
  // it exited by itself (the exit is logged).
  bool Watch(pid_t pid, int pidfd, int report_fd);
  void StopChild(pid_t pid, int pidfd);

  const std::string program_;
  const std::vector<std::string> args_;
  int stop_event_ = -1;  // eventfd: written by Stop
  std::thread thread_;
  mutable troupe::Mutex mu_;
  mutable troupe::CondVar serving_cv_;
  std::string address_ ABSL_GUARDED_BY(mu_);
  pid_t pid_ ABSL_GUARDED_BY(mu_) = -1;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
};

// The program `name` (troupe-http, troupe-host) beside the running one
// (/proc/self/exe); just `name` when that cannot be read.
std::string ProgramBesideSelf(const std::string& name);

}  // namespace troupe::troupd
