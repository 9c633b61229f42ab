// loaded_state.h - the files BundleHost keeps in <TROUPE_DIR>/loaded/: the
// record of the loaded set ("state") and the stored bundle copies. Private to
// daemon/hosting.
//
// The state file is text, one bundle per line in load order:
//   <64 hex digit source hash> active|inactive [# <group> <version>]
// The trailing comment names the bundle for messages only (e.g. when its copy
// no longer verifies at startup). Lines starting with '#' and empty lines are
// ignored. It is replaced atomically (write a temporary file, then rename).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/common/posix_io.h"

namespace troupe::hosting {

struct StateEntry {
  std::string hash;
  bool active = false;
  std::string name;  // "<group> <version>" from the line's comment; may be empty
};

struct ParsedState {
  std::vector<StateEntry> entries;
  // "<where>:<line>: <what is wrong>" for each line that was skipped.
  std::vector<std::string> problems;
};

// True for 64 lowercase hex digits.
bool IsSourceHash(std::string_view text);

// Never fails: malformed lines (and repeated hashes) are skipped and reported.
ParsedState ParseLoadedState(std::string_view text, std::string_view where);
std::string FormatLoadedState(const std::vector<StateEntry>& entries);

// "<path>: <what>: <strerror(error_number)>" with the closest canonical code
// (daemon/common/posix_io.h).
using troupe::ErrnoError;

// Creates `path` (not its parents) with mode 0700, or sets an existing
// directory of ours to 0700.
absl::Status MakePrivateDirectory(const std::string& path);
// The most ReadWholeFile reads. loaded/state holds one line of about 100 bytes
// per loaded bundle, loaded/running one per code start since the daemon
// started and loaded/crashes a few per bundle: 16 MiB is far more than any of
// them reaches, and little enough to hold in memory at startup.
inline constexpr size_t kMaxLoadedFileBytes = size_t{16} << 20;
// The whole regular file `path`, at most kMaxLoadedFileBytes (ReadSmallFile):
//   NotFound            it does not exist
//   PermissionDenied    it may not be opened
//   FailedPrecondition  not a regular file (e.g. a FIFO: refused at once, never
//                       waited on), larger than the limit, or a read error
// Messages start with the path, e.g. "<path> is not a regular file (a fifo)".
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);
// Writes `<path>.tmp` with `mode`, flushes it to disk and renames it over `path`
// (WriteTempFile, then ReplaceWithTemp). On error neither file is changed
// (the temporary file is removed).
absl::Status WriteFileAtomically(const std::string& path, std::string_view content, mode_t mode);
// The first half: `<path>.tmp` (replacing a leftover), written and flushed.
absl::Status WriteTempFile(const std::string& path, std::string_view content, mode_t mode);
// The second half: renames `<path>.tmp` over `path`; removes it on error.
// Then flushes the directory, so that the rename reaches the disk before
// anything the caller removes afterwards (a failure there is logged only).
absl::Status ReplaceWithTemp(const std::string& path);

}  // namespace troupe::hosting
