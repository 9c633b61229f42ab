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

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

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

// Creates `path` (not its parents) with mode 0700, or sets an existing
// directory of ours to 0700.
absl::Status MakePrivateDirectory(const std::string& path);
// The whole file; NotFound when it does not exist.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);
// Writes `<path>.tmp` with `mode`, flushes it to disk and renames it over `path`.
absl::Status WriteFileAtomically(const std::string& path, std::string_view content, mode_t mode);

}  // namespace troupe::hosting
