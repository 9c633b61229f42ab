// isolated_load.cc - HostCore::LoadIsolated: versions whose effective
// isolation is process (bundle::EffectiveIsolation) come here from
// LoadVerified, and only here (host_core.h).
#include "daemon/hosting/host_core.h"

namespace troupe::hosting {

absl::StatusOr<LoadOutcome> HostCore::LoadIsolated(bundle::VerifiedBundle verified,
                                                   Activation /*activation*/,
                                                   bool /*store_copy*/,
                                                   const bundle::IsolationDecision& isolation) {
  // No isolated host exists in this daemon: refuse before anything of the
  // version is stored or opened, so inline bundles are not disturbed.
  absl::Status refused = absl::UnimplementedError(troupe::StrCat(
      "bundle '", verified.manifest.group(), "' version '", verified.manifest.version(),
      "' must run isolated (", isolation.reason,
      ") but this daemon cannot run isolated hosts yet"));
  LogWarning("hosting: ", StatusText(refused));
  return refused;
}

}  // namespace troupe::hosting
