#include "daemon/hosting/loaded_state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/container/flat_hash_set.h"
#include "daemon/common/logging.h"
#include "daemon/common/posix_io.h"
#include "daemon/common/small_file.h"
#include "daemon/common/strings.h"

namespace troupe::hosting {
namespace {

absl::Status Errno(std::string_view path, std::string_view what) {
  return ErrnoError(errno, path, what);
}

}  // namespace

bool IsSourceHash(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

ParsedState ParseLoadedState(std::string_view text, std::string_view where) {
  ParsedState parsed;
  absl::flat_hash_set<std::string> seen;
  size_t line_number = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = Trim(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++line_number;
    if (line.empty() || line.front() == '#') continue;
    auto problem = [&](std::string_view what) {
      parsed.problems.push_back(troupe::StrCat(where, ":", line_number, ": ", what));
    };
    std::string_view name;
    if (size_t hash_mark = line.find('#'); hash_mark != std::string_view::npos) {
      name = Trim(line.substr(hash_mark + 1));
      line = Trim(line.substr(0, hash_mark));
    }
    size_t space = line.find_first_of(" \t");
    std::string_view hash = line.substr(0, space);
    std::string_view state =
        space == std::string_view::npos ? std::string_view() : Trim(line.substr(space));
    if (!IsSourceHash(hash)) {
      problem(troupe::StrCat("'", hash, "' is not a source hash (64 lowercase hex digits)"));
      continue;
    }
    if (state != "active" && state != "inactive") {
      problem(troupe::StrCat("bundle ", hash, ": state '", state,
                             "' is neither 'active' nor 'inactive'"));
      continue;
    }
    if (!seen.insert(std::string(hash)).second) {
      problem(troupe::StrCat("bundle ", hash, " is listed twice; the first line counts"));
      continue;
    }
    parsed.entries.push_back(StateEntry{std::string(hash), state == "active", std::string(name)});
  }
  return parsed;
}

std::string FormatLoadedState(const std::vector<StateEntry>& entries) {
  std::string out =
      "# Bundles troupd loads at startup, in load order, one a line:\n"
      "# <source hash> active|inactive [# <group> <version>, only for messages]\n"
      "# Written by the daemon after every load and unload; do not edit while it runs.\n";
  for (const StateEntry& entry : entries) {
    troupe::StrAppend(&out, entry.hash, entry.active ? " active" : " inactive");
    if (!entry.name.empty()) troupe::StrAppend(&out, " # ", entry.name);
    out += "\n";
  }
  return out;
}

absl::Status MakePrivateDirectory(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return Errno(path, "cannot create directory");
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return Errno(path, "cannot inspect directory");
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) {
    return absl::FailedPreconditionError(
        troupe::StrCat(path, ": not a directory owned by this user"));
  }
  if ((st.st_mode & 07777) != 0700 && ::chmod(path.c_str(), 0700) != 0) {
    return Errno(path, "cannot make the directory private (mode 0700)");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  return ReadSmallFile(path, kMaxLoadedFileBytes);
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view content, mode_t mode) {
  if (absl::Status written = WriteTempFile(path, content, mode); !written.ok()) return written;
  return ReplaceWithTemp(path);
}

absl::Status WriteTempFile(const std::string& path, std::string_view content, mode_t mode) {
  const std::string temp = path + ".tmp";
  ::unlink(temp.c_str());  // a leftover of a crash
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Errno(temp, "cannot create");
  if (absl::Status status = WriteAll(fd, content, temp); !status.ok()) {
    ::close(fd);
    ::unlink(temp.c_str());
    return status;
  }
  if (::fsync(fd) != 0) {
    absl::Status status = Errno(temp, "cannot flush");
    ::close(fd);
    ::unlink(temp.c_str());
    return status;
  }
  if (::close(fd) != 0) {
    absl::Status status = Errno(temp, "cannot write");
    ::unlink(temp.c_str());
    return status;
  }
  return absl::OkStatus();
}

absl::Status ReplaceWithTemp(const std::string& path) {
  const std::string temp = path + ".tmp";
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    absl::Status status = Errno(path, "cannot replace");
    ::unlink(temp.c_str());
    return status;
  }
  // The rename reaches the disk before anything the caller unlinks after it:
  // power loss must not keep a later unlink (an old stored copy) but lose the
  // rename (the state that stopped naming it). The rename is done and seen
  // either way, so a failure here is only logged.
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? std::string(".")
                          : slash == 0               ? std::string("/")
                                                     : path.substr(0, slash);
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0 || ::fsync(dir_fd) != 0) {
    const absl::Status flushed =
        Errno(dir, troupe::StrCat("cannot flush the directory after replacing ", path));
    LogWarning("hosting: ", flushed.message());
  }
  if (dir_fd >= 0) ::close(dir_fd);
  return absl::OkStatus();
}

}  // namespace troupe::hosting
