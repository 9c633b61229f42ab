// bundle_loader.h - makes the actor libraries of a verified bundle loadable.
//
// LoadedBundle writes the bundle's lib/ and deps/ entries into a private
// directory named by the source hash (mode 0700, under a root only this
// process writes) and opens each library with PluginLibrary (RTLD_NOW |
// RTLD_LOCAL). Two versions of one group load side by side: their files live
// in different directories. Unloading closes every library and checks with
// RTLD_NOLOAD that none stays resident; one that does is reported, never
// unmapped under running code.
//
// Still to come with the daemon: sealed memfds instead of files, the refusal
// of a bundled DT_NEEDED soname already loaded from elsewhere, and preloading
// deps/ for libraries that need them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/bundle/bundle.h"
#include "daemon/loader/plugin_library.h"

namespace troupe::loader {

// Not thread-safe; owned by one loader.
class LoadedBundle {
 public:
  // Writes and opens the libraries of `bundle` under `root`/<source hash>/.
  // Errors name the bundle and the file; nothing is left behind on error.
  static absl::StatusOr<std::unique_ptr<LoadedBundle>> Load(const bundle::VerifiedBundle& bundle,
                                                            const std::string& root);
  ~LoadedBundle();  // Unload() if not done
  LoadedBundle(const LoadedBundle&) = delete;
  LoadedBundle& operator=(const LoadedBundle&) = delete;

  const std::string& source_hash() const { return source_hash_; }
  const std::string& group() const { return group_; }
  const std::string& version() const { return version_; }
  const std::string& directory() const { return directory_; }
  // In the manifest's order.
  const std::vector<std::unique_ptr<PluginLibrary>>& libraries() const { return libraries_; }

  // Closes every library (no actor of theirs may be alive) and removes the
  // directory. Returns the library paths still resident afterwards (a leak:
  // e.g. a thread_local with a destructor in actor code); empty when clean.
  std::vector<std::string> Unload();

 private:
  LoadedBundle() = default;

  std::string source_hash_;
  std::string group_;
  std::string version_;
  std::string directory_;
  std::vector<std::unique_ptr<PluginLibrary>> libraries_;
  bool unloaded_ = false;
};

// True when the library at `path` is mapped in this process.
bool IsResident(const std::string& path);

}  // namespace troupe::loader
