// executions.h - asynchronous asks over HTTP (POST .../executions): each gets
// an id at once; its record (pending, then done, failed or timed_out) is kept
// in this process for `ttl` after it ends, and at most `max_kept` records are
// kept (beyond that the oldest finished one goes, then the oldest pending).
// An id this process handed out whose record is gone is "expired" (410);
// any other id is "unknown" (404). Records live in troupe-http's memory only:
// they do not survive its restart (ids carry a per-process prefix, so an old
// id is then unknown, not confused with a new one). Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/common/mutex.h"
#include "troupe/v1/http.pb.h"

namespace troupe::http {

class Executions {
 public:
  // `prefix`: this process's id prefix (random, so ids of an earlier run
  // are never found).
  Executions(std::string prefix, absl::Duration ttl, uint64_t max_kept);

  // A new pending record for a message of `type` to `actor`, submitted at
  // `now`; returns it (with its id).
  v1::HttpExecution Start(std::string_view actor, std::string_view type, absl::Time now);
  // Ends the record `id` (ignored when it is gone): `status` is "done",
  // "failed" or "timed_out"; `reply` is set for done ones.
  void Finish(std::string_view id, std::string_view status, absl::Time now,
              const v1::HttpExecution& reply_fields);
  // The record, NotFound for an unknown id, a FailedPrecondition whose
  // message starts with "expired" for one gone (the caller answers 410).
  absl::StatusOr<v1::HttpExecution> Get(std::string_view id, absl::Time now);

  static constexpr std::string_view kExpired = "expired";

 private:
  void DropExpired(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string prefix_;
  const absl::Duration ttl_;
  const uint64_t max_kept_;
  troupe::Mutex mu_;
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 1;
  struct Entry {
    v1::HttpExecution record;
    uint64_t seq = 0;  // the number in its id
    absl::Time ended = absl::InfiniteFuture();
  };
  absl::flat_hash_map<std::string, Entry> records_ ABSL_GUARDED_BY(mu_);
  // Ended records' ids in the order they ended (expiry order), and the
  // pending ones by number (oldest first); each record is in one of them.
  std::deque<std::string> ended_order_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::string> pending_ ABSL_GUARDED_BY(mu_);
};

// RFC 3339 with milliseconds, UTC.
std::string Rfc3339(absl::Time t);

}  // namespace troupe::http
