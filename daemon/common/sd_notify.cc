#include "daemon/common/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "daemon/common/strings.h"

namespace troupe {
namespace {

absl::Status SendError(std::string_view socket, int error) {
  std::string message =
      troupe::StrCat("cannot send to NOTIFY_SOCKET ", socket, ": ", std::strerror(error));
  switch (error) {
    case ENOENT:
    case ECONNREFUSED:
    case ENOTDIR:
      return absl::UnavailableError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case EMSGSIZE:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

absl::Status SdNotifyTo(std::string_view socket, std::string_view state) {
  if (socket.empty()) return absl::OkStatus();
  if (state.empty()) {
    return absl::InvalidArgumentError(
        troupe::StrCat("empty notification for NOTIFY_SOCKET ", socket));
  }
  sockaddr_un address;
  std::memset(&address, 0, sizeof(address));
  address.sun_family = AF_UNIX;
  socklen_t length = 0;
  if (socket.front() == '/') {
    // Room for the terminating NUL.
    if (socket.size() >= sizeof(address.sun_path)) {
      return absl::InvalidArgumentError(troupe::StrCat("NOTIFY_SOCKET ", socket, " is longer than ",
                                                       sizeof(address.sun_path) - 1, " bytes"));
    }
    std::memcpy(address.sun_path, socket.data(), socket.size());
    length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket.size() + 1);
  } else if (socket.front() == '@') {
    // Abstract namespace: a leading NUL instead of '@', no terminator; the
    // name is exactly the bytes given by the address length.
    if (socket.size() > sizeof(address.sun_path)) {
      return absl::InvalidArgumentError(troupe::StrCat("NOTIFY_SOCKET ", socket, " is longer than ",
                                                       sizeof(address.sun_path), " bytes"));
    }
    address.sun_path[0] = '\0';
    std::memcpy(address.sun_path + 1, socket.data() + 1, socket.size() - 1);
    length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket.size());
  } else {
    return absl::InvalidArgumentError(troupe::StrCat(
        "NOTIFY_SOCKET '", socket, "' is neither an absolute path nor an abstract name (@name)"));
  }

  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::InternalError(troupe::StrCat("cannot create a socket for NOTIFY_SOCKET ", socket,
                                              ": ", std::strerror(errno)));
  }
  ssize_t sent;
  do {
    sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                    reinterpret_cast<const sockaddr*>(&address), length);
  } while (sent < 0 && errno == EINTR);
  const int error = errno;
  ::close(fd);
  if (sent < 0) return SendError(socket, error);
  if (static_cast<size_t>(sent) != state.size()) {
    return absl::InternalError(troupe::StrCat("short send to NOTIFY_SOCKET ", socket, ": ", sent,
                                              " of ", state.size(), " bytes"));
  }
  return absl::OkStatus();
}

absl::Status SdNotify(std::string_view state) {
  const char* socket = std::getenv(std::string(kNotifySocketEnv).c_str());
  if (socket == nullptr) return absl::OkStatus();
  return SdNotifyTo(socket, state);
}

std::string SdStatusLine(std::string_view text) {
  std::string line = troupe::StrCat("STATUS=", text);
  std::replace(line.begin(), line.end(), '\n', ' ');
  return line;
}

std::string SdExtendTimeoutLine(absl::Duration extension) {
  const int64_t usec = std::max<int64_t>(0, absl::ToInt64Microseconds(extension));
  return troupe::StrCat("EXTEND_TIMEOUT_USEC=", usec);
}

absl::Status SdNotifyReady() { return SdNotify("READY=1"); }
absl::Status SdNotifyStopping() { return SdNotify("STOPPING=1"); }
absl::Status SdNotifyStatus(std::string_view text) { return SdNotify(SdStatusLine(text)); }
absl::Status SdNotifyExtendTimeout(absl::Duration extension) {
  return SdNotify(SdExtendTimeoutLine(extension));
}

}  // namespace troupe
