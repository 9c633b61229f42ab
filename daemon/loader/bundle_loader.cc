#include "daemon/loader/bundle_loader.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <system_error>

#include "daemon/common/logging.h"
#include "daemon/common/strings.h"
#include "daemon/loader/elf_dynamic.h"

namespace troupe::loader {
namespace {

namespace fs = std::filesystem;

// Writes `content` to a new file at `path` with `mode`; refuses to replace.
absl::Status WriteNewFile(const std::string& path, std::string_view content, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0)
    return absl::InternalError(troupe::StrCat(path, ": cannot create: ", std::strerror(errno)));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      ::close(fd);
      return absl::InternalError(troupe::StrCat(path, ": cannot write: ", std::strerror(saved)));
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    return absl::InternalError(troupe::StrCat(path, ": cannot write: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status MakePrivateDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(
        troupe::StrCat(path, ": cannot create directory: ", std::strerror(errno)));
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() ||
      (st.st_mode & 0077) != 0) {
    return absl::FailedPreconditionError(troupe::StrCat(
        path, ": not a private directory (want a directory owned by this user, mode 0700)"));
  }
  return absl::OkStatus();
}

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

std::string DlError() {
  const char* error = ::dlerror();
  return error != nullptr ? error : "unknown dlopen error";
}

}  // namespace

bool IsResident(const std::string& path) {
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) return false;
  ::dlclose(handle);
  return true;
}

std::optional<std::string> ResidentPathOfSoname(const std::string& soname) {
  if (soname.empty()) return std::nullopt;
  // A name without '/' is first matched against the names and sonames of
  // every loaded object, whatever its scope; RTLD_NOLOAD never maps a file.
  void* handle = ::dlopen(soname.c_str(), RTLD_LAZY | RTLD_NOLOAD);
  if (handle == nullptr) {
    (void)::dlerror();
    return std::nullopt;
  }
  std::string path;
  struct link_map* map = nullptr;
  if (::dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map != nullptr && map->l_name != nullptr) {
    path = map->l_name;
  }
  ::dlclose(handle);
  if (path.empty()) path = "/proc/self/exe";  // the main program has no l_name
  return path;
}

absl::Status CheckSonameNotLoadedElsewhere(std::string_view soname, const std::string& path) {
  if (soname.empty()) return absl::OkStatus();
  std::optional<std::string> resident = ResidentPathOfSoname(std::string(soname));
  if (!resident.has_value() || SameFile(*resident, path)) return absl::OkStatus();
  return absl::FailedPreconditionError(troupe::StrCat(
      "library ", path, " has soname '", soname, "', which is already loaded in this process from ",
      *resident,
      " (a DT_NEEDED on it would bind to that copy); link it statically into the actor "
      "library or give it a soname of its own"));
}

absl::StatusOr<std::unique_ptr<LoadedBundle>> LoadedBundle::Load(
    const bundle::VerifiedBundle& bundle, const std::string& root) {
  const std::string where =
      troupe::StrCat("bundle ", bundle.manifest.group(), "-", bundle.manifest.version(), " (",
                     bundle.source_hash, ")");
  if (absl::Status s = MakePrivateDir(root); !s.ok()) return s;
  const std::string dir = troupe::StrCat(root, "/", bundle.source_hash);
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    return absl::AlreadyExistsError(troupe::StrCat(where, ": already loaded from ", dir));
  }
  std::unique_ptr<LoadedBundle> loaded(new LoadedBundle());
  loaded->source_hash_ = bundle.source_hash;
  loaded->group_ = bundle.manifest.group();
  loaded->version_ = bundle.manifest.version();
  loaded->directory_ = dir;
  auto fail = [&](absl::Status s) {
    loaded->Unload();
    return s;
  };
  for (const std::string& sub : {dir, dir + "/lib", dir + "/deps"}) {
    if (absl::Status s = MakePrivateDir(sub); !s.ok()) return fail(s);
  }
  // Only code is written out: the verifier guarantees lib/ and deps/ names
  // are plain file names. Each library's soname is read from the same bytes.
  std::map<std::string, std::string> entry_by_soname;
  std::vector<std::string> dep_entries;  // bundle (name) order
  for (const bundle::VerifiedEntry& entry : bundle.entries) {
    const bool is_dep = entry.name.rfind("deps/", 0) == 0;
    if (entry.name.rfind("lib/", 0) != 0 && !is_dep) continue;
    absl::StatusOr<std::string> content = bundle.ReadEntry(entry.name);
    if (!content.ok()) return fail(content.status());
    absl::StatusOr<ElfDynamicInfo> elf = ReadElfDynamic(*content, entry.name);
    if (!elf.ok()) {
      return fail(absl::InvalidArgumentError(troupe::StrCat(where, ": ", elf.status().message())));
    }
    if (!elf->soname.empty()) {
      auto [it, inserted] = entry_by_soname.emplace(elf->soname, entry.name);
      if (!inserted) {
        return fail(absl::FailedPreconditionError(
            troupe::StrCat(where, ": libraries ", it->second, " and ", entry.name,
                           " both have soname '", elf->soname, "'")));
      }
    }
    if (absl::Status s = WriteNewFile(troupe::StrCat(dir, "/", entry.name), *content, 0500);
        !s.ok()) {
      return fail(s);
    }
    if (is_dep) dep_entries.push_back(entry.name);
  }
  // Before any of the bundle's code is mapped: no soname of ours may already
  // name a library loaded from elsewhere.
  for (const auto& [soname, entry] : entry_by_soname) {
    if (absl::Status s = CheckSonameNotLoadedElsewhere(soname, troupe::StrCat(dir, "/", entry));
        !s.ok()) {
      return fail(absl::FailedPreconditionError(troupe::StrCat(where, ": ", s.message())));
    }
  }
  // Preload deps/ so that actor libraries find them by soname. A dep that
  // needs another dep loaded later fails first and is retried in the next
  // round; stop when a round loads nothing.
  std::vector<std::string> pending = dep_entries;
  std::map<std::string, std::string> last_error;
  while (!pending.empty()) {
    std::vector<std::string> failed;
    for (const std::string& entry : pending) {
      const std::string path = troupe::StrCat(dir, "/", entry);
      void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handle == nullptr) {
        last_error[entry] = DlError();
        failed.push_back(entry);
        continue;
      }
      loaded->deps_.emplace_back(path, handle);
    }
    if (failed.size() == pending.size()) {
      return fail(absl::InvalidArgumentError(troupe::StrCat(
          where, ": cannot load dependency ", failed.front(), ": ", last_error[failed.front()])));
    }
    pending = std::move(failed);
  }
  for (const std::string& library : bundle.manifest.libraries()) {
    absl::StatusOr<std::unique_ptr<PluginLibrary>> lib =
        PluginLibrary::Open(troupe::StrCat(dir, "/", library));
    if (!lib.ok()) {
      return fail(
          absl::Status(lib.status().code(), troupe::StrCat(where, ": ", lib.status().message())));
    }
    loaded->libraries_.push_back(*std::move(lib));
  }
  return loaded;
}

LoadedBundle::~LoadedBundle() {
  if (!unloaded_) Unload();
}

std::vector<std::string> LoadedBundle::dependency_paths() const {
  std::vector<std::string> paths;
  for (const auto& [path, handle] : deps_) paths.push_back(path);
  return paths;
}

std::vector<std::string> LoadedBundle::Unload() {
  std::vector<std::string> paths;
  for (const auto& lib : libraries_) paths.push_back(lib->path());
  libraries_.clear();  // dlclose: the actor libraries first, they may need the deps
  // Then the deps, last loaded first (a dep may need one loaded before it).
  for (auto it = deps_.rbegin(); it != deps_.rend(); ++it) {
    paths.push_back(it->first);
    if (::dlclose(it->second) != 0) {
      LogWarning("bundle ", source_hash_, ": dlclose of ", it->first, " failed: ", DlError());
    }
  }
  deps_.clear();
  unloaded_ = true;
  std::vector<std::string> resident;
  for (const std::string& path : paths) {
    if (IsResident(path)) {
      resident.push_back(path);
      LogWarning("bundle ", source_hash_, ": library ", path,
                 " is still resident after unload (kept mapped; see PLUGIN-LOADING.md)");
    }
  }
  // A resident library's file stays, so a later dlopen of the path cannot
  // map something else under the running code's name.
  std::error_code ec;
  if (resident.empty()) fs::remove_all(directory_, ec);
  return resident;
}

}  // namespace troupe::loader
