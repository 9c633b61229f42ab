// convention_key.cc - reading, creating and fingerprinting the convention key.
#include "daemon/peerauth/convention_key.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "daemon/common/posix_io.h"
#include "daemon/common/small_file.h"
#include "daemon/common/strings.h"
#include "daemon/peerauth/proof.h"

namespace troupe::peerauth {
namespace {

constexpr size_t kHexChars = 2 * ConventionKey::kBytes;
// A key file is one short line; a longer file up to this size is refused for
// its content, a larger one unread.
constexpr size_t kMaxFileBytes = 4096;

// Creates the directory `dir` (mode 0700) when it is missing; parents must exist.
absl::Status EnsureDirectory(const std::string& dir) {
  if (dir.empty()) return absl::OkStatus();
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return absl::OkStatus();
  return absl::FailedPreconditionError(
      troupe::StrCat("cannot create the directory ", dir, ": ", ErrnoText(errno)));
}

}  // namespace

ConventionKey::~ConventionKey() { sodium_memzero(bytes_.data(), bytes_.size()); }

ConventionKey ConventionKey::Generate() {
  internal::InitSodiumOrDie();
  Bytes bytes;
  randombytes_buf(bytes.data(), bytes.size());
  ConventionKey key(bytes);
  sodium_memzero(bytes.data(), bytes.size());
  return key;
}

std::string ConventionKey::Fingerprint() const {
  internal::InitSodiumOrDie();
  static constexpr std::string_view kLabel = "troupe convention key fingerprint v1";
  unsigned char digest[8];
  crypto_generichash_state state;
  crypto_generichash_init(&state, bytes_.data(), bytes_.size(), sizeof digest);
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(kLabel.data()),
                            kLabel.size());
  crypto_generichash_final(&state, digest, sizeof digest);
  return Hex(digest, sizeof digest);
}

absl::StatusOr<ConventionKey> ConventionKey::Load(const std::string& path) {
  // A shared secret: owned by this user (or root), no group or other access.
  SmallFileOptions secret;
  secret.secret = true;
  absl::StatusOr<std::string> read = ReadSmallFile(path, kMaxFileBytes, secret);
  if (absl::IsNotFound(read.status())) {
    return absl::NotFoundError(troupe::StrCat(
        "no convention key at ", path,
        ": create one with `director keygen --convention` and copy it to every member"));
  }
  if (!read.ok()) {
    return absl::FailedPreconditionError(
        troupe::StrCat("convention key ", read.status().message()));  // names the path
  }
  std::string& buffer = *read;
  std::string_view text(buffer);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                           text.back() == '\t')) {
    text.remove_suffix(1);
  }
  Bytes bytes;
  const bool ok = text.size() == kHexChars && Unhex(text, bytes.data(), bytes.size());
  sodium_memzero(buffer.data(), buffer.size());
  if (!ok) {
    sodium_memzero(bytes.data(), bytes.size());
    return absl::InvalidArgumentError(
        troupe::StrCat("convention key ", path, " must hold one line of ", kHexChars,
                       " hex digits (32 bytes; `director keygen --convention` makes one)"));
  }
  ConventionKey key(bytes);
  sodium_memzero(bytes.data(), bytes.size());
  return key;
}

absl::StatusOr<ConventionKey> ConventionKey::Create(const std::string& path, bool force) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  if (absl::Status s = EnsureDirectory(dir); !s.ok()) return s;
  struct stat st;
  if (!force && ::lstat(path.c_str(), &st) == 0) {
    return absl::AlreadyExistsError(
        troupe::StrCat("convention key ", path, " already exists (not overwritten)"));
  }
  ConventionKey key = Generate();
  std::string line = Hex(key.bytes_.data(), key.bytes_.size()) + "\n";
  std::string temp = troupe::StrCat(dir.empty() ? "." : dir, "/.convention.key.XXXXXX");
  const int fd = ::mkstemp(temp.data());  // mode 0600
  if (fd < 0) {
    sodium_memzero(line.data(), line.size());
    return absl::FailedPreconditionError(
        troupe::StrCat("cannot create a temporary file next to ", path, ": ", ErrnoText(errno)));
  }
  ::fchmod(fd, 0600);
  absl::Status written = WriteAll(fd, line, temp);
  sodium_memzero(line.data(), line.size());
  if (written.ok() && ::fsync(fd) != 0) written = ErrnoError(errno, temp, "cannot sync");
  ::close(fd);
  if (!written.ok()) {
    ::unlink(temp.c_str());
    return absl::FailedPreconditionError(
        troupe::StrCat("cannot write the convention key ", path, " (", written.message(), ")"));
  }
  // link(2) fails when `path` exists, so a concurrent creator is never overwritten
  // without `force`; rename(2) replaces atomically with it.
  const int rc = force ? ::rename(temp.c_str(), path.c_str()) : ::link(temp.c_str(), path.c_str());
  const int err = errno;
  if (!force || rc != 0) ::unlink(temp.c_str());
  if (rc != 0) {
    if (err == EEXIST) {
      return absl::AlreadyExistsError(
          troupe::StrCat("convention key ", path, " already exists (not overwritten)"));
    }
    return absl::FailedPreconditionError(
        troupe::StrCat("cannot write the convention key ", path, ": ", ErrnoText(err)));
  }
  return key;
}

}  // namespace troupe::peerauth
