// keys.h - Ed25519 keys (libsodium) for signing bundles, and the store of
// trusted public keys in TROUPE_DIR/keys/trusted/.
//
// Files are text, one line: "troupe-ed25519-public <base64 of 32 bytes>" or
// "troupe-ed25519-secret <base64 of 64 bytes>". A key id is the first 8 bytes
// of BLAKE2b-256(public key), as 16 lowercase hex digits; it is printed with
// every verification result.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace troupe::bundle {

using PublicKey = std::array<uint8_t, 32>;
using SecretKey = std::array<uint8_t, 64>;  // libsodium's seed + public key

struct KeyPair {
  PublicKey public_key;
  SecretKey secret_key;
};

// Initialises libsodium once; safe to call from any thread, any number of times.
absl::Status InitSodium();

std::string KeyId(const PublicKey& key);
absl::StatusOr<KeyPair> GenerateKeyPair();

std::string FormatPublicKey(const PublicKey& key);
std::string FormatSecretKey(const SecretKey& key);
// `where` names the source in errors.
absl::StatusOr<PublicKey> ParsePublicKey(std::string_view text, std::string_view where);
absl::StatusOr<SecretKey> ParseSecretKey(std::string_view text, std::string_view where);

// Writes `<dir>/<name>.key` (mode 0600) and `<dir>/<name>.pub` (0644).
// AlreadyExists if either file exists (nothing is overwritten or written).
absl::Status WriteKeyPair(const KeyPair& pair, const std::string& dir, std::string_view name);
// Key files are read with ReadSmallFile (daemon/common/small_file.h): a
// FIFO, device or directory is refused at once, as is a file over 4096 bytes.
// A secret key must also be owned by `owner` (default: the effective uid) or
// root, with no group or other access (chmod 600); errors name the fix.
absl::StatusOr<SecretKey> ReadSecretKey(const std::string& path,
                                        std::optional<uid_t> owner = std::nullopt);
absl::StatusOr<PublicKey> ReadPublicKey(const std::string& path);

// Ed25519 detached signature of `message`, and its check.
std::array<uint8_t, 64> Sign(const SecretKey& key, std::string_view message);
bool VerifySignature(const PublicKey& key, std::string_view message,
                     const std::array<uint8_t, 64>& signature);

struct TrustedKey {
  std::string key_id;
  std::string path;
  PublicKey key;
  // Marked by `director trust --isolated`: bundles it signed always run in
  // an isolated host process (isolation.h), whatever their manifest says.
  bool isolated = false;
};

// What TrustStore::Trust does with a key's isolation mark.
enum class IsolationMark {
  kKeep,      // a key trusted anew is not marked; a marked key stays marked
  kIsolated,  // mark it (`director trust --isolated`)
  kInline,    // lift the mark (`director trust --inline`)
};

// What TrustStore::Trust did.
struct TrustOutcome {
  std::string key_id;
  bool was_trusted = false;   // the key was trusted before the call
  bool was_isolated = false;  // it was marked before the call
  bool isolated = false;      // it is marked now
};

// The trusted public keys: files `<dir>/<key id>.pub`. Re-reads the directory
// on every call, so removing a file revokes the key at once. Whoever can write
// the directory or a key file decides what runs, so Find and List refuse a
// directory or key file that another user than `owner` (unset: the effective
// uid) or root owns, or that group or others may write, naming the
// chown/chmod that fixes it. Thread-safe.
//
// A key's isolation mark is the file `<dir>/<key id>.isolated` beside it:
// empty (white space allowed), and owned and writable like a key file. An
// older daemon, which reads only `*.pub`, ignores it. Trust writes the mark
// before the key file (a key is never trusted without the mark it was given)
// and Untrust removes the key file first, then the mark. A mark that is not
// an empty regular file, that others could write, or (for List) whose key is
// not trusted or whose name is no key id is an error naming it.
class TrustStore {
 public:
  explicit TrustStore(std::string dir, std::optional<uid_t> owner = std::nullopt)
      : dir_(std::move(dir)), owner_(owner) {}
  const std::string& dir() const { return dir_; }
  // The trusted key with its mark. NotFound naming the key id and the
  // directory when it is not trusted; FailedPrecondition for a key file or
  // mark that is malformed or others could change.
  absl::StatusOr<TrustedKey> Find(std::string_view key_id) const;
  // Every trusted key, sorted by id. A malformed file is an error naming it.
  absl::StatusOr<std::vector<TrustedKey>> List() const;
  // Copies the public key in `public_key_path` into the store (creating the
  // directory) and sets its mark as `mark` says. Trusting a trusted key again
  // is OK. With kKeep, a malformed existing mark is an error naming it;
  // kIsolated replaces it, kInline removes it.
  absl::StatusOr<TrustOutcome> Trust(const std::string& public_key_path,
                                     IsolationMark mark = IsolationMark::kKeep) const;
  // Removes the key and its mark. NotFound when neither exists.
  absl::Status Untrust(std::string_view key_id) const;

 private:
  std::string dir_;
  std::optional<uid_t> owner_;
};

}  // namespace troupe::bundle
