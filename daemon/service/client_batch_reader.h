// client_batch_reader.h - a Connect stream's ClientBatch read from its wire
// bytes one frame at a time, so the stream can stop in the middle of a batch
// (back-pressure) and never holds more than the batch's bytes and one parsed
// frame. gRPC's own deserializer would build every frame of the batch first:
// an 8 MB batch of 2 M empty frames became half a GiB of objects.
//
// A value owned by one ClientStream; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/support/byte_buffer.h"
#include "troupe/v1/messaging.pb.h"

namespace troupe::service {

class ClientBatchReader {
 public:
  // Takes the bytes of one ClientBatch (emptying `buffer`) and checks its
  // outline before any frame is handled: ResourceExhausted for more than
  // `max_bytes` (checked before anything is copied) or more than
  // `max_frames` frames, InvalidArgument for bytes that are not a
  // ClientBatch. On error the reader is empty.
  absl::Status Reset(grpc::ByteBuffer* buffer, size_t max_frames, size_t max_bytes);

  // True when every frame of the batch has been taken (or none was given).
  bool done() const { return position_ >= bytes_.size(); }

  // The next frame. A frame whose fields are malformed is InvalidArgument
  // naming the field; `id` is set to the frame's id when it could be read
  // (0 otherwise), so the error can be answered to it.
  absl::StatusOr<v1::ClientFrame> Next(uint64_t* id);

  // Frees the batch's bytes (done() afterwards).
  void Release();

 private:
  std::string bytes_;
  size_t position_ = 0;  // of the next frame's tag
};

}  // namespace troupe::service
