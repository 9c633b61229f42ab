// frame_io.cc - length-prefixed HostFrames on a stream socket (frame_io.h).
#include "daemon/isolation/frame_io.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>


#include <algorithm>

#include "daemon/common/posix_io.h"
#include "daemon/common/strings.h"

namespace troupe::isolation {
namespace {

absl::Status WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(troupe::StrCat("host link: write failed: ", troupe::ErrnoText(errno)));
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Reads exactly `size` bytes, the part of a frame of `frame_size` bytes
// that starts at `offset` (for the message when the stream ends inside it).
// `frame_started` says whether a byte of this frame was read before (a clean
// end of stream is only possible before the first).
absl::Status ReadAll(int fd, char* data, size_t size, bool frame_started, size_t offset = 0,
                     size_t frame_size = 0) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, data + done, size - done);
    if (n < 0 && errno == ECONNRESET) n = 0;  // the peer closed with our data unread
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(troupe::StrCat("host link: read failed: ", troupe::ErrnoText(errno)));
    }
    if (n == 0) {
      if (!frame_started && done == 0) return absl::OutOfRangeError("host link: end of stream");
      return absl::DataLossError(troupe::StrCat("host link: the stream ended inside a frame (",
                                                offset + done, " of ",
                                                frame_size != 0 ? frame_size : size,
                                                " bytes read)"));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteFrame(int fd, const troupe::v1::HostFrame& frame) {
  const size_t size = frame.ByteSizeLong();
  if (size > kMaxFrameBytes) {
    return absl::InvalidArgumentError(troupe::StrCat("host link: a frame of ", size,
                                                     " bytes is over the limit of ",
                                                     kMaxFrameBytes));
  }
  std::string bytes(4 + size, '\0');
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>((size >> (8 * i)) & 0xff);
  if (!frame.SerializeToArray(bytes.data() + 4, static_cast<int>(size))) {
    return absl::InternalError("host link: cannot serialize a frame");
  }
  return WriteAll(fd, bytes.data(), bytes.size());
}

absl::Status ReadFrame(int fd, troupe::v1::HostFrame* frame, std::string* buffer,
                       uint32_t max_bytes) {
  unsigned char prefix[4];
  if (absl::Status s = ReadAll(fd, reinterpret_cast<char*>(prefix), 4, false); !s.ok()) return s;
  const uint32_t size = uint32_t{prefix[0]} | uint32_t{prefix[1]} << 8 |
                        uint32_t{prefix[2]} << 16 | uint32_t{prefix[3]} << 24;
  const uint32_t limit = std::min(max_bytes, kMaxFrameBytes);
  if (size == 0 || size > limit) {
    return absl::DataLossError(troupe::StrCat("host link: bad frame length ", size,
                                              " (expected 1 to ", limit, ")"));
  }
  // Grown as the bytes come: a length alone allocates little.
  constexpr size_t kChunk = 1 << 20;
  buffer->clear();
  for (size_t done = 0; done < size;) {
    const size_t part = std::min<size_t>(kChunk, size - done);
    buffer->resize(done + part);
    if (absl::Status s = ReadAll(fd, buffer->data() + done, part, true, done, size); !s.ok()) {
      return s;
    }
    done += part;
  }
  frame->Clear();
  if (!frame->ParseFromArray(buffer->data(), static_cast<int>(size)) ||
      frame->frame_case() == troupe::v1::HostFrame::FRAME_NOT_SET) {
    return absl::DataLossError(
        troupe::StrCat("host link: a frame of ", size, " bytes is not a valid host frame"));
  }
  return absl::OkStatus();
}

}  // namespace troupe::isolation
