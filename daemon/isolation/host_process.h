// host_process.h - the inside of an isolated host (the troupe-host program):
// it reads HostStart from its link, opens the bundle's libraries from the
// descriptors it inherited, runs them in its own ActorSystem (its part of
// the node's id space; every other address is reached through the daemon,
// its only local member and cluster) and serves the daemon's creates until
// HostShutdown or the end of the link. Links the runtime and the loader, not
// gRPC.
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace troupe::isolation {

// Runs the host on the connected stream socket `link_fd` until the daemon
// says HostShutdown (OK, after the actors had `drain_ms` to exit) or the link
// ends (Unavailable). An error before HostReady (a bad HostStart, a library
// that does not open) is also written to stderr by the caller.
absl::Status RunHost(int link_fd);

}  // namespace troupe::isolation
