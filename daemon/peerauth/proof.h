// proof.h - the wire format of peer authentication, shared by the client
// side (peer_signer.h) and the server side (peer_verifier.h). Internal to
// daemon/peerauth; docs/convention.md "Peer authentication" describes it.
//
//   troupe-peer-auth  (client -> server, request metadata):
//       "v1 <client node> <unix ms> <nonce: 32 hex> <mac: 64 hex>"
//       mac = HMAC-SHA512-256(key, "troupe-peer-auth v1 call" | node | unix ms | nonce | method)
//   troupe-peer-refusal (server -> client, initial metadata of a refused call):
//       the reason, as in the UNAUTHENTICATED status
//   troupe-peer-proof (server -> client, initial metadata of an accepted call):
//       "v1 <server node> <mac: 64 hex>"
//       mac = HMAC-SHA512-256(key, "troupe-peer-auth v1 proof" | nonce | method | client node
//                                  | server node)
// where each field is preceded by its length (8 bytes, little-endian), so no
// two field lists give the same MAC input, and the labels keep the two MACs
// apart (a client's MAC never passes as a server's proof or back).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/peerauth/convention_key.h"

namespace troupe::peerauth {

// Request metadata key carrying the client's proof.
inline constexpr std::string_view kAuthMetadataKey = "troupe-peer-auth";
// Initial-metadata key carrying the server's proof.
inline constexpr std::string_view kProofMetadataKey = "troupe-peer-proof";
// Initial-metadata key carrying the reason of a refusal, so that a caller
// learns it from the initial metadata, in the sync API too (where cancelling
// an unproven call hides the status).
inline constexpr std::string_view kRefusalMetadataKey = "troupe-peer-refusal";

namespace internal {

inline constexpr std::string_view kVersion = "v1";
inline constexpr std::string_view kCallLabel = "troupe-peer-auth v1 call";
inline constexpr std::string_view kProofLabel = "troupe-peer-auth v1 proof";
inline constexpr size_t kNonceBytes = 16;
inline constexpr size_t kMacBytes = 32;  // crypto_auth_hmacsha512256_BYTES
inline constexpr size_t kMaxNodeChars = 255;

// sodium_init(), once; aborts when libsodium cannot start (no entropy source),
// a broken invariant of the host.
void InitSodiumOrDie();

// Hex and Unhex: troupe::Hex / troupe::Unhex (daemon/common/strings.h).

using Mac = std::array<uint8_t, kMacBytes>;
// HMAC-SHA512-256 over `label` and the length-prefixed `fields`.
Mac ComputeMac(const ConventionKey& key, std::string_view label,
               std::initializer_list<std::string_view> fields);
// Constant-time comparison of `mac_hex` with the MAC of `label` and `fields`.
bool MacMatches(const ConventionKey& key, std::string_view mac_hex, std::string_view label,
                std::initializer_list<std::string_view> fields);

// A node name as it may appear in the metadata: 1-255 printable ASCII
// characters without spaces (host:port).
bool IsValidNode(std::string_view node);

// The fields of a troupe-peer-auth value. Views into the parsed string.
struct AuthFields {
  std::string_view node;
  std::string_view unix_ms_text;
  int64_t unix_ms = 0;
  std::string_view nonce;
  std::string_view mac;
};
// InvalidArgument saying what is malformed (never echoing the value).
absl::StatusOr<AuthFields> ParseAuth(std::string_view value);

struct ProofFields {
  std::string_view node;
  std::string_view mac;
};
absl::StatusOr<ProofFields> ParseProof(std::string_view value);

// Splits `value` at single spaces.
std::vector<std::string_view> SplitSpaces(std::string_view value);

}  // namespace internal
}  // namespace troupe::peerauth
