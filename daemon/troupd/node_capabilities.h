// node_capabilities.h - the capabilities troupd gives its actor system at
// start: read-only facts about this node (troupe.host, troupe.cores,
// troupe.memory_bytes, troupe.version, troupe.abi_version) and the values in
// TROUPE_DIR's capability files (daemon/config/capabilities.h).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace troupe::runtime {
class ActorSystem;
}

namespace troupe::troupd {

// This node's read-only capabilities as (name, JSON value), in the order of
// config::kReadOnlyCapabilities: the host name, the cores this process may
// run on, physical memory in bytes, `troupe_version`, and the ABI version
// the runtime hosts ("1.2").
std::vector<std::pair<std::string, std::string>> NodeFacts(std::string_view troupe_version);

// Sets NodeFacts as read-only capabilities of `system`, then the values from
// the capability files of `troupe_dir`. FailedPrecondition listing each bad
// file and its problem (Config::Check reports the same problems earlier).
absl::Status InstallCapabilities(std::string_view troupe_dir, std::string_view troupe_version,
                                 runtime::ActorSystem* system);

}  // namespace troupe::troupd
