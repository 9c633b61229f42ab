// common.cc - exit codes, output and file helpers shared by the commands.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

#include "daemon/common/strings.h"
#include "director/commands/commands.h"

namespace troupe::director {

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kFailedPrecondition:
      return kExitVerifyFailed;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return kExitInvalidInput;
    case absl::StatusCode::kAlreadyExists:
      return kExitAlreadyExists;
    case absl::StatusCode::kUnavailable:
      return kExitNotRunning;
    case absl::StatusCode::kDeadlineExceeded:
      return kExitTimeout;
    default:
      return kExitInternal;
  }
}

std::string ExitCodeHelp() {
  return "Exit codes:\n"
         "  0  success\n"
         "  1  other error (I/O, permissions, internal)\n"
         "  2  usage error: unknown command, bad option or argument\n"
         "  3  not found: file, key, bundle or entry\n"
         "  4  verification failed: bad signature, untrusted key, tampered or unsafe bundle;\n"
         "     or the daemon refused the request (bundle rejected by verification or its\n"
         "     on_load actions, or the daemon's state forbids it: see the message)\n"
         "  5  invalid input: manifest, version, key file or name\n"
         "  6  already exists: refusing to overwrite\n"
         "  7  invalid configuration (director config check, or a command needing a bad setting)\n"
         "  8  troupd is not running: nothing answers on its socket\n"
         "  9  timed out: troupd, or the actor asked, did not answer in time\n"
         "  10 the actor asked failed on the message (a PoisonMessage came back)\n"
         "  11 not permitted: bootstart may not install the service (run it as root)\n"
         "TROUPE_DIR (default /var/lib/troupe; --dir wins) holds config/, keys/, bundles/,\n"
         "loaded/ and run/ (troupd's socket and, with `director start`, its log).";
}

const config::Config& Context::config() {
  if (config_ == nullptr) {
    config_ = std::make_unique<config::Config>(config::Config::Load(options_.dir));
  }
  return *config_;
}

int Context::Fail(const absl::Status& status, int code) {
  if (code < 0) code = ExitCodeFor(status);
  if (code == kExitOk) code = kExitInternal;  // a failure never exits 0
  err_ << "director: " << status.message() << "\n";
  if (options_.json) {
    out_ << JsonText(Json{{"ok", false},
                          {"exit_code", code},
                          {"error", std::string(status.message().data(), status.message().size())}})
         << "\n";
  }
  return code;
}

int Context::PrintJson(const Json& object) {
  Json out = {{"ok", true}};
  if (object.is_object()) {
    for (const auto& [name, value] : object.items()) out[name] = value;
  }
  out_ << JsonText(out) << "\n";
  return kExitOk;
}

absl::StatusOr<std::string> ReadStream(std::istream& in, const std::string& what,
                                       uint64_t max_bytes) {
  std::string content;
  char buffer[64 * 1024];
  while (in) {
    in.read(buffer, sizeof buffer);
    const std::streamsize got = in.gcount();
    if (got <= 0) break;
    if (content.size() + static_cast<uint64_t>(got) > max_bytes) {
      return absl::FailedPreconditionError(
          troupe::StrCat(what, " is more than ", max_bytes, " bytes, the limit for it"));
    }
    content.append(buffer, static_cast<size_t>(got));
  }
  if (in.bad()) return absl::UnknownError(troupe::StrCat(what, ": read error"));
  return content;
}

absl::StatusOr<std::string> ReadFile(const std::string& path, uint64_t max_bytes) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(troupe::StrCat(path, ": is a directory"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    if (error == ENOENT) return absl::NotFoundError(troupe::StrCat(path, ": no such file"));
    return absl::UnknownError(troupe::StrCat(path, ": ", std::strerror(error)));
  }
  return ReadStream(in, path, max_bytes);
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view content, unsigned mode,
                                 bool overwrite) {
  const std::filesystem::path target(path);
  std::string temp =
      (target.parent_path().empty() ? std::filesystem::path(".") : target.parent_path()) /
      ("." + target.filename().string() + ".tmp.XXXXXX");
  const int fd = mkstemp(temp.data());
  if (fd < 0) {
    return absl::UnknownError(
        troupe::StrCat("cannot create a file next to ", path, ": ", std::strerror(errno)));
  }
  const auto fail = [&](std::string_view what) {
    const int error = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return absl::UnknownError(troupe::StrCat(what, " ", path, ": ", std::strerror(error)));
  };
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, mode) != 0) return fail("cannot chmod");
  if (::fsync(fd) != 0) return fail("cannot sync");
  if (::close(fd) != 0) {
    ::unlink(temp.c_str());
    return absl::UnknownError(troupe::StrCat("cannot close ", path, ": ", std::strerror(errno)));
  }
  if (!overwrite) {
    // link(2) publishes the complete file and fails if the name exists.
    const int linked = ::link(temp.c_str(), path.c_str());
    const int error = errno;
    ::unlink(temp.c_str());
    if (linked == 0) return absl::OkStatus();
    if (error == EEXIST) return absl::AlreadyExistsError(troupe::StrCat(path, " already exists"));
    return absl::UnknownError(troupe::StrCat("cannot create ", path, ": ", std::strerror(error)));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    return absl::UnknownError(
        troupe::StrCat("cannot rename into ", path, ": ", std::strerror(error)));
  }
  return absl::OkStatus();
}

absl::Status MakeDirectories(const std::string& path, unsigned mode) {
  std::string partial;
  std::filesystem::path p(path);
  for (const auto& part : p) {
    partial = partial.empty()  ? part.string()
              : partial == "/" ? "/" + part.string()
                               : partial + "/" + part.string();
    if (part.empty()) continue;
    const bool last = std::filesystem::path(partial) == p;
    if (::mkdir(partial.c_str(), last ? mode : 0755) != 0 && errno != EEXIST) {
      return absl::UnknownError(
          troupe::StrCat("cannot create directory ", partial, ": ", std::strerror(errno)));
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::UnknownError(troupe::StrCat(path, " is not a directory"));
  }
  return absl::OkStatus();
}

}  // namespace troupe::director
