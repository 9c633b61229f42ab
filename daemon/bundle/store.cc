// store.cc - the bundle files in a directory; see store.h.
#include "daemon/bundle/store.h"

#include <algorithm>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "daemon/bundle/manifest.h"
#include "daemon/bundle/version.h"
#include "daemon/common/strings.h"

namespace troupe::bundle {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSuffix = ".troupe";

absl::Status FsError(const std::error_code& ec, std::string_view what, std::string_view path) {
  std::string message = troupe::StrCat(what, " '", path, "': ", ec.message());
  if (ec.category() == std::generic_category() || ec.category() == std::system_category()) {
    return absl::Status(absl::ErrnoToStatusCode(ec.value()), message);
  }
  return absl::InternalError(message);
}

// `path` made absolute and lexically normal, so "dir//a" and "./dir/a" match.
std::string Normal(const std::string& path) {
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  if (ec) return fs::path(path).lexically_normal().string();
  return absolute.lexically_normal().string();
}

// Newest first within a group; equal versions ("1.0", "1") by path.
bool NewerFirst(const BundleFile& a, const BundleFile& b) {
  if (a.group != b.group) return a.group < b.group;
  int c = CompareVersions(a.version, b.version);
  if (c != 0) return c > 0;
  return a.path < b.path;
}

}  // namespace

absl::StatusOr<std::vector<BundleFile>> ListBundleFiles(const std::string& dir) {
  std::vector<BundleFile> files;
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    if (ec) return FsError(ec, "cannot read bundle directory", dir);
    return files;
  }
  fs::directory_iterator it(dir, ec);
  if (ec) return FsError(ec, "cannot read bundle directory", dir);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const fs::directory_entry& entry = *it;
    std::string name = entry.path().filename().string();
    if (name.size() <= kSuffix.size() ||
        std::string_view(name).substr(name.size() - kSuffix.size()) != kSuffix) {
      continue;
    }
    std::string_view stem = std::string_view(name).substr(0, name.size() - kSuffix.size());
    size_t dash = stem.find('-');
    if (dash == std::string_view::npos) continue;
    std::string_view group = stem.substr(0, dash);
    std::string_view version = stem.substr(dash + 1);
    if (!ValidateGroupName(group).ok() || !ValidateVersion(version).ok()) continue;
    std::error_code type_ec;
    if (!entry.is_regular_file(type_ec)) continue;
    files.push_back(BundleFile{entry.path().string(), std::string(group), std::string(version)});
  }
  if (ec) return FsError(ec, "cannot read bundle directory", dir);
  std::sort(files.begin(), files.end(), NewerFirst);
  return files;
}

absl::StatusOr<std::vector<std::string>> ApplyKeepLimit(
    const std::string& dir, const std::string& group, uint32_t keep,
    const absl::flat_hash_set<std::string>& protected_paths,
    const std::function<bool(const BundleFile&)>& counts) {
  std::vector<std::string> deleted;
  if (keep == 0) return deleted;
  absl::StatusOr<std::vector<BundleFile>> files = ListBundleFiles(dir);
  if (!files.ok()) return files.status();
  absl::flat_hash_set<std::string> protected_normal;
  for (const std::string& path : protected_paths) protected_normal.insert(Normal(path));
  std::vector<const BundleFile*> of_group;
  for (const BundleFile& file : *files) {
    if (file.group == group && (!counts || counts(file))) of_group.push_back(&file);
  }
  // of_group is newest first; index 0 (the newest) is always kept.
  for (size_t i = std::max<size_t>(keep, 1); i < of_group.size(); ++i) {
    const std::string& path = of_group[i]->path;
    if (protected_paths.contains(path) || protected_normal.contains(Normal(path))) continue;
    std::error_code ec;
    if (!fs::remove(path, ec) && ec) return FsError(ec, "cannot delete bundle file", path);
    deleted.push_back(path);
  }
  return deleted;
}

}  // namespace troupe::bundle
