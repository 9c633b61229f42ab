// library_memfd.cc - sealed memfds of library bytes (library_memfd.h).
#include "daemon/isolation/library_memfd.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "daemon/common/posix_io.h"
#include "daemon/common/strings.h"

namespace troupe::isolation {

absl::StatusOr<int> SealedMemfd(std::string_view name, std::string_view bytes) {
  const std::string label(name);
  const int fd = ::memfd_create(label.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return ErrnoError(errno, label, "cannot make a memfd");
  if (absl::Status written = WriteAll(fd, bytes, label); !written.ok()) {
    ::close(fd);
    return written;
  }
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    const int e = errno;
    ::close(fd);
    return ErrnoError(e, label, "cannot seal the memfd");
  }
  return fd;
}

absl::StatusOr<int> SealedMemfdOfFile(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(troupe::StrCat(path, ": cannot open"));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  const std::string data = bytes.str();
  if (data.size() > max_bytes) {
    return absl::ResourceExhaustedError(
        troupe::StrCat(path, ": ", data.size(), " bytes is over the limit of ", max_bytes));
  }
  return SealedMemfd(path, data);
}

}  // namespace troupe::isolation
