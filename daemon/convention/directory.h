// directory.h - every daemon's view of the convention: who the members are,
// with their last known capabilities, bundles and load. On the leader it
// mirrors the roster; on a member it is filled from the leader's pushes.
// Placement, the peer links and `director status` read it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/common/mutex.h"
#include "daemon/convention/roster.h"
#include "troupe/v1/convention.pb.h"

namespace troupe::convention {

// Thread-safe.
class Directory {
 public:
  explicit Directory(std::string self) : self_(std::move(self)) {}

  const std::string& self() const { return self_; }

  // Applies one change; returns false when it changed nothing (a JOINED for a
  // member already listed with the same incarnation, a LEFT for an unknown one).
  bool Apply(const RosterEvent& event);
  // Replaces the whole view (a leader's welcome) and returns the changes that
  // turn the old view into the new one: LEFT for members gone (or replaced by a
  // new incarnation), JOINED for new ones, CAPABILITIES for changed ones.
  std::vector<RosterEvent> Replace(const std::vector<v1::MemberInfo>& members);
  // Updates load figures and bundles (check-in acknowledgements); no events.
  void UpdateLoads(const std::vector<v1::MemberInfo>& loads);
  // Drops everyone but this daemon (the leader was lost); returns LEFT events.
  std::vector<RosterEvent> Clear(std::string_view reason);

  std::vector<v1::MemberInfo> Members() const;
  std::optional<v1::MemberInfo> Find(std::string_view address) const;
  bool Contains(std::string_view address) const;
  std::string leader() const;

 private:
  const std::string self_;
  mutable troupe::Mutex mu_;
  std::vector<v1::MemberInfo> members_ ABSL_GUARDED_BY(mu_);
};

}  // namespace troupe::convention
