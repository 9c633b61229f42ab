// actor_logs.h - the lines each actor logged (the host table's `log`), kept
// in a bounded ring per actor so that an operator can read what one actor
// said (Admin.ActorLogs, `GET /v1/actors/{actor}/logs`), as Abaco shows an
// execution's logs. The daemon's log (stderr, journald) still gets each line
// at or above its level; the ring keeps debug lines too.
//
// Bounds: at most `lines_per_actor` lines and 256 KiB per actor (the oldest
// go first; each dropped line is counted), each line cut at 4 KiB and made
// valid UTF-8 (invalid bytes become U+FFFD). The rings
// of the last 256 actors that exited are kept, so the logs of an actor that
// ran and ended can still be read; older ones are forgotten. A limit of 0
// keeps nothing. Thread-safe: one mutex, held only to copy a line in or out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "daemon/common/mutex.h"

namespace troupe::runtime {

struct ActorLogLine {
  absl::Time time;
  int level = 0;  // syslog priority: 3 error, 4 warning, 6 info, 7 debug
  std::string text;
};

struct ActorLogTail {
  std::vector<ActorLogLine> lines;  // oldest first
  uint64_t dropped = 0;             // lines the bounds pushed out of the ring
  bool exited = false;              // the actor has exited
};

class ActorLogs {
 public:
  static constexpr size_t kMaxLineBytes = 4096;
  static constexpr size_t kMaxActorBytes = 256 * 1024;
  static constexpr size_t kExitedKept = 256;

  explicit ActorLogs(size_t lines_per_actor) : lines_per_actor_(lines_per_actor) {}

  // Adds a line for the actor at `address`.
  void Append(std::string_view address, int level, std::string_view text, absl::Time now);
  // Keeps the ring of `address` among the exited ones (forgetting the oldest
  // exited ring beyond kExitedKept).
  void Exited(std::string_view address);
  // The newest `max_lines` lines of `address` (all when 0); false when there
  // is no ring for it (never logged, or forgotten).
  bool Tail(std::string_view address, size_t max_lines, ActorLogTail* out) const;

 private:
  struct Ring {
    std::deque<ActorLogLine> lines;
    size_t bytes = 0;
    uint64_t dropped = 0;
    bool exited = false;
  };

  const size_t lines_per_actor_;
  mutable troupe::Mutex mu_;
  absl::flat_hash_map<std::string, Ring> rings_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> exited_order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace troupe::runtime
