// convention_text.cc - see convention_text.h.
#include "daemon/service/convention_text.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "daemon/common/strings.h"

namespace troupe::service {

std::string FormatConventionStatus(const v1::ConventionStatusResponse& c) {
  if (c.role() == "alone" || c.role().empty()) return "convention: none (this daemon is alone)\n";
  std::string out;
  if (c.role() == "leader") {
    out = absl::StrFormat("convention: leader %s, %d members (check-in every %d ms, expiry after %d missed)\n",
                          c.self(), c.members_size(), c.checkin_interval_ms(), c.missed_checkins());
  } else {
    out = absl::StrFormat(
        "convention: member %s of leader %s (%s)\n", c.self(), c.leader(),
        c.joined()              ? std::string("joined")
        : c.problem().empty()   ? std::string("not joined: registering")
                                : "not joined: " + c.problem());
  }
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  for (const v1::MemberInfo& m : c.members()) {
    std::string bundles;
    for (const v1::BundleSummary& b : m.bundles()) {
      troupe::StrAppend(&bundles, bundles.empty() ? "" : ", ", b.group(), " ", b.version(),
                        b.active() ? "" : " (inactive)");
    }
    std::string seen = m.leader() ? "leader"
                                   : absl::StrFormat("checked in %d ms ago",
                                                     std::max<int64_t>(0, now_ms - m.last_checkin_unix_ms()));
    out += absl::StrFormat("  %s%s: %d actors, %d queued, %s\n", m.address(),
                           m.address() == c.self() ? " (this daemon)" : "", m.load().live_actors(),
                           m.load().queued_messages(), seen);
    out += absl::StrFormat("    capabilities: %s\n", m.capabilities_json());
    out += absl::StrFormat("    bundles: %s\n", bundles.empty() ? "none" : bundles);
  }
  for (const std::string& invited : c.invited()) {
    out += absl::StrFormat("  %s: invited, not joined yet\n", invited);
  }
  // The leader's table of convention-wide global names.
  if (c.global_names_size() > 0) {
    out += absl::StrFormat("  global names (%d):\n", c.global_names_size());
    for (const v1::GlobalName& name : c.global_names()) {
      out += absl::StrFormat("    %s: %s\n", name.name(), name.address());
    }
  }
  return out;
}

}  // namespace troupe::service
