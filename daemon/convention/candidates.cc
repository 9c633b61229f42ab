#include "daemon/convention/candidates.h"

#include <algorithm>

#include "absl/strings/str_join.h"
#include "daemon/common/strings.h"
#include "daemon/runtime/actor_class.h"

namespace troupe::convention {

std::vector<Candidate> ChooseCandidates(std::vector<v1::MemberInfo> members,
                                        std::string_view self, const PlaceSpec& spec,
                                        PlacedCounts* placed,
                                        std::vector<std::string>* considered) {
  std::vector<Candidate> candidates;
  for (v1::MemberInfo& m : members) {
    if (m.address() == self) continue;
    absl::Status fits = spec.fits ? spec.fits(m.capabilities_json()) : absl::OkStatus();
    if (fits.ok() && spec.bundle_hash.empty() &&
        std::none_of(m.bundles().begin(), m.bundles().end(),
                     [&](const v1::BundleSummary& b) { return b.group() == spec.group; })) {
      fits = absl::FailedPreconditionError(
          troupe::StrCat("it has no bundle of group '", spec.group, "'"));
    }
    if (!fits.ok()) {
      considered->push_back(troupe::StrCat(m.address(), ": ", fits.message()));
      continue;
    }
    auto counted = placed->find(m.address());
    if (counted != placed->end() && counted->second.first != m.last_checkin_unix_ms()) {
      placed->erase(counted);
      counted = placed->end();
    }
    const uint64_t load = m.load().live_actors() + m.load().queued_messages() +
                          (counted == placed->end() ? 0 : counted->second.second);
    candidates.push_back({std::move(m), load});
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.load != b.load ? a.load < b.load : a.member.address() < b.member.address();
  });
  return candidates;
}

absl::Status NoMemberTookIt(const absl::Status& local_problem,
                            const std::vector<std::string>& considered) {
  return absl::FailedPreconditionError(troupe::StrCat(
      local_problem.message(), "; and no member of the convention took it (",
      considered.empty() ? std::string("no other members")
                         : troupe::StrCat("considered: ", absl::StrJoin(considered, "; ")),
      ")"));
}

std::function<absl::Status(const std::string& capabilities_json)> MakeFits(
    runtime::Requirements requirements, const runtime::ActorClass* actor_class,
    std::string class_text) {
  return [requirements = std::move(requirements), actor_class,
          class_text = std::move(class_text)](const std::string& capabilities) -> absl::Status {
    const std::string& shown = capabilities.empty() ? std::string("{}") : capabilities;
    if (absl::Status holds = runtime::CheckRequirementsOnText(requirements, capabilities);
        !holds.ok()) {
      return absl::Status(holds.code(),
                          troupe::StrCat(holds.message(), " (its capabilities: ", shown, ")"));
    }
    if (actor_class != nullptr && actor_class->has_capability_check() &&
        !actor_class->CapabilityCheck(capabilities, class_text.empty() ? "{}" : class_text)) {
      return absl::FailedPreconditionError(troupe::StrCat(
          "the capability check of '", actor_class->name(), "' refuses its capabilities"));
    }
    return absl::OkStatus();
  };
}

}  // namespace troupe::convention
