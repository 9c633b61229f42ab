// small_file.cc - the bounded reader of small trusted files (see small_file.h).
#include "daemon/common/small_file.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "absl/status/status.h"
#include "daemon/common/posix_io.h"
#include "daemon/common/strings.h"

namespace troupe {
namespace {

// Closes the descriptor on every path out of ReadSmallFile.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Zeroes a secret's bytes before the string frees them.
void Wipe(std::string* s) { ::explicit_bzero(s->data(), s->size()); }

// FailedPrecondition when `st` belongs to neither `owner` nor root: "<path> is
// owned by uid U, not by <whose> (uid O)<why>: chown O <path>".
absl::Status CheckOwner(const std::string& path, const struct stat& st, uid_t owner,
                        std::string_view whose, std::string_view why) {
  if (st.st_uid == owner || st.st_uid == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(StrCat(path, " is owned by uid ", st.st_uid, ", not by ",
                                              whose, " (uid ", owner, ")", why, ": chown ", owner,
                                              " ", path));
}

absl::Status CheckSecret(const std::string& path, const struct stat& st,
                         const SmallFileOptions& options) {
  if (absl::Status ok = CheckOwner(path, st, options.owner.value_or(::geteuid()),
                                   "the user reading it", "; it is a secret");
      !ok.ok()) {
    return ok;
  }
  const mode_t bad = st.st_mode & options.secret_forbidden_bits;
  if (bad != 0) {
    // Named by what the caller forbids: a secret (077) or a TLS key (007).
    const char* who = (options.secret_forbidden_bits & 070) != 0 ? "group or others" : "others";
    return absl::FailedPreconditionError(StrCat(path, " is accessible by ", who, " (mode ",
                                                OctalMode(st.st_mode),
                                                "); it is a secret: chmod 600 ", path));
  }
  return absl::OkStatus();
}

// Whoever can write a trusted_owner file decides for troupd: only `owner` or
// root may own it, and neither group nor others may write it.
absl::Status CheckTrustedOwner(const std::string& path, const struct stat& st,
                               const SmallFileOptions& options) {
  if (absl::Status ok =
          CheckOwner(path, st, options.owner.value_or(::geteuid()), "the daemon's user", "");
      !ok.ok()) {
    return ok;
  }
  if ((st.st_mode & 022) != 0) {
    return absl::FailedPreconditionError(
        StrCat(path, " is writable by ", (st.st_mode & 002) != 0 ? "others" : "its group",
               " (mode ", OctalMode(st.st_mode), "): chmod go-w ", path));
  }
  return absl::OkStatus();
}

}  // namespace

const char* FileTypeName(mode_t mode) {
  if (S_ISREG(mode)) return "regular file";
  if (S_ISDIR(mode)) return "directory";
  if (S_ISFIFO(mode)) return "fifo";
  if (S_ISCHR(mode)) return "character device";
  if (S_ISBLK(mode)) return "block device";
  if (S_ISSOCK(mode)) return "socket";
  if (S_ISLNK(mode)) return "symbolic link";
  return "file of unknown type";
}

std::string OctalMode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes,
                                          const SmallFileOptions& options) {
  // O_NONBLOCK: opening a FIFO without a writer must not wait for one.
  int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
  if (!options.follow_symlinks) flags |= O_NOFOLLOW;
  Fd fd(::open(path.c_str(), flags));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ENOENT) return absl::NotFoundError(StrCat(path, " does not exist"));
    if (err == EACCES || err == EPERM) {
      return absl::PermissionDeniedError(StrCat(path, " cannot be opened: ", ErrnoText(err)));
    }
    if (err == ELOOP && !options.follow_symlinks) {
      return absl::FailedPreconditionError(
          StrCat(path, " is a symbolic link; put the file itself there"));
    }
    return absl::FailedPreconditionError(StrCat(path, " cannot be opened: ", ErrnoText(err)));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return absl::FailedPreconditionError(StrCat(path, " cannot be inspected: ", ErrnoText(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        StrCat(path, " is not a regular file (a ", FileTypeName(st.st_mode), ")"));
  }
  if (options.secret) {
    if (absl::Status ok = CheckSecret(path, st, options); !ok.ok()) return ok;
  }
  if (options.trusted_owner) {
    if (absl::Status ok = CheckTrustedOwner(path, st, options); !ok.ok()) return ok;
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return absl::FailedPreconditionError(
        StrCat(path, " is ", st.st_size, " bytes, more than the limit of ", max_bytes));
  }
  // Room for the size fstat saw plus one byte, which tells a file that grew;
  // a grown file gets room up to max_bytes + 1. A secret's bytes are wiped
  // from every buffer given up.
  std::string out(static_cast<size_t>(st.st_size) + 1, '\0');
  size_t size = 0;
  while (true) {
    if (size == out.size()) {
      if (out.size() > max_bytes) break;
      std::string larger(max_bytes + 1, '\0');
      std::memcpy(larger.data(), out.data(), size);
      if (options.secret) Wipe(&out);
      out.swap(larger);
    }
    const ssize_t n = ::read(fd.get(), out.data() + size, out.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      if (options.secret) Wipe(&out);
      return absl::FailedPreconditionError(StrCat(path, " cannot be read: ", ErrnoText(err)));
    }
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  if (size > max_bytes) {
    if (options.secret) Wipe(&out);
    return absl::FailedPreconditionError(
        StrCat(path, " grew past the limit of ", max_bytes, " bytes while being read"));
  }
  out.resize(size);  // shrinks in place: no copy of the bytes is freed
  return out;
}

}  // namespace troupe
