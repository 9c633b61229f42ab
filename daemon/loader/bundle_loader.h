// bundle_loader.h - makes the actor libraries of a verified bundle loadable.
//
// LoadedBundle writes the bundle's lib/ and deps/ entries into a private
// directory named by the source hash (mode 0700, under a root only this
// process writes), then:
//  1. reads the DT_SONAME of every written library from its ELF dynamic
//     section (elf_dynamic.h) and refuses the bundle (FailedPrecondition) when
//     a library with that soname is already loaded in this process from
//     another file, or when two of its libraries share a soname: the dynamic
//     linker matches DT_NEEDED by soname across RTLD_LOCAL scopes, so such a
//     library would silently bind to the other copy (PLUGIN-LOADING.md 3.4);
//  2. preloads the deps/ libraries (RTLD_NOW | RTLD_LOCAL) in bundle order,
//     retrying the ones that failed after the others loaded (a dep needing a
//     later dep), for as long as a round loads something; an actor library's
//     DT_NEEDED on a bundled dep then resolves by soname to the preloaded copy
//     (no RUNPATH needed; a dep without DT_SONAME cannot be found that way);
//  3. opens each actor library with PluginLibrary (RTLD_NOW | RTLD_LOCAL).
// Two versions of one group load side by side: their files live in different
// directories (but two versions bundling a dep with one soname cannot: the
// second is refused by step 1; link such deps statically). Unloading closes
// the actor libraries, then the deps (last loaded first), and checks with
// RTLD_NOLOAD that none stays resident; one that does is reported, never
// unmapped under running code.
//
// Still to come with the daemon: sealed memfds instead of files.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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

  // The preloaded deps/ libraries, in load order.
  std::vector<std::string> dependency_paths() const;

  // Closes every library (no actor of theirs may be alive), deps last, and
  // removes the directory. Returns the library paths (actor libraries and
  // deps) still resident afterwards (a leak: e.g. a thread_local with a
  // destructor in actor code); empty when clean.
  std::vector<std::string> Unload();

 private:
  LoadedBundle() = default;

  std::string source_hash_;
  std::string group_;
  std::string version_;
  std::string directory_;
  std::vector<std::unique_ptr<PluginLibrary>> libraries_;
  std::vector<std::pair<std::string, void*>> deps_;  // path, dlopen handle; load order
  bool unloaded_ = false;
};

// True when the library at `path` is mapped in this process.
bool IsResident(const std::string& path);

// The file of the library loaded in this process under `soname`, matched as
// the dynamic linker matches a DT_NEEDED entry (dlopen RTLD_NOLOAD, then
// dlinfo); nullopt when none is.
std::optional<std::string> ResidentPathOfSoname(const std::string& soname);

// OK unless a library with `soname` is loaded in this process from a file
// other than `path` (compared by device and inode); then FailedPrecondition
// naming `path`, the soname and the loaded file. An empty soname is OK.
absl::Status CheckSonameNotLoadedElsewhere(std::string_view soname, const std::string& path);

}  // namespace troupe::loader
