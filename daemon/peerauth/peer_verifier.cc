// peer_verifier.cc - checking callers' proofs; the nonce cache.
#include "daemon/peerauth/peer_verifier.h"

#include "daemon/common/logging.h"
#include "daemon/common/strings.h"
#include "daemon/peerauth/proof.h"
#include "daemon/peerauth/tls.h"
#include "grpcpp/server_context.h"

namespace troupe::peerauth {
namespace {

// "61.2 s" for 61234.
std::string SecondsText(uint64_t ms) {
  return troupe::StrCat(ms / 1000, ".", ms % 1000 / 100, " s");
}

}  // namespace

PeerVerifier::PeerVerifier(ConventionKey key, std::string self_node, PeerVerifierOptions options)
    : key_(std::move(key)),
      options_(options),
      clock_(options.clock != nullptr ? options.clock : RealClock::Get()),
      self_node_(std::move(self_node)) {}

void PeerVerifier::SetSelfNode(std::string self_node) {
  troupe::MutexLock lock(&mu_);
  self_node_ = std::move(self_node);
}

std::string PeerVerifier::self_node() const {
  troupe::MutexLock lock(&mu_);
  return self_node_;
}

size_t PeerVerifier::RememberedNoncesForTest() const {
  troupe::MutexLock lock(&mu_);
  return nonces_.size();
}

void PeerVerifier::Forget(int64_t older_than_ms) {
  while (!by_time_.empty() && by_time_.begin()->first < older_than_ms) {
    nonces_.erase(by_time_.begin()->second);
    by_time_.erase(by_time_.begin());
  }
}

absl::StatusOr<internal::AuthFields> PeerVerifier::CheckFields(
    std::optional<std::string_view> value, std::string_view method) const {
  if (!value.has_value()) {
    return absl::UnauthenticatedError(troupe::StrCat(
        "no ", kAuthMetadataKey, " metadata (the caller is not a troupd of this convention)"));
  }
  absl::StatusOr<internal::AuthFields> fields = internal::ParseAuth(*value);
  if (!fields.ok()) return absl::UnauthenticatedError(fields.status().message());
  if (!internal::MacMatches(key_, fields->mac, internal::kCallLabel,
                            {fields->node, fields->unix_ms_text, fields->nonce, method})) {
    return absl::UnauthenticatedError(
        "bad proof of the convention key (the caller has another key, or signed "
        "another method)");
  }
  // Authentic from here on: details about the caller's clock may be told.
  const int64_t now_ms = absl::ToUnixMillis(clock_->Now());
  const int64_t skew_ms = absl::ToInt64Milliseconds(options_.max_clock_skew);
  if (fields->unix_ms > now_ms + skew_ms || fields->unix_ms < now_ms - skew_ms) {
    const bool before = fields->unix_ms < now_ms;
    // Unsigned: no overflow whatever timestamp the caller signed.
    const uint64_t off_ms = before ? uint64_t(now_ms) - uint64_t(fields->unix_ms)
                                   : uint64_t(fields->unix_ms) - uint64_t(now_ms);
    return absl::UnauthenticatedError(troupe::StrCat(
        "stale timestamp: the call was signed ", SecondsText(off_ms),
        before ? " before" : " after", " this daemon's time (at most ", SecondsText(skew_ms),
        " allowed; synchronise the clocks)"));
  }
  return fields;
}

absl::Status PeerVerifier::RememberNonce(const internal::AuthFields& fields) {
  const int64_t now_ms = absl::ToUnixMillis(clock_->Now());
  const int64_t skew_ms = absl::ToInt64Milliseconds(options_.max_clock_skew);
  static constexpr char kCacheFull[] =
      "stale timestamp: signed before the oldest call still remembered (the replay cache is "
      "full); sign the call again";
  std::string refusal;  // refused under the lock, logged after it
  {
    troupe::MutexLock lock(&mu_);
    Forget(now_ms - skew_ms);
    std::string nonce(fields.nonce);
    if (fields.unix_ms <= floor_ms_) {
      // Not provably fresh: its nonce may have been dropped from the full cache.
      refusal = kCacheFull;
    } else if (nonces_.contains(nonce)) {
      refusal = "replayed nonce";
    } else {
      while (!by_time_.empty() && nonces_.size() >= options_.max_remembered_nonces) {
        floor_ms_ = std::max(floor_ms_, by_time_.begin()->first);
        nonces_.erase(by_time_.begin()->second);
        by_time_.erase(by_time_.begin());
      }
      if (fields.unix_ms <= floor_ms_) {
        refusal = kCacheFull;
      } else {
        nonces_.insert(nonce);
        by_time_.emplace(fields.unix_ms, std::move(nonce));
      }
    }
  }
  if (!refusal.empty()) return absl::UnauthenticatedError(refusal);
  return absl::OkStatus();
}

absl::Status PeerVerifier::Admit(std::optional<std::string_view> value, std::string_view method) {
  absl::StatusOr<internal::AuthFields> fields = CheckFields(value, method);
  if (!fields.ok()) return fields.status();
  return RememberNonce(*fields);
}

absl::StatusOr<VerifiedPeer> PeerVerifier::VerifyValue(std::optional<std::string_view> value,
                                                       std::string_view method,
                                                       std::string_view peer_address) {
  auto refuse = [&](const std::string& reason) {
    LogWarning("refused a convention call ", method, " from ", peer_address, ": ", reason);
    return absl::UnauthenticatedError(reason);
  };
  absl::StatusOr<internal::AuthFields> fields = CheckFields(value, method);
  if (!fields.ok()) return refuse(std::string(fields.status().message()));
  // A TCP call the listener's gate admitted has had its nonce remembered
  // there (Admit); checking it again would call it a replay.
  const bool tcp = peer_address.substr(0, 5) == "ipv4:" || peer_address.substr(0, 5) == "ipv6:";
  const bool admitted = options_.tcp_calls_admitted_by_gate && tcp;
  if (!admitted) {
    if (absl::Status fresh = RememberNonce(*fields); !fresh.ok()) {
      return refuse(std::string(fresh.message()));
    }
  }
  VerifiedPeer peer;
  peer.node = std::string(fields->node);
  peer.address = std::string(peer_address);
  peer.nonce = std::string(fields->nonce);
  peer.method = std::string(method);
  LogDebug("accepted a convention call ", method, " from ", peer.node, " at ", peer_address);
  return peer;
}

absl::StatusOr<VerifiedPeer> PeerVerifier::Verify(const grpc::ServerContextBase& context,
                                                  std::string_view method) {
  const auto& metadata = context.client_metadata();
  auto [first, last] =
      metadata.equal_range(grpc::string_ref(kAuthMetadataKey.data(), kAuthMetadataKey.size()));
  const std::string peer_address = context.peer();
  if (first != last && std::next(first) != last) {
    LogWarning("refused a convention call ", method, " from ", peer_address, ": more than one ",
               kAuthMetadataKey);
    return absl::UnauthenticatedError(troupe::StrCat("more than one ", kAuthMetadataKey));
  }
  std::optional<std::string_view> value;
  if (first != last) value = std::string_view(first->second.data(), first->second.size());
  return VerifyValue(value, method, peer_address);
}

std::string PeerVerifier::ProofValue(const VerifiedPeer& peer) const {
  const std::string node = self_node();
  const internal::Mac mac =
      internal::ComputeMac(key_, internal::kProofLabel, {peer.nonce, peer.method, peer.node, node});
  return troupe::StrCat(internal::kVersion, " ", node, " ", Hex(mac.data(), mac.size()));
}

void PeerVerifier::AddProof(grpc::ServerContextBase* context, const VerifiedPeer& peer) const {
  context->AddInitialMetadata(std::string(kProofMetadataKey), ProofValue(peer));
}

void PeerVerifier::AddRefusal(grpc::ServerContextBase* context, const absl::Status& refusal) {
  std::string reason(refusal.message());
  for (char& c : reason) {
    if (c < 0x20 || c > 0x7e) c = '?';  // metadata values are printable ASCII
  }
  context->AddInitialMetadata(std::string(kRefusalMetadataKey), reason);
}

absl::StatusOr<VerifiedPeer> PeerVerifier::Authenticate(grpc::ServerContextBase* context,
                                                        std::string_view method) {
  if (options_.require_client_certificate) {
    if (absl::Status s = RequireVerifiedPeerCertificate(*context); !s.ok()) {
      LogWarning("refused a convention call ", method, " from ", context->peer(), ": ",
                 s.message());
      AddRefusal(context, s);
      return s;
    }
  }
  absl::StatusOr<VerifiedPeer> peer = Verify(*context, method);
  if (!peer.ok()) {
    AddRefusal(context, peer.status());
    return peer.status();
  }
  AddProof(context, *peer);
  return peer;
}

}  // namespace troupe::peerauth
