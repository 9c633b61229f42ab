// crash_record.h - crash-loop detection for BundleHost: the files
// <TROUPE_DIR>/loaded/running and <TROUPE_DIR>/loaded/crashes. Private to
// daemon/hosting.
//
// `running` says the daemon runs. Restore writes it at start-up, each bundle
// whose code starts (restored or loaded) appends a line, and a clean Shutdown
// removes it, so a start that finds it knows the last run died (kill -9, an
// abort in actor code, ...):
//   started <unix ms>
//   code <64 hex digit source hash>     (in the order their code started)
//
// `crashes` keeps what earlier starts found, one record a line:
//   crash <unix ms> <hash>   an unclean exit found then, charged to <hash>: the
//                            bundle whose code started last in the dead run
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

// How many unclean exits within the restart window hold a bundle back.
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
  // Records an unclean exit found at `now` and charged to `suspect` (none
  // when empty), forgets crashes older than `window`, and holds `suspect`
  // once it has kCrashesToHold crashes within `window`. Returns the reason
  // when it newly holds it, else empty.
  std::string RecordUncleanExit(std::string_view suspect, absl::Time now, absl::Duration window);
};

CrashHistory ParseCrashHistory(std::string_view text);
std::string FormatCrashHistory(const CrashHistory& history);

// The contents of a fresh `running` file, and the line a starting bundle adds.
std::string FormatRunning(absl::Time started);
std::string RunningCodeLine(std::string_view hash);
// The hash of the bundle whose code started last in a `running` file; empty
// when none did.
std::string LastStartedCode(std::string_view running);

}  // namespace troupe::hosting
