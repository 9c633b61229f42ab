// request_bytes.h - a unary request read from its wire bytes (a raw gRPC
// method) and a response written back as bytes. gRPC's own deserializer fails
// the whole call on a `string` field that is not UTF-8 (the client sees
// INTERNAL, libprotobuf logs a line of its own); read here, such a request is
// InvalidArgument naming the field, and nothing is logged.
#pragma once

#include <cstddef>
#include <limits>

#include <string_view>

#include "absl/status/status.h"
#include "grpcpp/support/byte_buffer.h"

namespace google::protobuf {
class Descriptor;
class Message;
}  // namespace google::protobuf

namespace troupe::service {

// InvalidArgument "request field 'PATH' is not valid UTF-8" when a `string`
// field of `descriptor`'s message, or of a message nested in it, holds bytes
// that are not UTF-8; PATH names the field as in "actors[2].class_name".
// InvalidArgument "malformed NAME" for bytes that are not protobuf wire
// format. Fields the descriptor does not know are skipped.
absl::Status CheckStringFields(std::string_view wire, const google::protobuf::Descriptor& descriptor);

// The bytes of `buffer` in one string; false when gRPC cannot hand them out.
bool FlattenByteBuffer(const grpc::ByteBuffer& buffer, std::string* bytes);

// Parses `buffer` into `request` after CheckStringFields. Errors as
// CheckStringFields.
// ResourceExhausted, before any byte is copied, for a request over
// `max_bytes` (a per-method limit below gRPC's one for every message).
absl::Status ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message* request,
                          size_t max_bytes = std::numeric_limits<size_t>::max());

// Serializes `response` into `buffer`. Internal when it cannot be serialized.
absl::Status SerializeResponse(const google::protobuf::Message& response,
                               grpc::ByteBuffer* buffer);

}  // namespace troupe::service
