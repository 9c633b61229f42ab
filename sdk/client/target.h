// target.h - what Client::Connect accepts as a daemon address, and the gRPC
// target it becomes.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace troupe::client_internal {

struct Target {
  std::string grpc_target;  // what grpc::CreateChannel gets: "unix:/abs/path" or "host:port"
  std::string display;      // how messages name it (the same, today)
  bool unix_socket = false;
  std::string socket_path;  // unix sockets only: the path on disk
};

// "unix:PATH", "unix:///PATH" and a bare path (absolute, or relative to the
// working directory when it holds no ':') name a unix socket; anything else
// with a ':' ("host:port", "[::1]:port", "dns:///host:port", "ipv4:...") is
// a TCP target. INVALID_ARGUMENT when empty.
absl::StatusOr<Target> ParseTarget(std::string_view text);

}  // namespace troupe::client_internal
