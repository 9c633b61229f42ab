// peer_guard.h - peer authentication as the convention code uses it
// (daemon/peerauth underneath): sign an outgoing call, check the answering
// daemon's proof, authenticate an incoming call, and the channel credentials
// (TLS when configured).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/peerauth/convention_key.h"
#include "daemon/peerauth/peer_signer.h"
#include "daemon/peerauth/peer_verifier.h"
#include "grpcpp/grpcpp.h"

namespace troupe::convention {

// Thread-safe.
class PeerGuard {
 public:
  PeerGuard(peerauth::ConventionKey key, std::string self,
            std::shared_ptr<grpc::ChannelCredentials> channel_credentials,
            peerauth::PeerVerifierOptions verifier_options = {})
      : key_(key),
        self_(self),
        channel_credentials_(std::move(channel_credentials)),
        verifier_(key, std::move(self), verifier_options) {}

  // Adds this daemon's proof of the convention key to a call of `method`
  // (the full method name, "/troupe.v1.Convention/Join"), before it starts.
  peerauth::CallSignature Sign(grpc::ClientContext* context, std::string_view method) const {
    return peerauth::SignCall(context, key_, self_, method);
  }
  // Once the answer's initial metadata arrived: did the called daemon prove
  // the convention key? UNAUTHENTICATED otherwise.
  absl::Status CheckAnswer(const grpc::ClientContext& context,
                           const peerauth::CallSignature& signature) const {
    return peerauth::VerifyProof(context, key_, signature).status();
  }
  // Authenticates an incoming call of `method` and adds this daemon's proof
  // to its answer. The calling daemon's node name, or UNAUTHENTICATED (the
  // refusal is logged with the caller's address).
  absl::StatusOr<std::string> Verify(grpc::ServerContextBase* context, std::string_view method) {
    absl::StatusOr<peerauth::VerifiedPeer> peer = verifier_.Authenticate(context, method);
    if (!peer.ok()) return peer.status();
    return peer->node;
  }
  // Before a request body is read: is `value` an authentic, fresh proof for
  // `method`, with a nonce not seen before? (PeerVerifier::Admit.)
  absl::Status Admit(std::optional<std::string_view> value, std::string_view method) {
    return verifier_.Admit(value, method);
  }
  std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials() const {
    return channel_credentials_;
  }
  const std::string& self() const { return self_; }

 private:
  const peerauth::ConventionKey key_;
  const std::string self_;
  const std::shared_ptr<grpc::ChannelCredentials> channel_credentials_;
  peerauth::PeerVerifier verifier_;
};

}  // namespace troupe::convention
