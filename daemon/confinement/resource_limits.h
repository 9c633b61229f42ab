// resource_limits.h - the rlimits of an isolated host (settings
// isolated_memory_bytes, isolated_cpu_seconds, isolated_open_files).
#pragma once

#include <cstdint>

#include "absl/status/status.h"

namespace troupe::confinement {

// Limits for the whole host process. 0 leaves a limit as it is.
struct ResourceLimits {
  // RLIMIT_AS: address space, soft = hard. An allocation beyond it fails
  // (malloc returns nullptr, operator new throws std::bad_alloc); the
  // process is not killed for it.
  uint64_t memory_bytes = 0;
  // RLIMIT_CPU: CPU seconds the host uses over its whole life (all threads,
  // not per handler). At `cpu_seconds` the kernel sends SIGXCPU (which ends
  // the process unless handled); one second later SIGKILL (hard limit).
  uint64_t cpu_seconds = 0;
  // RLIMIT_NOFILE: open descriptors, soft = hard. An open beyond it fails
  // with EMFILE.
  uint64_t open_files = 0;
};

// Applies `limits` and always sets RLIMIT_CORE to 0 (a host's memory holds
// bundle code and messages: no core files). A limit is never raised above
// the current hard limit: a request beyond it gets the current hard limit,
// which is stricter, so no privilege is needed. RLIMIT_NPROC is left alone:
// it counts every thread of every process of the user (nobody is shared),
// so it cannot bound one host, and the syscall filter refuses new processes
// anyway. Errors name the limit and the value (ErrnoError codes).
absl::Status ApplyResourceLimits(const ResourceLimits& limits);

}  // namespace troupe::confinement
