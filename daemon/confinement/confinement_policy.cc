// confinement_policy.cc - ApplyAll: the steps in their order (see
// confinement_policy.h).
#include "daemon/confinement/confinement_policy.h"

#include <unistd.h>

#include "daemon/common/status_macros.h"
#include "daemon/common/strings.h"
#include "daemon/confinement/process_attributes.h"
#include "daemon/confinement/run_as_user.h"

namespace troupe::confinement {

absl::StatusOr<ConfinementReport> ApplyAll(const ConfinementPolicy& policy) {
  if (policy.parent <= 0) {
    return absl::InvalidArgumentError(
        StrCat("confinement policy: parent ", policy.parent, " is not a pid"));
  }
  TROUPE_RETURN_IF_ERROR(RequireSingleThread("confinement"));
  ConfinementReport report;

  // From here on the host dies with troupd, also while it changes user.
  TROUPE_RETURN_IF_ERROR(DieWithParent(policy.parent));
  // Limits before the user: root may lower hard limits of any kind.
  TROUPE_RETURN_IF_ERROR(ApplyResourceLimits(policy.limits));
  if (::geteuid() == 0) {
    TROUPE_RETURN_IF_ERROR(RunAsUser(policy.user));
    report.user_changed = true;
    // The change of credentials cleared the parent-death signal.
    TROUPE_RETURN_IF_ERROR(DieWithParent(policy.parent));
  } else {
    report.skipped.push_back(StrCat("user: not root, the host keeps uid ", ::geteuid(), " (",
                                    Quoted(policy.user), " needs root)"));
  }
  TROUPE_RETURN_IF_ERROR(ForbidNewPrivileges());

  absl::Status landlock = RestrictFiles(policy.files);
  if (landlock.ok()) {
    TROUPE_ASSIGN_OR_RETURN(report.landlock_abi, LandlockAbiVersion());
  } else if (absl::IsUnimplemented(landlock) && !policy.require_landlock) {
    report.skipped.push_back(StrCat("landlock: ", landlock.message(),
                                    "; reads are not confined, writes are refused by the "
                                    "syscall filter"));
  } else {
    return landlock;
  }

  SyscallFilterOptions filter;
  filter.on_refused = policy.on_refused_syscall;
  // Writes are let through the filter only when Landlock keeps them in the
  // read-write paths.
  filter.allow_file_writes = report.landlock_abi > 0 && !policy.files.read_write_paths.empty();
  if (report.landlock_abi == 0 && !policy.files.read_write_paths.empty()) {
    report.skipped.push_back(
        "file writes: refused everywhere by the syscall filter, also in the read-write paths "
        "(no landlock to confine them)");
  }
  TROUPE_RETURN_IF_ERROR(InstallSyscallFilter(filter));
  report.file_writes_allowed = filter.allow_file_writes;
  return report;
}

}  // namespace troupe::confinement
