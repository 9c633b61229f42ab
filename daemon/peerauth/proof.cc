// proof.cc - MACs and metadata parsing shared by the signer and the verifier.
#include "daemon/peerauth/proof.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "daemon/common/strings.h"

namespace troupe::peerauth::internal {
namespace {

static_assert(crypto_auth_hmacsha512256_BYTES == kMacBytes);
static_assert(crypto_auth_hmacsha512256_KEYBYTES == ConventionKey::kBytes);

void UpdateField(crypto_auth_hmacsha512256_state* state, std::string_view field) {
  uint8_t length[8];
  uint64_t n = field.size();
  for (uint8_t& byte : length) {
    byte = static_cast<uint8_t>(n & 0xff);
    n >>= 8;
  }
  crypto_auth_hmacsha512256_update(state, length, sizeof length);
  crypto_auth_hmacsha512256_update(state, reinterpret_cast<const unsigned char*>(field.data()),
                                   field.size());
}

}  // namespace

void InitSodiumOrDie() {
  // sodium_init is thread-safe and idempotent (0: done now, 1: done before).
  if (sodium_init() < 0) {
    std::fputs("<2>libsodium failed to initialize\n", stderr);
    std::abort();
  }
}

Mac ComputeMac(const ConventionKey& key, std::string_view label,
               std::initializer_list<std::string_view> fields) {
  InitSodiumOrDie();
  crypto_auth_hmacsha512256_state state;
  crypto_auth_hmacsha512256_init(&state, key.bytes().data(), key.bytes().size());
  UpdateField(&state, label);
  for (std::string_view field : fields) UpdateField(&state, field);
  Mac mac;
  crypto_auth_hmacsha512256_final(&state, mac.data());
  sodium_memzero(&state, sizeof state);
  return mac;
}

bool MacMatches(const ConventionKey& key, std::string_view mac_hex, std::string_view label,
                std::initializer_list<std::string_view> fields) {
  Mac given;
  if (!Unhex(mac_hex, given.data(), given.size())) return false;
  const Mac expected = ComputeMac(key, label, fields);
  return sodium_memcmp(given.data(), expected.data(), expected.size()) == 0;
}

bool IsValidNode(std::string_view node) {
  if (node.empty() || node.size() > kMaxNodeChars) return false;
  for (char c : node) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

std::vector<std::string_view> SplitSpaces(std::string_view value) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t space = value.find(' ');
    parts.push_back(value.substr(0, space));
    if (space == std::string_view::npos) break;
    value.remove_prefix(space + 1);
  }
  return parts;
}

absl::StatusOr<AuthFields> ParseAuth(std::string_view value) {
  const std::vector<std::string_view> parts = SplitSpaces(value);
  if (parts.empty() || parts[0] != kVersion) {
    return absl::InvalidArgumentError(troupe::StrCat(
        "unsupported ", kAuthMetadataKey, " version (this daemon speaks ", kVersion, ")"));
  }
  if (parts.size() != 5) {
    return absl::InvalidArgumentError(
        troupe::StrCat("malformed ", kAuthMetadataKey, " metadata (expected 5 fields)"));
  }
  AuthFields fields;
  fields.node = parts[1];
  fields.unix_ms_text = parts[2];
  fields.nonce = parts[3];
  fields.mac = parts[4];
  uint8_t nonce[kNonceBytes];
  if (!IsValidNode(fields.node)) {
    return absl::InvalidArgumentError(
        troupe::StrCat("malformed ", kAuthMetadataKey, " metadata (bad node name)"));
  }
  if (!absl::SimpleAtoi(ToAbsl(fields.unix_ms_text), &fields.unix_ms)) {
    return absl::InvalidArgumentError(
        troupe::StrCat("malformed ", kAuthMetadataKey, " metadata (bad timestamp)"));
  }
  if (!Unhex(fields.nonce, nonce, sizeof nonce)) {
    return absl::InvalidArgumentError(
        troupe::StrCat("malformed ", kAuthMetadataKey, " metadata (bad nonce)"));
  }
  if (fields.mac.size() != 2 * kMacBytes) {
    return absl::InvalidArgumentError(
        troupe::StrCat("malformed ", kAuthMetadataKey, " metadata (bad MAC length)"));
  }
  return fields;
}

absl::StatusOr<ProofFields> ParseProof(std::string_view value) {
  const std::vector<std::string_view> parts = SplitSpaces(value);
  if (parts.size() != 3 || parts[0] != kVersion || !IsValidNode(parts[1]) ||
      parts[2].size() != 2 * kMacBytes) {
    return absl::InvalidArgumentError(
        troupe::StrCat("malformed ", kProofMetadataKey, " metadata from the server"));
  }
  return ProofFields{parts[1], parts[2]};
}

}  // namespace troupe::peerauth::internal
