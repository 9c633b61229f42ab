// busy_cores.h - `--contended` for the benchmarks: one busy-looping process
// per core beside the measurement, as when a daemon shares its host with
// other work. The loops die with the benchmark (PR_SET_PDEATHSIG) and are
// stopped by BusyCores' destructor. Header-only, for tests/bench.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace troupe::bench {

class BusyCores {
 public:
  // Starts one loop per core when `enabled`.
  explicit BusyCores(bool enabled) {
    if (!enabled) return;
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < cores; ++i) {
      const pid_t pid = ::fork();
      if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        volatile uint64_t spin = 0;
        for (;;) spin = spin + 1;
      }
      if (pid > 0) pids_.push_back(pid);
    }
  }
  ~BusyCores() {
    for (pid_t pid : pids_) ::kill(pid, SIGKILL);
    for (pid_t pid : pids_) (void)::waitpid(pid, nullptr, 0);
  }
  BusyCores(const BusyCores&) = delete;
  BusyCores& operator=(const BusyCores&) = delete;

  // "_contended" when the loops run, else "": the suffix of result names.
  const char* suffix() const { return pids_.empty() ? "" : "_contended"; }

 private:
  std::vector<pid_t> pids_;
};

// Appended to every result name (BusyCores::suffix() under --contended).
inline std::string result_suffix;

// True when `flag` is among the arguments.
inline bool HasFlag(int argc, char** argv, const char* flag) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], flag) == 0) return true;
  }
  return false;
}

}  // namespace troupe::bench
