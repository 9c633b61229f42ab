// isolation.cc - the rule that decides where a bundle version runs; see
// isolation.h.
#include "daemon/bundle/isolation.h"

#include "daemon/common/strings.h"

namespace troupe::bundle {

IsolationDecision EffectiveIsolation(std::string_view manifest_isolation,
                                     std::string_view signer_key_id, bool signer_isolated,
                                     Isolation daemon_default) {
  const std::optional<Isolation> asked = ParseIsolation(manifest_isolation);
  if (signer_isolated) {
    std::string reason = StrCat("signer ", signer_key_id, " is trusted --isolated");
    if (asked == Isolation::kInline) StrAppend(&reason, " (the manifest's inline does not apply)");
    return {Isolation::kProcess, std::move(reason)};
  }
  if (asked.has_value()) {
    return {*asked, StrCat("the manifest says ", IsolationName(*asked))};
  }
  if (!manifest_isolation.empty()) {
    // ValidateManifest refuses this; should it get here, confine it.
    return {Isolation::kProcess,
            StrCat("the manifest's isolation ", Quoted(manifest_isolation),
                   " is not inline or process")};
  }
  return {daemon_default, StrCat("isolation_default is ", IsolationName(daemon_default))};
}

}  // namespace troupe::bundle
