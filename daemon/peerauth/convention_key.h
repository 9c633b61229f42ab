// convention_key.h - the convention key: 32 random bytes that every daemon of
// a convention holds (the operator copies the file to every member) and with
// which peers prove to each other that they belong (peer_signer.h,
// peer_verifier.h). The key itself never travels.
//
// File format: <TROUPE_DIR>/keys/convention.key, one line of 64 lowercase hex
// digits, mode 0600. Like ssh with its private keys, Load refuses a file that
// its group or others may read or write.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace troupe::peerauth {

// The file name under <TROUPE_DIR>/keys (DaemonSettings::convention_key_path).
inline constexpr std::string_view kConventionKeyFileName = "convention.key";

// A loaded convention key. Copyable value; the bytes are wiped on destruction.
// Thread-compatible (immutable after construction).
class ConventionKey {
 public:
  static constexpr size_t kBytes = 32;
  using Bytes = std::array<uint8_t, kBytes>;

  // Reads `path`. NotFound (with the keygen hint) when it does not exist;
  // FailedPrecondition when it is not a regular file or its group or others
  // have any access (the message says `chmod 600`); InvalidArgument when it
  // does not hold exactly 64 hex digits. Never puts key material in a message.
  static absl::StatusOr<ConventionKey> Load(const std::string& path);

  // Writes a fresh random key to `path` (mode 0600, atomically through a
  // temporary file in the same directory, whose missing last component is
  // created 0700) and returns it. AlreadyExists when `path` exists and
  // `force` is false; with `force` an existing file is replaced.
  static absl::StatusOr<ConventionKey> Create(const std::string& path, bool force);

  // A fresh random key that lives in memory only (tests, tools).
  static ConventionKey Generate();
  static ConventionKey FromBytes(const Bytes& bytes) { return ConventionKey(bytes); }

  ConventionKey(const ConventionKey& other) = default;
  ConventionKey& operator=(const ConventionKey& other) = default;
  ~ConventionKey();

  const Bytes& bytes() const { return bytes_; }
  // 16 hex digits derived one-way from the key: operators compare it across
  // hosts ("do all members have the same key?"); it reveals nothing usable.
  std::string Fingerprint() const;

 private:
  explicit ConventionKey(const Bytes& bytes) : bytes_(bytes) {}
  Bytes bytes_;
};

}  // namespace troupe::peerauth
