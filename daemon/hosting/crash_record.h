// crash_record.h - crash-loop detection for BundleHost: the files
// <TROUPE_DIR>/loaded/running and <TROUPE_DIR>/loaded/crashes, and the
// fatal-signal handler that writes to the first. Private to daemon/hosting
// (troupd installs the handler through InstallFaultHandler in bundle_host.h).
//
// `running` says the daemon runs. Restore writes it at start-up and keeps it
// open; a clean Shutdown removes it. When a fatal signal (SIGSEGV, SIGBUS,
// SIGILL, SIGFPE, SIGABRT) hits a thread while it runs a bundle's code
// (runtime::CurrentBundleCode) and was raised by the fault itself or by the
// process (abort, raise; not a kill from outside), the handler appends a line
// before the signal takes its default action:
//   started <unix ms>
//   fault <64 hex digit source hash> <signal number>
// A start that finds the file knows the last run died; only its fault lines
// charge bundles (kill -9, the OOM killer, a stop timeout, power loss, or an
// exit() called by a library leave none and charge nothing).
//
// `crashes` keeps what earlier starts found, one record a line:
//   crash <unix ms> <hash>   a run that died of a fault in <hash>'s code,
//                            found at <unix ms>
//   held <hash> <reason>     not restored for its crashes until it is loaded
//                            again or unloaded
// Lines of neither form are ignored.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace troupe::hosting {

// How many runs that died of a fault in a bundle's code within the restart
// window hold the bundle back.
inline constexpr size_t kCrashesToHold = 2;

struct CrashHistory {
  struct Crash {
    absl::Time at;
    std::string hash;
  };
  std::vector<Crash> crashes;                             // oldest first
  std::vector<std::pair<std::string, std::string>> held;  // hash, reason

  // The reason `hash` is held, or nullptr.
  const std::string* HeldReason(std::string_view hash) const;
  // Drops the crashes and the hold of `hash`; true when there were any.
  bool Forget(std::string_view hash);
  // Records a run that died of a fault in the code of `suspect` (none when
  // empty), found at `now`; forgets crashes older than `window`, and holds
  // `suspect` once it has kCrashesToHold crashes within `window`. Returns the
  // reason when it newly holds it, else empty.
  std::string RecordUncleanExit(std::string_view suspect, absl::Time now, absl::Duration window);

  struct Charged {
    std::string hash;
    int signal = 0;
    std::string held_reason;  // non-empty when this charge newly holds it
  };
  // Charges the run that left `running` behind, found at `now`: each bundle
  // named by a fault line of it, once (RecordUncleanExit). Without fault
  // lines nothing is charged (old crashes are only pruned).
  std::vector<Charged> ChargeDeadRun(std::string_view running, absl::Time now,
                                     absl::Duration window);
};

CrashHistory ParseCrashHistory(std::string_view text);
std::string FormatCrashHistory(const CrashHistory& history);

// The contents of a fresh `running` file.
std::string FormatRunning(absl::Time started);

struct Fault {
  std::string hash;
  int signal = 0;
};
// The fault lines of a `running` file, each bundle once (its first line), in
// file order. A line cut short by the death is ignored.
std::vector<Fault> FaultsInRunning(std::string_view running);

// "SIGABRT" for the signals the handler takes, else "signal <n>".
std::string SignalName(int signal);

// ---- The fault handler (async-signal-safe parts)

// Longest "fault <hash> <signal>\n" line.
inline constexpr size_t kMaxFaultLine = 6 + 64 + 1 + 11 + 1;
// Writes "fault <hash> <signal>\n" into `out` (kMaxFaultLine bytes) and
// returns its length: `hash` up to its NUL or 64 characters. Async-signal-safe.
size_t FormatFaultLine(const char* hash, int signal, char* out);
// Makes `fd` (open with O_APPEND; -1: none) the file the handler appends to
// and returns the one before. Thread-safe.
int ExchangeFaultRecord(int fd);
// Stops the handler writing to `fd` if it still does; true when it did.
bool ReleaseFaultRecord(int fd);
// The handler's work for `signal` on this thread, without dying: appends a
// fault line when the thread runs a bundle's code and a record is set.
// Async-signal-safe. True when it wrote one. The handler calls it; tests too.
bool RecordFault(int signal);

}  // namespace troupe::hosting
