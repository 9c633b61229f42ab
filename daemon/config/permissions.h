// permissions.h - who may change what troupd trusts. Whoever can write
// TROUPE_DIR, keys/, keys/trusted/, config/, capabilities/, loaded/,
// loaded/code/ or the socket directory can plant a client token, a trusted
// key, settings or code, or put their own socket in troupd's place. So each
// must belong to the daemon's user (or root, who can change anything anyway)
// and be writable by nobody else. Config::LoadFrom records these checks as
// problems, so troupd (which runs Config::Check at start) and `director config
// check` refuse the same directories. The files in them are checked the same
// way when read (SmallFileOptions::trusted_owner, daemon/common/small_file.h).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace troupe::config {

// OK when `path` does not exist (troupd creates it), or is a directory (a
// symbolic link is followed: its target is checked) owned by `owner` or root
// and not writable by group or others (a sticky bit does not help: others
// could still take a name first). Else FailedPrecondition naming `what`, the
// path and the fix, e.g.
//   "TROUPE_DIR /x is writable by others (mode 0777): chmod go-w /x"
//   "TROUPE_DIR /x is owned by uid 1001, not by the daemon's user (uid 0): chown 0 /x"
// The parent directories are not checked (a sticky /tmp holding TROUPE_DIR is fine).
absl::Status CheckPrivateDirectory(std::string_view what, const std::string& path, uid_t owner);

// Creates `path` when it does not exist (with the missing parents; each
// created directory gets mode 0700, whatever the umask), then checks it like
// CheckPrivateDirectory. For troupd's socket directory, which it creates.
absl::Status EnsurePrivateDirectory(std::string_view what, const std::string& path, uid_t owner);

}  // namespace troupe::config
