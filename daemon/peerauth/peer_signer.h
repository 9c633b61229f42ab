// peer_signer.h - the calling side of peer authentication: a daemon that
// calls a peer's Convention service signs every call with the convention key
// (SignCall), and checks the peer's answer proves the same key (VerifyProof)
// before it trusts anything it reads from the call. Wire format: proof.h.
//
// gRPC attaches no CallCredentials to insecure channels, so the proof is
// plain request metadata that SignCall adds itself (it works the same over TLS).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "daemon/common/clock.h"
#include "daemon/peerauth/convention_key.h"

namespace grpc {
class ClientContext;
}  // namespace grpc

namespace troupe::peerauth {

// What the caller keeps from SignCall to check the server's proof.
struct CallSignature {
  std::string node;    // the caller's node name as signed
  std::string method;  // the full method name as signed
  std::string nonce;   // 32 hex digits, fresh per call
  std::string header;  // the troupe-peer-auth value that was added
};

// Adds troupe-peer-auth metadata to `context` (call before the call starts):
// proof of `key` bound to `self_node` (this daemon's host:port), the time
// (from `clock`), a fresh nonce and `method`, the full gRPC method name as in
// "/troupe.v1.Convention/Join". One ClientContext per call, so one signature
// per call. Thread-safe (no shared state).
CallSignature SignCall(grpc::ClientContext* context, const ConventionKey& key,
                       std::string_view self_node, std::string_view method,
                       const Clock& clock = *RealClock::Get());

// Checks the server's troupe-peer-proof initial metadata against `signature`
// and returns the server's node name (as it proved it; compare it with whom
// you meant to call if that matters). Unauthenticated: "the peer refused this
// daemon's call: <its reason>" (its PeerVerifier::Authenticate refused the
// call and finishes it), "the peer sent no troupe-peer-proof", or "the peer's
// troupe-peer-proof does not prove the convention key" (or a malformed one).
// On a stream, cancel the call when it fails (context.TryCancel()); that
// turns the call's status into CANCELLED, so report this message instead.
//
// Call it only once the server's initial metadata has arrived (gRPC aborts
// otherwise): after a unary call returned (with an OK status; a refused
// call's status already says why); after
// ClientReaderWriter::WaitForInitialMetadata() or the first Read(); in a
// callback reactor's OnReadInitialMetadataDone(true) or, at the latest,
// before using the first message in OnReadDone(true). Not concurrently with
// other readers of the context's initial metadata.
absl::StatusOr<std::string> VerifyProof(const grpc::ClientContext& context,
                                        const ConventionKey& key, const CallSignature& signature);

}  // namespace troupe::peerauth
