// actor_logs.cc - see actor_logs.h.
#include "daemon/runtime/actor_logs.h"

#include <algorithm>

#include "daemon/common/utf8.h"

namespace troupe::runtime {

void ActorLogs::Append(std::string_view address, int level, std::string_view text,
                       absl::Time now) {
  if (lines_per_actor_ == 0) return;
  // Cut, then made valid: a character split by the cut becomes U+FFFD.
  ActorLogLine line{now, level, ToValidUtf8(text.substr(0, kMaxLineBytes))};
  troupe::MutexLock lock(&mu_);
  Ring& ring = rings_[std::string(address)];
  ring.bytes += line.text.size();
  ring.lines.push_back(std::move(line));
  while (ring.lines.size() > lines_per_actor_ ||
         (ring.bytes > kMaxActorBytes && ring.lines.size() > 1)) {
    ring.bytes -= ring.lines.front().text.size();
    ring.lines.pop_front();
    ++ring.dropped;
  }
}

void ActorLogs::Exited(std::string_view address) {
  troupe::MutexLock lock(&mu_);
  auto it = rings_.find(std::string(address));  // Debian's Abseil: no std::string_view lookup
  if (it == rings_.end() || it->second.exited) return;
  it->second.exited = true;
  exited_order_.emplace_back(address);
  if (exited_order_.size() > kExitedKept) {
    rings_.erase(exited_order_.front());
    exited_order_.pop_front();
  }
}

bool ActorLogs::Tail(std::string_view address, size_t max_lines, ActorLogTail* out) const {
  troupe::MutexLock lock(&mu_);
  auto it = rings_.find(std::string(address));
  if (it == rings_.end()) return false;
  const Ring& ring = it->second;
  const size_t n = max_lines == 0 ? ring.lines.size() : std::min(max_lines, ring.lines.size());
  out->lines.assign(ring.lines.end() - static_cast<std::ptrdiff_t>(n), ring.lines.end());
  out->dropped = ring.dropped;
  out->exited = ring.exited;
  return true;
}

}  // namespace troupe::runtime
