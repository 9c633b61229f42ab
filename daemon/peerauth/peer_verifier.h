// peer_verifier.h - the called side of peer authentication: every handler of
// the Convention service first calls PeerVerifier::Authenticate, which
// refuses (UNAUTHENTICATED, logged with the peer's address) a call that does
// not prove the convention key, and answers an accepted one with the
// server's own proof. Wire format: proof.h; the calling side: peer_signer.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/common/clock.h"
#include "daemon/common/mutex.h"
#include "daemon/peerauth/convention_key.h"
#include "daemon/peerauth/proof.h"

namespace grpc {
class ServerContextBase;
}  // namespace grpc

namespace troupe::peerauth {

struct PeerVerifierOptions {
  // A call's timestamp may differ from this daemon's clock by at most this
  // much (both ways); peers need roughly synchronised clocks (NTP).
  absl::Duration max_clock_skew = absl::Seconds(60);
  // Nonces of accepted calls are remembered while their timestamp is within
  // the window, at most this many. When full, the oldest is dropped and no
  // call signed at or before its time is accepted any more ("stale"), so a
  // replay is refused either way and memory stays bounded.
  size_t max_remembered_nonces = 1 << 18;
  // When TLS is configured: refuse a call whose connection did not present a
  // client certificate verified against the convention's CA (tls.h).
  bool require_client_certificate = false;
  // Every TCP call passes the listener's gate, which calls Admit (and so
  // remembers its nonce) before the handler's Verify: set by troupd, whose
  // TCP listener has the gate. Unix-socket calls are verified in full.
  bool tcp_calls_admitted_by_gate = false;
  // Time source; nullptr: the real clock. Not owned; must outlive the verifier.
  const Clock* clock = nullptr;
};

// Who called, as proved by an accepted call.
struct VerifiedPeer {
  std::string node;     // the caller's node name (host:port) it signed
  std::string address;  // the connection's peer address, e.g. "ipv4:10.0.0.2:51234"
  std::string nonce;    // the call's nonce (the server's proof binds it)
  std::string method;   // the full method name the call was signed for
};

// Checks callers' proofs of the convention key and remembers recent nonces.
// Thread-safe; one per daemon, shared by every handler; owns its key.
class PeerVerifier {
 public:
  PeerVerifier(ConventionKey key, std::string self_node, PeerVerifierOptions options = {});

  // The whole check for one call; call it first in every handler (sync
  // grpc::ServerContext or callback grpc::CallbackServerContext), before
  // reading a request or sending anything. In order:
  // RequireVerifiedPeerCertificate (when required), Verify, then AddProof,
  // or on refusal AddRefusal. `method` is the handler's full method name
  // ("/troupe.v1.Convention/Join"). Unauthenticated on refusal (already
  // logged; finish the call with it and nothing else).
  absl::StatusOr<VerifiedPeer> Authenticate(grpc::ServerContextBase* context,
                                            std::string_view method);

  // Checks the call's troupe-peer-auth metadata: present once, well-formed, a
  // MAC made with the convention key for `method`, a timestamp within the
  // window, a nonce not seen before. Refusals are Unauthenticated ("no
  // troupe-peer-auth metadata", "bad proof of the convention key", "stale
  // timestamp ...", "replayed nonce") and logged with context.peer().
  absl::StatusOr<VerifiedPeer> Verify(const grpc::ServerContextBase& context,
                                      std::string_view method);
  // Verify on a metadata value (nullopt: none was sent) and a peer address;
  // what Verify does after reading the context.
  absl::StatusOr<VerifiedPeer> VerifyValue(std::optional<std::string_view> value,
                                           std::string_view method, std::string_view peer_address);

  // What the TCP listener's gate (daemon/service/call_gate.h) asks before a
  // request body is read: VerifyValue's checks (well-formed, authentic for
  // `method`, within the clock window, a nonce not seen before, which is
  // remembered now), without logging. With
  // PeerVerifierOptions::tcp_calls_admitted_by_gate, Verify then skips the
  // nonce check for TCP calls.
  absl::Status Admit(std::optional<std::string_view> value, std::string_view method);

  // Adds the server's troupe-peer-proof for `peer` to the call's initial
  // metadata. Only after Verify accepted the call, and before anything is
  // sent on it (a message, initial metadata or the status).
  void AddProof(grpc::ServerContextBase* context, const VerifiedPeer& peer) const;
  // The troupe-peer-proof value AddProof adds.
  std::string ProofValue(const VerifiedPeer& peer) const;
  // Adds troupe-peer-refusal (the reason) to the call's initial metadata, so
  // the caller's VerifyProof reports why it was refused.
  static void AddRefusal(grpc::ServerContextBase* context, const absl::Status& refusal);

  // The node name the proofs carry (a port chosen at bind time may be set late).
  void SetSelfNode(std::string self_node);
  std::string self_node() const;

  size_t RememberedNoncesForTest() const;

 private:
  void Forget(int64_t older_than_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<internal::AuthFields> CheckFields(std::optional<std::string_view> value,
                                                   std::string_view method) const;
  // Refuses a replayed (or not provably fresh) nonce, else remembers it.
  absl::Status RememberNonce(const internal::AuthFields& fields);

  const ConventionKey key_;
  const PeerVerifierOptions options_;
  const Clock* const clock_;

  mutable troupe::Mutex mu_;
  std::string self_node_ ABSL_GUARDED_BY(mu_);
  // Accepted nonces with their timestamps, by time (for expiry) and by nonce.
  std::set<std::pair<int64_t, std::string>> by_time_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> nonces_ ABSL_GUARDED_BY(mu_);
  // Calls signed at or before this time (unix ms) are refused: their nonces
  // may have been dropped from a full cache.
  int64_t floor_ms_ ABSL_GUARDED_BY(mu_) = INT64_MIN;
};

}  // namespace troupe::peerauth
