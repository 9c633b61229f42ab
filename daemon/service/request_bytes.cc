// request_bytes.cc - see request_bytes.h.
#include "daemon/service/request_bytes.h"

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/common/strings.h"
#include "daemon/common/utf8.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/message.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/impl/codegen/proto_utils.h"

namespace troupe::service {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::io::CodedInputStream;
using google::protobuf::internal::WireFormatLite;

// As protobuf's own default recursion limit.
constexpr int kMaxDepth = 100;

absl::Status Malformed(const Descriptor& descriptor) {
  return absl::InvalidArgumentError(troupe::StrCat("malformed ", descriptor.name()));
}

// Checks the fields of one message of type `descriptor` in `in` (up to its
// end or limit). `path` names the message ("" at the top).
absl::Status CheckMessage(CodedInputStream* in, const Descriptor& descriptor,
                          const std::string& path, int depth) {
  if (depth > kMaxDepth) return Malformed(descriptor);
  // Occurrences so far of each repeated field, for the index in the path.
  std::vector<int> seen(static_cast<size_t>(descriptor.field_count()), 0);
  while (uint32_t tag = in->ReadTag()) {
    const FieldDescriptor* field =
        descriptor.FindFieldByNumber(WireFormatLite::GetTagFieldNumber(tag));
    const bool delimited =
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    // protobuf checks the strings of proto3 messages only.
    const bool checked =
        field != nullptr && delimited &&
        ((field->type() == FieldDescriptor::TYPE_STRING &&
          field->file()->syntax() == google::protobuf::FileDescriptor::SYNTAX_PROTO3) ||
         field->type() == FieldDescriptor::TYPE_MESSAGE);
    if (!checked) {
      if (!WireFormatLite::SkipField(in, tag)) return Malformed(descriptor);
      continue;
    }
    const int index = field->is_repeated() ? seen[field->index()]++ : -1;
    const auto name = [&]() {
      std::string out = path.empty() ? field->name() : troupe::StrCat(path, ".", field->name());
      if (index >= 0) troupe::StrAppend(&out, "[", index, "]");
      return out;
    };
    uint32_t length;
    if (!in->ReadVarint32(&length) || length > static_cast<uint32_t>(INT32_MAX)) {
      return Malformed(descriptor);
    }
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      if (length == 0) continue;
      const void* data;
      int available;
      // The field's bytes in place when the buffer holds them (it does: the
      // stream is over one flat array).
      if (!in->GetDirectBufferPointer(&data, &available) ||
          static_cast<uint32_t>(available) < length) {
        return Malformed(descriptor);
      }
      if (!IsValidUtf8(std::string_view(static_cast<const char*>(data), length))) {
        return absl::InvalidArgumentError(
            troupe::StrCat("request field '", name(), "' is not valid UTF-8"));
      }
      in->Skip(static_cast<int>(length));
      continue;
    }
    const CodedInputStream::Limit limit = in->PushLimit(static_cast<int>(length));
    if (absl::Status nested = CheckMessage(in, *field->message_type(), name(), depth + 1);
        !nested.ok()) {
      return nested;
    }
    if (in->BytesUntilLimit() != 0) return Malformed(*field->message_type());
    in->PopLimit(limit);
  }
  // ReadTag returns 0 at the end (or the limit), and on a bad tag.
  if (!in->ConsumedEntireMessage()) return Malformed(descriptor);
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckStringFields(std::string_view wire, const Descriptor& descriptor) {
  if (wire.size() > static_cast<size_t>(INT32_MAX)) return Malformed(descriptor);
  CodedInputStream in(reinterpret_cast<const uint8_t*>(wire.data()),
                      static_cast<int>(wire.size()));
  return CheckMessage(&in, descriptor, "", 0);
}

bool FlattenByteBuffer(const grpc::ByteBuffer& buffer, std::string* bytes) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  size_t total = 0;
  for (const grpc::Slice& slice : slices) total += slice.size();
  bytes->clear();
  bytes->reserve(total);
  for (const grpc::Slice& slice : slices) {
    bytes->append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return true;
}

absl::Status ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message* request,
                          size_t max_bytes) {
  const Descriptor& descriptor = *request->GetDescriptor();
  if (buffer.Length() > max_bytes) {
    return absl::ResourceExhaustedError(troupe::StrCat("a ", descriptor.name(), " of ",
                                                       buffer.Length(),
                                                       " bytes is over the limit of ", max_bytes,
                                                       " bytes for this call"));
  }
  std::string bytes;
  if (!FlattenByteBuffer(buffer, &bytes)) return Malformed(descriptor);
  if (absl::Status checked = CheckStringFields(bytes, descriptor); !checked.ok()) return checked;
  if (!request->ParseFromString(bytes)) return Malformed(descriptor);
  return absl::OkStatus();
}

absl::Status SerializeResponse(const google::protobuf::Message& response,
                               grpc::ByteBuffer* buffer) {
  bool own_buffer = false;
  grpc::Status status = grpc::SerializationTraits<google::protobuf::Message>::Serialize(
      response, buffer, &own_buffer);
  if (!status.ok()) {
    return absl::InternalError(troupe::StrCat("cannot serialize the ",
                                              response.GetDescriptor()->name(), ": ",
                                              status.error_message()));
  }
  return absl::OkStatus();
}

}  // namespace troupe::service
