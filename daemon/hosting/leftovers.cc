#include "daemon/hosting/leftovers.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "daemon/bundle/bundle.h"
#include "daemon/common/strings.h"
#include "daemon/hosting/loaded_state.h"
#include "daemon/loader/bundle_loader.h"

namespace troupe::hosting {
namespace {

namespace fs = std::filesystem;

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// True when a regular file under `dir` is a library mapped in this process.
bool HasResidentLibrary(const fs::path& dir) {
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code file_ec;
    if (it->is_regular_file(file_ec) && loader::IsResident(it->path().string())) return true;
  }
  return false;
}

void Remove(const fs::path& path, std::string_view what, std::vector<std::string>* lines) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) {
    lines->push_back(
        troupe::StrCat("cannot remove ", path.string(), " (", what, "): ", ec.message()));
  } else {
    lines->push_back(troupe::StrCat("removed ", path.string(), " (", what, ")"));
  }
}

}  // namespace

std::vector<std::string> RemoveLeftovers(const std::string& loaded_dir,
                                         const std::string& library_root,
                                         std::string_view state_text,
                                         const std::function<bool(std::string_view hash)>& loaded) {
  std::vector<std::pair<fs::path, std::string_view>> doomed;  // removed after the listing
  auto recorded = [&](std::string_view hash) {
    return state_text.find(hash) != std::string_view::npos;
  };
  std::error_code ec;
  for (fs::directory_iterator it(loaded_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) continue;
    if (EndsWith(name, ".tmp")) {
      doomed.emplace_back(it->path(), "a partial file of an interrupted write");
      continue;
    }
    if (!EndsWith(name, bundle::kBundleSuffix)) continue;
    const std::string_view hash = std::string_view(name).substr(
        0, name.size() - std::string_view(bundle::kBundleSuffix).size());
    if (IsSourceHash(hash) && !recorded(hash) && !loaded(hash)) {
      doomed.emplace_back(
          it->path(), "a stored copy no state line names, left by an interrupted load or unload");
    }
  }
  for (fs::directory_iterator it(library_root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (!it->is_directory(type_ec) || it->is_symlink(type_ec)) continue;
    if (!IsSourceHash(name) || recorded(name) || loaded(name)) continue;
    if (HasResidentLibrary(it->path())) continue;  // code of this process: never pulled away
    doomed.emplace_back(it->path(),
                        "libraries of a bundle no state line names, left by an interrupted load");
  }
  std::vector<std::string> lines;
  for (const auto& [path, what] : doomed) Remove(path, what, &lines);
  return lines;
}

}  // namespace troupe::hosting
