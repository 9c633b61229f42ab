// resource_limits.cc - setrlimit for the host's limits (see resource_limits.h).
#include "daemon/confinement/resource_limits.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>

#include "daemon/common/posix_io.h"
#include "daemon/common/status_macros.h"
#include "daemon/common/strings.h"

namespace troupe::confinement {
namespace {

// Sets `resource` to soft `soft` and hard `hard`, each at most the current
// hard limit.
absl::Status SetLimit(int resource, const char* name, rlim_t soft, rlim_t hard) {
  rlimit current{};
  if (::getrlimit(resource, &current) != 0) {
    return ErrnoError(errno, StrCat("rlimit ", name), "cannot read");
  }
  rlimit wanted{};
  wanted.rlim_max = std::min(hard, current.rlim_max);
  wanted.rlim_cur = std::min(soft, wanted.rlim_max);
  if (::setrlimit(resource, &wanted) != 0) {
    return ErrnoError(errno, StrCat("rlimit ", name), StrCat("cannot set to ", wanted.rlim_cur));
  }
  return absl::OkStatus();
}

// `value` as an rlim_t, saturated below RLIM_INFINITY (a huge request is a
// limit, not "no limit").
rlim_t AsLimit(uint64_t value) {
  return static_cast<rlim_t>(std::min<uint64_t>(value, RLIM_INFINITY - 2));
}

}  // namespace

absl::Status ApplyResourceLimits(const ResourceLimits& limits) {
  TROUPE_RETURN_IF_ERROR(SetLimit(RLIMIT_CORE, "RLIMIT_CORE", 0, 0));
  if (limits.memory_bytes != 0) {
    const rlim_t bytes = AsLimit(limits.memory_bytes);
    TROUPE_RETURN_IF_ERROR(SetLimit(RLIMIT_AS, "RLIMIT_AS", bytes, bytes));
  }
  if (limits.cpu_seconds != 0) {
    // Soft first (SIGXCPU, which a host may report before it ends), hard one
    // second later (SIGKILL) for a host that ignores SIGXCPU.
    const rlim_t seconds = AsLimit(limits.cpu_seconds);
    TROUPE_RETURN_IF_ERROR(SetLimit(RLIMIT_CPU, "RLIMIT_CPU", seconds, seconds + 1));
  }
  if (limits.open_files != 0) {
    const rlim_t files = AsLimit(limits.open_files);
    TROUPE_RETURN_IF_ERROR(SetLimit(RLIMIT_NOFILE, "RLIMIT_NOFILE", files, files));
  }
  return absl::OkStatus();
}

}  // namespace troupe::confinement
