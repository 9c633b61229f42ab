// run_as_user.cc - dropping root for an unprivileged user (see run_as_user.h).
#include "daemon/confinement/run_as_user.h"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/common/posix_io.h"
#include "daemon/common/strings.h"

namespace troupe::confinement {
namespace {

struct UserIds {
  uid_t uid = 0;
  gid_t gid = 0;
};

// The uid and primary gid of `user`, or FailedPreconditionError when the user
// database has no such user.
absl::StatusOr<UserIds> LookUpUser(const std::string& user) {
  std::vector<char> buffer(16384);
  while (true) {
    passwd entry{};
    passwd* found = nullptr;
    const int rc = ::getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE && buffer.size() < (1u << 20)) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (rc != 0) {
      return absl::InternalError(
          StrCat("user ", Quoted(user), ": cannot read the user database: ", ErrnoText(rc)));
    }
    if (found == nullptr) {
      return absl::FailedPreconditionError(
          StrCat("unknown user ", Quoted(user), ": no such entry in the user database"));
    }
    return UserIds{entry.pw_uid, entry.pw_gid};
  }
}

// Whether the process holds any capability in its effective or permitted set.
absl::StatusOr<bool> HasAnyCapability() {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) {
    return ErrnoError(errno, "capabilities", "capget");
  }
  for (const __user_cap_data_struct& word : data) {
    if (word.effective != 0 || word.permitted != 0) return true;
  }
  return false;
}

// OK when the real, effective and saved ids are `ids` and no supplementary
// group is left.
absl::Status CheckIds(const std::string& user, const UserIds& ids) {
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  if (::getresuid(&ruid, &euid, &suid) != 0 || ::getresgid(&rgid, &egid, &sgid) != 0) {
    return ErrnoError(errno, StrCat("user ", Quoted(user)), "cannot read the ids");
  }
  if (ruid != ids.uid || euid != ids.uid || suid != ids.uid || rgid != ids.gid || egid != ids.gid ||
      sgid != ids.gid) {
    return absl::InternalError(StrCat("user ", Quoted(user), ": ids are uid ", ruid, "/", euid, "/",
                                      suid, " gid ", rgid, "/", egid, "/", sgid,
                                      " after the change, not ", ids.uid, " and ", ids.gid));
  }
  const int groups = ::getgroups(0, nullptr);
  if (groups != 0) {
    return absl::InternalError(StrCat("user ", Quoted(user), ": ", groups,
                                      " supplementary groups are left after the change"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunAsUser(std::string_view user_name) {
  const std::string user(user_name);
  if (user.empty()) return absl::InvalidArgumentError("user: the name is empty");
  absl::StatusOr<UserIds> ids = LookUpUser(user);
  if (!ids.ok()) return ids.status();
  if (ids->uid == 0 || ids->gid == 0) {
    return absl::InvalidArgumentError(StrCat("user ", Quoted(user), " has uid ", ids->uid,
                                             " and gid ", ids->gid,
                                             ": a confined host never runs as root"));
  }
  if (::geteuid() != 0) {
    // Without root there is nothing to drop: fine when we are `user` already.
    if (::getuid() == ids->uid && ::geteuid() == ids->uid) return absl::OkStatus();
    return absl::PermissionDeniedError(
        StrCat("user ", Quoted(user), " (uid ", ids->uid,
               "): cannot switch to it without root (running as uid ", ::geteuid(), ")"));
  }
  // Groups first: once the uid is not 0 they can no longer be changed.
  if (::setgroups(0, nullptr) != 0) {
    return ErrnoError(errno, StrCat("user ", Quoted(user)), "setgroups(0)");
  }
  if (::setresgid(ids->gid, ids->gid, ids->gid) != 0) {
    return ErrnoError(errno, StrCat("user ", Quoted(user)), StrCat("setresgid(", ids->gid, ")"));
  }
  if (::setresuid(ids->uid, ids->uid, ids->uid) != 0) {
    return ErrnoError(errno, StrCat("user ", Quoted(user)), StrCat("setresuid(", ids->uid, ")"));
  }
  if (absl::Status checked = CheckIds(user, *ids); !checked.ok()) return checked;
  // The proof: root cannot come back.
  if (::setuid(0) == 0 || ::setgid(0) == 0) {
    return absl::InternalError(
        StrCat("user ", Quoted(user), ": root could be regained after the change"));
  }
  absl::StatusOr<bool> capable = HasAnyCapability();
  if (!capable.ok()) return capable.status();
  if (*capable) {
    return absl::InternalError(
        StrCat("user ", Quoted(user), ": capabilities are left after the change"));
  }
  return absl::OkStatus();
}

}  // namespace troupe::confinement
