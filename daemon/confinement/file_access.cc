// file_access.cc - Landlock through its raw syscalls (see file_access.h).
#include "daemon/confinement/file_access.h"

#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "daemon/common/posix_io.h"
#include "daemon/common/status_macros.h"
#include "daemon/common/strings.h"
#include "daemon/confinement/process_attributes.h"

namespace troupe::confinement {
namespace {

// Filesystem rights by the ABI version that introduced them. Debian 12's
// <linux/landlock.h> stops at version 2, so later bits are spelled here.
constexpr uint64_t kFsAbi1 =
    LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
    LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
    LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
    LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
    LANDLOCK_ACCESS_FS_MAKE_SYM;
constexpr uint64_t kFsRefer = uint64_t{1} << 13;     // ABI 2
constexpr uint64_t kFsTruncate = uint64_t{1} << 14;  // ABI 3
constexpr uint64_t kFsIoctlDev = uint64_t{1} << 15;  // ABI 5
// Network rights (ABI 4): handled with no rule, so TCP bind and connect are
// refused (the syscall filter refuses socket() already; this is the second
// wall).
constexpr uint64_t kNetBindTcp = uint64_t{1} << 0;
constexpr uint64_t kNetConnectTcp = uint64_t{1} << 1;
// Scopes (ABI 6): no abstract unix sockets and no signals outside the host's
// Landlock domain.
constexpr uint64_t kScopeAbstractUnixSocket = uint64_t{1} << 0;
constexpr uint64_t kScopeSignal = uint64_t{1} << 1;

// Rights that make sense on a single file (the rest apply to directories).
constexpr uint64_t kFileRights = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                                 LANDLOCK_ACCESS_FS_READ_FILE | kFsTruncate | kFsIoctlDev;
constexpr uint64_t kReadRights = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
// Read-write paths get everything but execute, device ioctls and device,
// socket nodes.
constexpr uint64_t kReadWriteRights =
    kReadRights | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
    LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
    LANDLOCK_ACCESS_FS_MAKE_SYM | LANDLOCK_ACCESS_FS_MAKE_FIFO | kFsRefer | kFsTruncate;

// struct landlock_ruleset_attr as of ABI 6; older kernels get a prefix of it.
struct RulesetAttr {
  uint64_t handled_access_fs = 0;
  uint64_t handled_access_net = 0;
  uint64_t scoped = 0;
};

struct HandledRights {
  RulesetAttr attr;
  size_t attr_size = 0;  // the prefix of RulesetAttr the ABI knows
};

HandledRights HandledBy(int abi) {
  HandledRights handled;
  handled.attr.handled_access_fs = kFsAbi1;
  handled.attr_size = sizeof(uint64_t);
  if (abi >= 2) handled.attr.handled_access_fs |= kFsRefer;
  if (abi >= 3) handled.attr.handled_access_fs |= kFsTruncate;
  if (abi >= 4) {
    handled.attr.handled_access_net = kNetBindTcp | kNetConnectTcp;
    handled.attr_size = 2 * sizeof(uint64_t);
  }
  if (abi >= 5) handled.attr.handled_access_fs |= kFsIoctlDev;
  if (abi >= 6) {
    handled.attr.scoped = kScopeAbstractUnixSocket | kScopeSignal;
    handled.attr_size = sizeof(RulesetAttr);
  }
  return handled;
}

// Descriptors closed when the object goes away.
class OwnedFds {
 public:
  OwnedFds() = default;
  OwnedFds(const OwnedFds&) = delete;
  OwnedFds& operator=(const OwnedFds&) = delete;
  ~OwnedFds() {
    for (int fd : fds_) ::close(fd);
  }
  int Add(int fd) {
    fds_.push_back(fd);
    return fd;
  }

 private:
  std::vector<int> fds_;
};

// One rule: the path's O_PATH descriptor and the rights granted beneath it.
struct PathRule {
  std::string path;
  int fd = -1;
  uint64_t rights = 0;
};

// Opens each of `paths` (O_PATH) for a rule granting `rights` (only the file
// rights when the path is not a directory).
absl::Status OpenRules(const std::vector<std::string>& paths, const char* list, uint64_t rights,
                       OwnedFds* fds, std::vector<PathRule>* rules) {
  for (const std::string& path : paths) {
    const std::string subject = StrCat("landlock ", list, " path ", Quoted(path, 256));
    if (path.empty() || path.front() != '/') {
      return absl::InvalidArgumentError(StrCat(subject, " is not absolute"));
    }
    const int fd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
    if (fd < 0) return ErrnoError(errno, subject, "cannot open");
    fds->Add(fd);
    struct stat info {};
    if (::fstat(fd, &info) != 0) return ErrnoError(errno, subject, "cannot stat");
    rules->push_back({path, fd, S_ISDIR(info.st_mode) ? rights : (rights & kFileRights)});
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int> LandlockAbiVersion() {
  const long abi =
      ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi >= 1) return static_cast<int>(abi);
  const int error = errno;
  if (error == ENOSYS) {
    return absl::UnimplementedError(
        "landlock unavailable: the kernel has no landlock_create_ruleset (ENOSYS)");
  }
  if (error == EOPNOTSUPP) {
    return absl::UnimplementedError(
        "landlock unavailable: built into the kernel but not enabled at boot (lsm=)");
  }
  return absl::UnimplementedError(
      StrCat("landlock unavailable: landlock_create_ruleset: ", ErrnoText(error)));
}

absl::Status RestrictFiles(const FileAccess& access) {
  OwnedFds fds;
  std::vector<PathRule> rules;
  TROUPE_RETURN_IF_ERROR(
      OpenRules(access.read_write_paths, "read-write", kReadWriteRights, &fds, &rules));
  TROUPE_RETURN_IF_ERROR(OpenRules(access.read_only_paths, "read-only", kReadRights, &fds, &rules));
  TROUPE_ASSIGN_OR_RETURN(const int abi, LandlockAbiVersion());
  TROUPE_RETURN_IF_ERROR(RequireSingleThread("landlock"));

  const HandledRights handled = HandledBy(abi);
  const long ruleset = ::syscall(SYS_landlock_create_ruleset, &handled.attr, handled.attr_size, 0);
  if (ruleset < 0) return ErrnoError(errno, "landlock", StrCat("create ruleset (ABI ", abi, ")"));
  const int ruleset_fd = fds.Add(static_cast<int>(ruleset));
  for (const PathRule& rule : rules) {
    landlock_path_beneath_attr beneath{};
    beneath.allowed_access = rule.rights & handled.attr.handled_access_fs;
    beneath.parent_fd = rule.fd;
    if (::syscall(SYS_landlock_add_rule, ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &beneath, 0) !=
        0) {
      return ErrnoError(errno, StrCat("landlock path ", Quoted(rule.path, 256)), "add rule");
    }
  }
  if (::syscall(SYS_landlock_restrict_self, ruleset_fd, 0) != 0) {
    const int error = errno;
    return ErrnoError(
        error, "landlock",
        error == EPERM ? "restrict self (needs no_new_privs or CAP_SYS_ADMIN)" : "restrict self");
  }
  return absl::OkStatus();
}

}  // namespace troupe::confinement
