// peer_signer.cc - signing calls to peers and checking their proofs.
#include "daemon/peerauth/peer_signer.h"

#include <sodium.h>

#include "daemon/common/strings.h"
#include "daemon/peerauth/proof.h"
#include "grpcpp/client_context.h"

namespace troupe::peerauth {

CallSignature SignCall(grpc::ClientContext* context, const ConventionKey& key,
                       std::string_view self_node, std::string_view method, const Clock& clock) {
  internal::InitSodiumOrDie();
  uint8_t nonce[internal::kNonceBytes];
  randombytes_buf(nonce, sizeof nonce);
  CallSignature signature;
  signature.node = std::string(self_node);
  signature.method = std::string(method);
  signature.nonce = Hex(nonce, sizeof nonce);
  const std::string unix_ms = troupe::StrCat(absl::ToUnixMillis(clock.Now()));
  const internal::Mac mac = internal::ComputeMac(
      key, internal::kCallLabel, {signature.node, unix_ms, signature.nonce, signature.method});
  signature.header = troupe::StrCat(internal::kVersion, " ", signature.node, " ", unix_ms, " ",
                                    signature.nonce, " ", Hex(mac.data(), mac.size()));
  context->AddMetadata(std::string(kAuthMetadataKey), signature.header);
  return signature;
}

absl::StatusOr<std::string> VerifyProof(const grpc::ClientContext& context,
                                        const ConventionKey& key, const CallSignature& signature) {
  const auto& metadata = context.GetServerInitialMetadata();
  if (metadata.empty()) {
    // A troupd always answers with metadata; one that refuses a call from
    // its headers (its TCP gate, daemon/service/call_gate.h) ends it before
    // answering, with the reason in the status and its log.
    return absl::UnauthenticatedError(troupe::StrCat(
        "the peer sent no ", kProofMetadataKey,
        ": it refused this daemon's proof of the convention key before answering (its log says "
        "why), or it is not a troupd of this convention"));
  }
  if (auto refusal =
          metadata.find(grpc::string_ref(kRefusalMetadataKey.data(), kRefusalMetadataKey.size()));
      refusal != metadata.end()) {
    return absl::UnauthenticatedError(
        troupe::StrCat("the peer refused this daemon's call: ",
                       std::string_view(refusal->second.data(), refusal->second.size())));
  }
  auto [first, last] =
      metadata.equal_range(grpc::string_ref(kProofMetadataKey.data(), kProofMetadataKey.size()));
  if (first == last) {
    return absl::UnauthenticatedError(
        troupe::StrCat("the peer sent no ", kProofMetadataKey,
                       ": it is not a troupd of this convention (or too old)"));
  }
  if (std::next(first) != last) {
    return absl::UnauthenticatedError(
        troupe::StrCat("the peer sent more than one ", kProofMetadataKey));
  }
  const std::string_view value(first->second.data(), first->second.size());
  absl::StatusOr<internal::ProofFields> proof = internal::ParseProof(value);
  if (!proof.ok()) return absl::UnauthenticatedError(proof.status().message());
  if (!internal::MacMatches(key, proof->mac, internal::kProofLabel,
                            {signature.nonce, signature.method, signature.node, proof->node})) {
    return absl::UnauthenticatedError(
        troupe::StrCat("the peer's ", kProofMetadataKey,
                       " does not prove the convention key (a different key, or an impostor)"));
  }
  return std::string(proof->node);
}

}  // namespace troupe::peerauth
