// client_auth.h - who may call troupd. Calls over the unix socket are trusted:
// the socket's file mode (0600, in a 0700 directory) already decided who can
// connect. Calls over TCP must carry the client token (the contents of
// <TROUPE_DIR>/keys/client.token) as "authorization: Bearer <token>" metadata;
// anything else is refused with UNAUTHENTICATED and logged with the peer.
// Thread-safe; immutable after construction.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace troupe::service {

class ClientAuth {
 public:
  // No TCP clients: every non-unix peer is refused.
  ClientAuth() = default;
  explicit ClientAuth(std::string token) : token_(std::move(token)) {}

  // Reads the token file, creating it (32 random bytes, hex, mode 0600) when
  // it does not exist. FailedPrecondition for a file others can read or a
  // token shorter than 32 characters.
  static absl::StatusOr<ClientAuth> FromTokenFile(const std::string& path);

  // OK for a unix-socket peer or a TCP peer with the right token.
  grpc::Status Check(const grpc::ServerContextBase& context) const;

  // True when TCP clients are enabled and `authorization` (the metadata
  // value; nullopt when absent) is "Bearer <the token>". Constant time.
  bool TokenMatches(std::optional<std::string_view> authorization) const;
  bool tcp_enabled() const { return !token_.empty(); }

  // The refusal of a call without the right token.
  static constexpr char kRefusal[] =
      "missing or wrong client token: send the contents of the daemon's keys/client.token as "
      "'authorization: Bearer <token>'";

 private:
  std::string token_;  // empty: TCP disabled
};

}  // namespace troupe::service
