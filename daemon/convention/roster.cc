// roster.cc - see roster.h.
#include "daemon/convention/roster.h"

#include <optional>

#include <utility>

#include "daemon/common/strings.h"

namespace troupe::convention {

namespace {
// Whether two entries list different bundles (hash and active state).
bool BundlesDiffer(const v1::MemberInfo& a, const v1::MemberInfo& b) {
  if (a.bundles_size() != b.bundles_size()) return true;
  for (int i = 0; i < a.bundles_size(); ++i) {
    if (a.bundles(i).hash() != b.bundles(i).hash() ||
        a.bundles(i).active() != b.bundles(i).active()) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::optional<v1::RosterChangeKind> ChangeOf(const v1::MemberInfo& before,
                                             const v1::MemberInfo& now) {
  if (before.capabilities_json() != now.capabilities_json()) return v1::ROSTER_CHANGE_CAPABILITIES;
  if (BundlesDiffer(before, now)) return v1::ROSTER_CHANGE_BUNDLES;
  return std::nullopt;
}


int64_t ToUnixMs(absl::Time t) { return absl::ToUnixMillis(t); }

Roster::Roster(v1::MemberInfo leader, absl::Duration checkin_interval, int missed_checkins)
    : checkin_interval_(checkin_interval), missed_checkins_(missed_checkins) {
  leader.set_leader(true);
  members_.push_back(std::move(leader));
  last_seen_.push_back(absl::InfiniteFuture());
}

v1::MemberInfo* Roster::Find(std::string_view address) {
  for (v1::MemberInfo& m : members_) {
    if (m.address() == address) return &m;
  }
  return nullptr;
}

bool Roster::Contains(std::string_view address) const {
  for (const v1::MemberInfo& m : members_) {
    if (m.address() == address) return true;
  }
  return false;
}

absl::StatusOr<std::vector<RosterEvent>> Roster::Register(v1::MemberInfo info, absl::Time now) {
  if (info.address().empty()) {
    return absl::InvalidArgumentError("a registration needs the member's address");
  }
  if (info.address() == members_[0].address()) {
    return absl::FailedPreconditionError(troupe::StrCat(
        "a member registered with the leader's own address ", info.address(),
        "; give each daemon its own listen_tcp"));
  }
  info.set_leader(false);
  info.set_last_checkin_unix_ms(ToUnixMs(now));
  std::vector<RosterEvent> events;
  v1::MemberInfo* existing = Find(info.address());
  if (existing != nullptr && existing->incarnation() != info.incarnation()) {
    // The daemon restarted before it expired: its old actors are gone.
    const size_t i = static_cast<size_t>(existing - members_.data());
    events.push_back({v1::ROSTER_CHANGE_LEFT, std::move(members_[i]), "restarted"});
    members_.erase(members_.begin() + static_cast<std::ptrdiff_t>(i));
    last_seen_.erase(last_seen_.begin() + static_cast<std::ptrdiff_t>(i));
    existing = nullptr;
  }
  if (existing != nullptr) {
    const std::optional<v1::RosterChangeKind> change = ChangeOf(*existing, info);
    info.set_joined_unix_ms(existing->joined_unix_ms());
    *existing = info;
    last_seen_[existing - members_.data()] = now;
    if (change) events.push_back({*change, info, "registered again"});
    return events;
  }
  info.set_joined_unix_ms(ToUnixMs(now));
  members_.push_back(info);
  last_seen_.push_back(now);
  events.push_back({v1::ROSTER_CHANGE_JOINED, std::move(info), ""});
  return events;
}

absl::StatusOr<std::vector<RosterEvent>> Roster::CheckIn(const v1::MemberInfo& info,
                                                         absl::Time now) {
  v1::MemberInfo* existing = Find(info.address());
  if (existing == nullptr || existing == &members_[0] ||
      existing->incarnation() != info.incarnation()) {
    return absl::NotFoundError(
        troupe::StrCat(info.address(), " is not a member (expired or left); register again"));
  }
  const std::optional<v1::RosterChangeKind> change = ChangeOf(*existing, info);
  const int64_t joined = existing->joined_unix_ms();
  *existing = info;
  existing->set_leader(false);
  existing->set_joined_unix_ms(joined);
  existing->set_last_checkin_unix_ms(ToUnixMs(now));
  last_seen_[existing - members_.data()] = now;
  std::vector<RosterEvent> events;
  if (change) events.push_back({*change, *existing, ""});
  return events;
}

std::vector<RosterEvent> Roster::Leave(std::string_view address, std::string_view reason) {
  for (size_t i = 1; i < members_.size(); ++i) {
    if (members_[i].address() != address) continue;
    RosterEvent event{v1::ROSTER_CHANGE_LEFT, std::move(members_[i]), std::string(reason)};
    members_.erase(members_.begin() + static_cast<std::ptrdiff_t>(i));
    last_seen_.erase(last_seen_.begin() + static_cast<std::ptrdiff_t>(i));
    return {std::move(event)};
  }
  return {};
}

std::vector<RosterEvent> Roster::Expire(absl::Time now) {
  std::vector<RosterEvent> events;
  for (size_t i = 1; i < members_.size();) {
    if (now - last_seen_[i] <= expiry()) {
      ++i;
      continue;
    }
    events.push_back({v1::ROSTER_CHANGE_EXPIRED, std::move(members_[i]),
                      troupe::StrCat("missed ", missed_checkins_, " check-ins (none for ",
                                     absl::FormatDuration(now - last_seen_[i]), ")")});
    members_.erase(members_.begin() + static_cast<std::ptrdiff_t>(i));
    last_seen_.erase(last_seen_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  return events;
}

std::vector<RosterEvent> Roster::UpdateLeader(v1::MemberInfo leader) {
  const std::optional<v1::RosterChangeKind> change = ChangeOf(members_[0], leader);
  leader.set_leader(true);
  leader.set_joined_unix_ms(members_[0].joined_unix_ms());
  members_[0] = std::move(leader);
  if (!change) return {};
  return {{*change, members_[0], ""}};
}

std::vector<v1::MemberInfo> Roster::Members() const { return members_; }

}  // namespace troupe::convention
