// file_access.h - what an isolated host may still open, enforced by Landlock:
// reads only under the paths it is given, writes only under the read-write
// ones, no TCP bind/connect, no signals or abstract unix sockets outside the
// host (the last two where the kernel's Landlock has them).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace troupe::confinement {

// Absolute paths of directories (everything beneath them) or single files.
// `paths`, not `dirs`: a host that dlopens libraries by soname needs single
// files such as /etc/ld.so.cache besides the library directories.
struct FileAccess {
  // Read and list; also create, write, truncate, rename and remove beneath.
  // Writes additionally need InstallSyscallFilter's allow_file_writes.
  std::vector<std::string> read_write_paths;
  // Read and list only (e.g. the bundle's data directory, /usr/lib).
  std::vector<std::string> read_only_paths;
};

// The highest Landlock ABI version the kernel offers (1 or more), or
// UnimplementedError "landlock unavailable: ..." saying why (the kernel has
// no Landlock, or it is built in but not enabled at boot).
absl::StatusOr<int> LandlockAbiVersion();

// Confines the calling process's file access to `access` with the best
// Landlock ABI the kernel offers. Nothing outside the listed paths can be
// read, listed, written, created, removed or executed; descriptors opened
// before the call keep working. Irreversible.
//
// Needs no_new_privs (ForbidNewPrivileges) unless the process has
// CAP_SYS_ADMIN, and a single-threaded process (Landlock confines the calling
// thread and the threads it starts later; FailedPreconditionError otherwise).
// Paths are checked before the kernel is asked: InvalidArgumentError for a
// relative path, the ErrnoError of open(2) (NotFound, PermissionDenied, ...)
// for one that cannot be opened; each names the path and its list. Then
// UnimplementedError "landlock unavailable: ..." when the kernel has no
// Landlock, so the caller can log it and go on; other errors otherwise.
absl::Status RestrictFiles(const FileAccess& access);

}  // namespace troupe::confinement
