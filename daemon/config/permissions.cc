// permissions.cc - the owner and mode checks of troupd's directories (see
// permissions.h).
#include "daemon/config/permissions.h"

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>

#include "daemon/common/posix_io.h"
#include "daemon/common/small_file.h"
#include "daemon/common/strings.h"

namespace troupe::config {

absl::Status CheckPrivateDirectory(std::string_view what, const std::string& path, uid_t owner) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::FailedPreconditionError(
        troupe::StrCat(what, " ", path, " cannot be inspected: ", ErrnoText(errno)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        troupe::StrCat(what, " ", path, " is not a directory (a ", FileTypeName(st.st_mode), ")"));
  }
  if (st.st_uid != owner && st.st_uid != 0) {
    return absl::FailedPreconditionError(
        troupe::StrCat(what, " ", path, " is owned by uid ", st.st_uid,
                       ", not by the daemon's user (uid ", owner, "): chown ", owner, " ", path));
  }
  if ((st.st_mode & 022) != 0) {
    return absl::FailedPreconditionError(troupe::StrCat(
        what, " ", path, " is writable by ", (st.st_mode & 002) != 0 ? "others" : "its group",
        " (mode ", OctalMode(st.st_mode), "): chmod go-w ", path));
  }
  return absl::OkStatus();
}

absl::Status EnsurePrivateDirectory(std::string_view what, const std::string& path, uid_t owner) {
  std::string partial;
  for (const std::filesystem::path& part : std::filesystem::path(path)) {
    if (part.empty()) continue;  // a trailing slash
    partial = partial.empty()         ? part.string()
              : partial.back() == '/' ? partial + part.string()
                                      : troupe::StrCat(partial, "/", part.string());
    if (::mkdir(partial.c_str(), 0700) == 0) {
      ::chmod(partial.c_str(), 0700);  // exactly 0700, whatever the umask
    } else if (errno != EEXIST) {
      return absl::FailedPreconditionError(
          troupe::StrCat("cannot create the ", what, " ", partial, ": ", ErrnoText(errno)));
    }
  }
  return CheckPrivateDirectory(what, path, owner);
}

}  // namespace troupe::config
