// store.h - the bundle files in a directory (TROUPE_DIR/bundles): listing by
// group and version, and the keep limit.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"

namespace troupe::bundle {

struct BundleFile {
  std::string path;
  std::string group;
  std::string version;
};

// Files named <group>-<version>.troupe in `dir` (others are ignored), sorted
// by group, then newest version first. Names are not verified here; callers
// verify a file before using it. A missing directory is an empty list.
absl::StatusOr<std::vector<BundleFile>> ListBundleFiles(const std::string& dir);

// Deletes the bundle files of `group` in `dir` beyond the `keep` newest,
// never the newest one and never a path in `protected_paths` (e.g. loaded in
// a daemon, or just written). Only files `counts` accepts (e.g. those that
// verify) take a place or are deleted; others (junk that merely looks like a
// bundle) are left alone. Returns the deleted paths. keep == 0 deletes nothing.
absl::StatusOr<std::vector<std::string>> ApplyKeepLimit(
    const std::string& dir, const std::string& group, uint32_t keep,
    const absl::flat_hash_set<std::string>& protected_paths = {},
    const std::function<bool(const BundleFile&)>& counts = nullptr);

}  // namespace troupe::bundle
