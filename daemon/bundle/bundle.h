// bundle.h - writing and verifying signed bundles (docs/bundle-format.md).
//
// A bundle is a zip whose entries are, in bytewise name order:
//   data/...           data files
//   deps/<soname>      private shared libraries the actor libraries need
//   lib/<name>.so      actor libraries (named in the manifest)
//   manifest.json      the manifest (manifest.proto as JSON)
// and, last, TROUPE-INDEX: the signed index, a text file listing every other
// entry with its size and BLAKE2b-256, then the signer's key id and an Ed25519
// signature over everything before the signature line. The source hash is
// BLAKE2b-256 over the index's header and entry lines (not the key or the
// signature), so it names the content whoever signed it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/bundle/keys.h"
#include "daemon/bundle/limits.h"
#include "troupe/v1/manifest.pb.h"

namespace troupe::bundle {

inline constexpr std::string_view kIndexEntry = "TROUPE-INDEX";
inline constexpr std::string_view kManifestEntry = "manifest.json";
inline constexpr std::string_view kBundleSuffix = ".troupe";

// One file to put in a bundle.
struct EntryInput {
  std::string name;     // e.g. "lib/hello.so"; must pass the verifier's path rules
  std::string content;
  bool executable = false;  // recorded as mode 0755 instead of 0644
};

// Builds a signed bundle from `entries` (which must include manifest.json,
// and every library it names). The same inputs always give the same bytes:
// entries sorted by name, fixed timestamps and modes, fixed compression.
// InvalidArgument for a bad path, a duplicate, a missing manifest or one that
// does not parse, a manifest naming a library not among the entries.
absl::StatusOr<std::string> BuildBundle(std::vector<EntryInput> entries, const KeyPair& key,
                                        const Limits& limits = {});

struct VerifiedEntry {
  std::string name;
  uint64_t size = 0;
  std::string blake2b;  // hex
};

// A bundle that passed every check. Nothing of a bundle is used before this
// exists.
struct VerifiedBundle {
  std::string source_hash;  // 64 hex digits
  std::string key_id;       // the signer
  // The signer is trusted --isolated (TrustedKey::isolated), as the trust
  // store said at verification: its code must run in an isolated host
  // (EffectiveIsolation, isolation.h).
  bool signer_isolated = false;
  troupe::v1::Manifest manifest;
  std::vector<VerifiedEntry> entries;  // sorted by name, index excluded
  std::string bytes;                   // the zip

  // The content of a listed entry (re-checked against its signed hash).
  absl::StatusOr<std::string> ReadEntry(std::string_view name) const;
};

// Verifies `bytes` (a bundle read from `where`, used in every error text)
// against the keys trusted in `trust`, re-read for this call. Errors:
// FailedPrecondition for every rejection (no index, bad signature, unknown
// key, tampered/extra/missing entry, unsafe path, duplicate, over a limit,
// bad manifest, unsupported ABI), InvalidArgument for bytes that are not a
// zip. Never reads more than the limits allow.
absl::StatusOr<VerifiedBundle> VerifyBundle(std::string bytes, std::string_view where,
                                            const TrustStore& trust, const Limits& limits = {});
// Reads `path` with ReadSmallFile (daemon/common/small_file.h), at most
// limits.max_file_bytes: NotFound when missing, FailedPrecondition for what is
// not a regular file or is over the limit ("<path> is N bytes, more than the
// limit of M"); then verifies it.
absl::StatusOr<VerifiedBundle> VerifyBundleFile(const std::string& path, const TrustStore& trust,
                                                const Limits& limits = {});

// "<group>-<version>.troupe"
std::string BundleFileName(std::string_view group, std::string_view version);

}  // namespace troupe::bundle
