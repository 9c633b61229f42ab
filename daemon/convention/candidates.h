// candidates.h - the convention's choice of members for a placement
// (docs/convention.md "Placement") as plain functions of a roster: which
// members fit what is placed, and the order to try them in. No locks, no
// network, no clock: placement.cc feeds them the leader's roster or the
// member's directory. Private to daemon/convention.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "daemon/runtime/requirements.h"
#include "troupe/v1/convention.pb.h"

namespace troupe::runtime {
class ActorClass;
}

namespace troupe::convention {

// What to place where (ConventionState::Place): the request as a peer's
// Place handler gets it, and the check of a member's last known capabilities.
struct PlaceSpec {
  std::string group;
  std::string class_name;
  std::string bundle_hash;  // empty: a member with the group loaded
  runtime::Requirements requirements;
  std::string global_name;
  std::string parent;  // the creator's address, or empty
  // OK when a member with these capabilities (a JSON object text) may take
  // it; otherwise why not (MakeFits).
  std::function<absl::Status(const std::string& capabilities_json)> fits;
};

// A member that may take a placement, and its load as counted for the order.
struct Candidate {
  v1::MemberInfo member;
  uint64_t load;
};

// Per member address: its last check-in time when counted, and the actors
// this daemon placed there since (ConventionState::placed).
using PlacedCounts = std::map<std::string, std::pair<int64_t, uint64_t>>;

// The members of `members` other than `self` that fit `spec`: by their last
// known capabilities (spec.fits) and, when spec.bundle_hash is empty, by
// having a bundle of spec.group loaded (with a hash the member fetches it).
// Least loaded first: live actors and queued messages at the last check-in
// plus what `placed` counts since; ties by address. An entry of `placed`
// counted before the member's latest check-in is dropped from it. Why each
// other member does not fit goes to `considered`, as "<address>: <why>".
std::vector<Candidate> ChooseCandidates(std::vector<v1::MemberInfo> members,
                                        std::string_view self, const PlaceSpec& spec,
                                        PlacedCounts* placed,
                                        std::vector<std::string>* considered);

// The failure of a placement: `local_problem` (why this daemon did not take
// it), then "; and no member of the convention took it (considered: <each
// of `considered`, by "; ">)", or "(no other members)" when none was.
absl::Status NoMemberTookIt(const absl::Status& local_problem,
                            const std::vector<std::string>& considered);

// The fit check of a member's capabilities: the runtime's evaluator on
// `requirements` (FailedPrecondition "requirement 'gpu equals true' does not
// hold (its capabilities: {})"), then, when `actor_class` is not null and
// has one, the class's own capability check with `class_text` (the object
// form; empty: "{}"). `actor_class` must outlive the check.
std::function<absl::Status(const std::string& capabilities_json)> MakeFits(
    runtime::Requirements requirements, const runtime::ActorClass* actor_class = nullptr,
    std::string class_text = {});

}  // namespace troupe::convention
