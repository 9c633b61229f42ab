// posix_io.cc - errno texts and statuses, and the write loop (see posix_io.h).
#include "daemon/common/posix_io.h"

#include <string.h>
#include <unistd.h>

#include <cerrno>

#include "daemon/common/strings.h"

namespace troupe {

std::string ErrnoText(int error_number) {
  char buffer[256];
  // The GNU strerror_r: returns the text, in `buffer` or a static string.
  return ::strerror_r(error_number, buffer, sizeof buffer);
}

absl::Status ErrnoError(int error_number, std::string_view path, std::string_view what) {
  std::string text = StrCat(path, ": ", what, ": ", ErrnoText(error_number));
  switch (error_number) {
    case ENOENT:
      return absl::NotFoundError(text);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(text);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(text);
    default:
      return absl::InternalError(text);
  }
}

absl::Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, path, "cannot write");
    }
    // write(2) of a regular file writes something or fails; 0 would loop forever.
    if (n == 0) return ErrnoError(EIO, path, "cannot write");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace troupe
