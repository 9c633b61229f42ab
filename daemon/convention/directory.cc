// directory.cc - see directory.h.
#include "daemon/convention/directory.h"

#include <algorithm>

namespace troupe::convention {

bool Directory::Apply(const RosterEvent& event) {
  troupe::MutexLock lock(&mu_);
  auto it = std::find_if(members_.begin(), members_.end(), [&](const v1::MemberInfo& m) {
    return m.address() == event.member.address();
  });
  switch (event.kind) {
    case v1::ROSTER_CHANGE_JOINED:
    case v1::ROSTER_CHANGE_CAPABILITIES:
    case v1::ROSTER_CHANGE_BUNDLES:
      if (it == members_.end()) {
        members_.push_back(event.member);
        return true;
      }
      if (event.kind == v1::ROSTER_CHANGE_JOINED &&
          it->incarnation() == event.member.incarnation()) {
        return false;
      }
      *it = event.member;
      return true;
    case v1::ROSTER_CHANGE_LEFT:
    case v1::ROSTER_CHANGE_EXPIRED:
      if (it == members_.end()) return false;
      if (event.member.incarnation() != 0 && it->incarnation() != event.member.incarnation()) {
        return false;  // an older incarnation left; the current one stays
      }
      members_.erase(it);
      return true;
    default:
      return false;
  }
}

std::vector<RosterEvent> Directory::Replace(const std::vector<v1::MemberInfo>& members) {
  troupe::MutexLock lock(&mu_);
  std::vector<RosterEvent> events;
  for (const v1::MemberInfo& old : members_) {
    auto it = std::find_if(members.begin(), members.end(), [&](const v1::MemberInfo& m) {
      return m.address() == old.address();
    });
    if (it == members.end() || it->incarnation() != old.incarnation()) {
      events.push_back({v1::ROSTER_CHANGE_LEFT, old,
                        it == members.end() ? "not in the leader's roster" : "restarted"});
    }
  }
  for (const v1::MemberInfo& now : members) {
    auto it = std::find_if(members_.begin(), members_.end(), [&](const v1::MemberInfo& m) {
      return m.address() == now.address();
    });
    if (it == members_.end() || it->incarnation() != now.incarnation()) {
      events.push_back({v1::ROSTER_CHANGE_JOINED, now, ""});
    } else if (std::optional<v1::RosterChangeKind> change = ChangeOf(*it, now)) {
      events.push_back({*change, now, ""});
    }
  }
  members_ = members;
  return events;
}

void Directory::UpdateLoads(const std::vector<v1::MemberInfo>& loads) {
  troupe::MutexLock lock(&mu_);
  for (const v1::MemberInfo& load : loads) {
    for (v1::MemberInfo& m : members_) {
      if (m.address() != load.address()) continue;
      *m.mutable_load() = load.load();
      *m.mutable_bundles() = load.bundles();
      m.set_last_checkin_unix_ms(load.last_checkin_unix_ms());
    }
  }
}

std::vector<RosterEvent> Directory::Clear(std::string_view reason) {
  troupe::MutexLock lock(&mu_);
  std::vector<RosterEvent> events;
  std::vector<v1::MemberInfo> kept;
  for (v1::MemberInfo& m : members_) {
    if (m.address() == self_) {
      kept.push_back(std::move(m));
    } else {
      events.push_back({v1::ROSTER_CHANGE_LEFT, std::move(m), std::string(reason)});
    }
  }
  members_ = std::move(kept);
  return events;
}

std::vector<v1::MemberInfo> Directory::Members() const {
  troupe::MutexLock lock(&mu_);
  return members_;
}

std::optional<v1::MemberInfo> Directory::Find(std::string_view address) const {
  troupe::MutexLock lock(&mu_);
  for (const v1::MemberInfo& m : members_) {
    if (m.address() == address) return m;
  }
  return std::nullopt;
}

bool Directory::Contains(std::string_view address) const {
  return Find(address).has_value();
}

std::string Directory::leader() const {
  troupe::MutexLock lock(&mu_);
  for (const v1::MemberInfo& m : members_) {
    if (m.leader()) return m.address();
  }
  return "";
}

}  // namespace troupe::convention
