// frame_io.h - one HostFrame (proto/troupe/v1/isolation.proto) on a stream
// socket: a 4-byte little-endian length, then that many bytes of the
// serialized frame. Blocking calls for the link's own reader and writer
// threads (host_link.h), never for actor workers.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "troupe/v1/isolation.pb.h"

namespace troupe::isolation {

// Frames longer than this are refused on both ends (a message's payload is
// bounded well below it by max_message_bytes).
inline constexpr uint32_t kMaxFrameBytes = uint32_t{1} << 28;

// Writes `frame` whole (partial writes and EINTR are retried). Internal with
// the errno text when the socket fails (EPIPE: the peer is gone);
// InvalidArgument when the frame is larger than kMaxFrameBytes.
absl::Status WriteFrame(int fd, const troupe::v1::HostFrame& frame);

// Reads the next frame into `frame`, using `buffer` for its bytes; a length
// over `max_bytes` (at most kMaxFrameBytes) is refused before anything is
// allocated for it, and the buffer grows only as bytes arrive.
// OutOfRange at a clean end of the stream (no byte of a next frame; a reset
// by a peer that closed with data unread counts as an end);
// DataLoss, naming what is wrong, for a stream that ends inside a frame, a
// length of 0 or over kMaxFrameBytes, or bytes that are not a HostFrame;
// Internal with the errno text when the read fails.
absl::Status ReadFrame(int fd, troupe::v1::HostFrame* frame, std::string* buffer,
                       uint32_t max_bytes = kMaxFrameBytes);

}  // namespace troupe::isolation
