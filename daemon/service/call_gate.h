// call_gate.h - who may send a request body to troupd's TCP listener, decided
// from the call's metadata alone, before gRPC reads the body. The handlers
// check again (ClientAuth::Check, PeerVerifier::Authenticate); the gate makes
// sure an unauthenticated peer never gets a request buffered: a refused call
// is ended with UNAUTHENTICATED while only its headers have arrived, so what
// such a peer can make the daemon hold is bounded by HTTP/2 flow control.
//
// On TCP every call needs credentials:
// - /troupe.v1.Convention/* a troupe-peer-auth proof of the convention key
//   for that method, within the clock window, with a nonce not seen before
//   (so a replayed header cannot make the daemon read a body either), and
//   only when this daemon takes part in a convention;
// - everything else (Admin, Messaging, health, reflection) the client token
//   as "authorization: Bearer <token>".
// The unix socket has no gate: its file mode decides who connects.
//
// Thread-safe; immutable once the server runs.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "daemon/service/client_auth.h"
#include "grpcpp/security/server_credentials.h"

namespace troupe::service {

class CallGate {
 public:
  // `peer_check(value, method)`: OK when `value` (the troupe-peer-auth
  // metadata, nullopt when absent) is a fresh, authentic proof for `method`
  // (PeerVerifier::Admit). Empty: this daemon is in no convention.
  using PeerCheck =
      std::function<absl::Status(std::optional<std::string_view> value, std::string_view method)>;

  // `auth` must outlive the gate.
  CallGate(const ClientAuth* auth, PeerCheck peer_check)
      : auth_(auth), peer_check_(std::move(peer_check)) {}

  // The metadata of one call the gate looks at.
  struct Call {
    std::string_view path;  // ":path", e.g. "/troupe.v1.Admin/Load"
    std::optional<std::string_view> authorization;
    std::optional<std::string_view> peer_auth;  // troupe-peer-auth
    int peer_auth_count = 0;
  };
  // OK, or UNAUTHENTICATED with the reason (logged).
  absl::Status Decide(const Call& call) const;

  // Server credentials for the TCP listener that run the gate on every call:
  // plain HTTP/2 (`tls` null) or `tls` (peerauth::MakeServerCredentials).
  // The gate must outlive the server.
  std::shared_ptr<grpc::ServerCredentials> Guard(
      std::shared_ptr<grpc::ServerCredentials> tls) const;

 private:
  // True for the 1st, 2nd, 4th, 8th, ... refusal.
  bool ShouldLogRefusal() const;
  // " (N TCP calls refused so far; ...)" once there were several.
  std::string RefusalCount() const;

  const ClientAuth* const auth_;
  const PeerCheck peer_check_;
  mutable std::atomic<uint64_t> refusals_{0};
};

}  // namespace troupe::service
