#include "daemon/loader/bundle_loader.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "daemon/common/logging.h"
#include "daemon/common/strings.h"

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

}  // namespace

bool IsResident(const std::string& path) {
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) return false;
  ::dlclose(handle);
  return true;
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
  // are plain file names.
  for (const bundle::VerifiedEntry& entry : bundle.entries) {
    if (entry.name.rfind("lib/", 0) != 0 && entry.name.rfind("deps/", 0) != 0) continue;
    absl::StatusOr<std::string> content = bundle.ReadEntry(entry.name);
    if (!content.ok()) return fail(content.status());
    if (absl::Status s = WriteNewFile(troupe::StrCat(dir, "/", entry.name), *content, 0500);
        !s.ok()) {
      return fail(s);
    }
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

std::vector<std::string> LoadedBundle::Unload() {
  std::vector<std::string> paths;
  for (const auto& lib : libraries_) paths.push_back(lib->path());
  libraries_.clear();  // dlclose, last opened first is not required: RTLD_LOCAL, no deps
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
