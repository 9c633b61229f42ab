// posix_io.h - the pieces every file writer of the daemon and director shares:
// an errno as text or as a Status with the closest canonical code, and the
// write(2) loop that survives EINTR and short writes.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace troupe {

// strerror(error_number), e.g. "No space left on device". Thread-safe (unlike
// strerror).
std::string ErrnoText(int error_number);

// "<path>: <what>: <ErrnoText(error_number)>" with the closest canonical code:
// NotFound (ENOENT), PermissionDenied (EACCES, EPERM), ResourceExhausted
// (ENOSPC, EDQUOT), else Internal.
absl::Status ErrnoError(int error_number, std::string_view path, std::string_view what);

// Writes all of `data` to `fd`, retrying after EINTR and short writes. An error
// is ErrnoError(errno, path, "cannot write"); `path` names the file in it. Does
// not fsync or close `fd`.
absl::Status WriteAll(int fd, std::string_view data, const std::string& path);

}  // namespace troupe
