// roster.h - the leader's membership table: who is in the convention, with
// what capabilities, bundles and load, and when each member last checked in.
// Pure bookkeeping on times handed in by the caller (tests use a ManualClock),
// so expiry is exact and testable. Private to daemon/convention.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "troupe/v1/convention.pb.h"

namespace troupe::convention {

// One change to the roster, as pushed to members and subscribers.
struct RosterEvent {
  v1::RosterChangeKind kind = v1::ROSTER_CHANGE_UNSPECIFIED;
  v1::MemberInfo member;
  std::string reason;
};

// Not thread-safe: the owner serializes calls.
class Roster {
 public:
  // `leader` is the leader's own entry (always first, never expires).
  // A member that has not checked in for `missed_checkins` check-in periods is
  // expired by Expire.
  Roster(v1::MemberInfo leader, absl::Duration checkin_interval, int missed_checkins);

  // A member registers (or registers again, e.g. after its leader restarted or
  // its stream broke). JOINED when it was not a member; LEFT ("restarted")
  // then JOINED when it was, with another incarnation; CAPABILITIES when its
  // capabilities changed; nothing otherwise. InvalidArgument for an
  // empty address; FailedPrecondition for the leader's own address (typically
  // a member configured with the leader's listener).
  absl::StatusOr<std::vector<RosterEvent>> Register(v1::MemberInfo info, absl::Time now);
  // A check-in: refreshes the entry (load, bundles, capabilities).
  // CAPABILITIES when they changed. NotFound when `info.address` is not a
  // member (it expired or left): it must register again.
  absl::StatusOr<std::vector<RosterEvent>> CheckIn(const v1::MemberInfo& info, absl::Time now);
  // Graceful leave. LEFT, or nothing for an unknown address.
  std::vector<RosterEvent> Leave(std::string_view address, std::string_view reason);
  // Removes every member whose last check-in is older than the expiry
  // interval at `now`: one EXPIRED event each.
  std::vector<RosterEvent> Expire(absl::Time now);
  // The leader's own capabilities, bundles or load changed. CAPABILITIES when
  // the capabilities did.
  std::vector<RosterEvent> UpdateLeader(v1::MemberInfo leader);

  // Every member, the leader first, then in joining order.
  std::vector<v1::MemberInfo> Members() const;
  bool Contains(std::string_view address) const;
  absl::Duration expiry() const { return checkin_interval_ * missed_checkins_; }

 private:
  v1::MemberInfo* Find(std::string_view address);

  absl::Duration checkin_interval_;
  int missed_checkins_;
  std::vector<v1::MemberInfo> members_;  // [0] is the leader
  std::vector<absl::Time> last_seen_;    // parallel to members_
};

// The event a new entry `now` of the same incarnation as `before` makes,
// if any: CAPABILITIES when they differ (the entry carries the bundles too),
// else BUNDLES when the bundle lists differ (hash or active state).
std::optional<v1::RosterChangeKind> ChangeOf(const v1::MemberInfo& before,
                                             const v1::MemberInfo& now);

// Milliseconds since the Unix epoch, as the roster stores times.
int64_t ToUnixMs(absl::Time t);

}  // namespace troupe::convention
