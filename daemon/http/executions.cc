// executions.cc - see executions.h.
#include "daemon/http/executions.h"

#include "absl/strings/numbers.h"
#include "daemon/common/strings.h"

namespace troupe::http {

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

Executions::Executions(std::string prefix, absl::Duration ttl, uint64_t max_kept)
    : prefix_(std::move(prefix)), ttl_(ttl), max_kept_(max_kept < 1 ? 1 : max_kept) {}

v1::HttpExecution Executions::Start(std::string_view actor, std::string_view type,
                                    absl::Time now) {
  troupe::MutexLock lock(&mu_);
  DropExpired(now);
  // Over the bound: the oldest ended record goes first, else the oldest pending.
  while (records_.size() >= max_kept_) {
    if (!ended_order_.empty()) {
      records_.erase(ended_order_.front());
      ended_order_.pop_front();
    } else {
      records_.erase(pending_.begin()->second);
      pending_.erase(pending_.begin());
    }
  }
  const uint64_t seq = next_++;
  v1::HttpExecution record;
  record.set_id(troupe::StrCat(prefix_, "-", seq));
  record.set_status("pending");
  record.set_actor(std::string(actor));
  record.set_type(std::string(type));
  record.set_submitted(Rfc3339(now));
  records_[record.id()] = Entry{record, seq};
  pending_[seq] = record.id();
  return record;
}

void Executions::Finish(std::string_view id, std::string_view status, absl::Time now,
                        const v1::HttpExecution& reply_fields) {
  troupe::MutexLock lock(&mu_);
  auto it = records_.find(std::string(id));
  if (it == records_.end() || it->second.record.status() != "pending") return;
  v1::HttpExecution& record = it->second.record;
  record.set_status(std::string(status));
  record.set_finished(Rfc3339(now));
  record.set_reply_type(reply_fields.reply_type());
  record.set_result(reply_fields.result());
  record.set_result_bytes(reply_fields.result_bytes());
  record.set_error(reply_fields.error());
  it->second.ended = now;
  pending_.erase(it->second.seq);
  ended_order_.emplace_back(id);
}

absl::StatusOr<v1::HttpExecution> Executions::Get(std::string_view id, absl::Time now) {
  troupe::MutexLock lock(&mu_);
  DropExpired(now);
  if (auto it = records_.find(std::string(id)); it != records_.end()) return it->second.record;
  // Issued by this process: "<prefix>-<n>" with n below next_.
  uint64_t n = 0;
  const bool issued = id.size() > prefix_.size() + 1 && id.substr(0, prefix_.size()) == prefix_ &&
                      id[prefix_.size()] == '-' &&
                      absl::SimpleAtoi(std::string(id.substr(prefix_.size() + 1)), &n) && n > 0 && n < next_;
  if (issued) {
    return absl::FailedPreconditionError(troupe::StrCat(
        kExpired, ": execution ", troupe::Quoted(id),
        " ended more than execution_ttl_seconds ago or was pushed out by executions_kept; "
        "its result is gone"));
  }
  return absl::NotFoundError(troupe::StrCat(
      "unknown execution ", troupe::Quoted(id),
      " (ids are valid until the HTTP API restarts: an id from before a restart is unknown)"));
}

void Executions::DropExpired(absl::Time now) {
  while (!ended_order_.empty()) {
    auto it = records_.find(ended_order_.front());
    if (it != records_.end() && now - it->second.ended < ttl_) break;
    if (it != records_.end()) records_.erase(it);
    ended_order_.pop_front();
  }
}

}  // namespace troupe::http
