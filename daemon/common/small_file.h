// small_file.h - ReadSmallFile: the one bounded reader for the small files the
// daemon and director trust (key files, tokens, config values, capability
// files, the convention key, TLS files). A FIFO, device or directory in place
// of such a file is refused at once instead of blocking the reader, and a file
// larger than the caller's limit is refused instead of read into memory.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace troupe {

struct SmallFileOptions {
  // Follow a symbolic link in the last component of the path. The checks below
  // apply to the file reached. Default true: the directories troupd reads from
  // are checked (config/permissions.h) so only their owner can place a link
  // there, and an operator may keep e.g. a TLS key in /etc. A caller that
  // creates the file itself (the client token) sets it false.
  bool follow_symlinks = true;
  // A secret: refused unless owned by `owner` (or root) and with none of the
  // `secret_forbidden_bits` set. 077 (no group or other access) by default;
  // a TLS key allows a group (007), as Debian's ssl-cert group does.
  bool secret = false;
  mode_t secret_forbidden_bits = 077;
  // A file that decides what troupd runs or who may call it (a setting, a
  // trusted public key, a capability): refused unless owned by `owner` (or
  // root) and writable by nobody else, since whoever can write it decides.
  // Group or others may read it.
  bool trusted_owner = false;
  // The user a secret or a trusted_owner file must belong to (the daemon's
  // user); unset: the effective uid. Tests and `director config check` for
  // another user's daemon set it.
  std::optional<uid_t> owner;
};

// The content of the regular file `path`, at most `max_bytes` bytes. Opens with
// O_NONBLOCK (a FIFO never blocks the open) and O_CLOEXEC, checks the opened
// file with fstat and reads at most max_bytes + 1 bytes (the file may grow).
// Errors name `path` first: "<path> is not a regular file (a fifo)",
// "<path> is N bytes, more than the limit of M", and for secrets and
// trusted_owner files the owner or mode with the chown/chmod that fixes it:
//   "<path> is writable by others (mode 0666): chmod go-w <path>"
//   "<path> is owned by uid 65534, not by the daemon's user (uid 0): chown 0 <path>"
//   NotFound            the file does not exist
//   PermissionDenied    it may not be opened (EACCES, EPERM)
//   FailedPrecondition  anything else: not a regular file, a symbolic link when
//                       not followed, too large, a secret or trusted_owner file
//                       with a wrong owner or mode, a read error
// Thread-safe. A secret's bytes are not left in buffers this function frees.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes,
                                          const SmallFileOptions& options = {});

// "fifo", "directory", "character device", "block device", "socket",
// "symbolic link" or "regular file", for `st_mode`.
const char* FileTypeName(mode_t mode);

// `mode & 07777` as four octal digits, e.g. "0644".
std::string OctalMode(mode_t mode);

}  // namespace troupe
