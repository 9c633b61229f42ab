// client_batch_reader.cc - see client_batch_reader.h. The wire format is
// protobuf's: ClientBatch is `repeated ClientFrame frames = 1`, ClientFrame
// as in proto/troupe/v1/messaging.proto.
#include "daemon/service/client_batch_reader.h"

#include "daemon/common/strings.h"
#include "daemon/common/utf8.h"
#include "daemon/service/request_bytes.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace troupe::service {
namespace {

using google::protobuf::io::CodedInputStream;
using google::protobuf::internal::WireFormatLite;

constexpr uint32_t kFramesTag = (1 << 3) | WireFormatLite::WIRETYPE_LENGTH_DELIMITED;

// Reads one length-delimited field's bytes into `out`.
bool ReadBytes(CodedInputStream* in, std::string* out) {
  uint32_t length;
  return in->ReadVarint32(&length) && in->ReadString(out, static_cast<int>(length));
}

absl::Status BadField(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(troupe::StrCat("ClientFrame field '", field, "' ", what));
}

}  // namespace

absl::Status ClientBatchReader::Reset(grpc::ByteBuffer* buffer, size_t max_frames,
                                      size_t max_bytes) {
  Release();
  if (const size_t length = buffer->Length(); length > max_bytes) {
    buffer->Clear();
    return absl::ResourceExhaustedError(troupe::StrCat("a ClientBatch of ", length,
                                                       " bytes; at most ", max_bytes,
                                                       " bytes per batch"));
  }
  const bool read = FlattenByteBuffer(*buffer, &bytes_);
  buffer->Clear();
  if (!read) return absl::InvalidArgumentError("a ClientBatch that cannot be read");
  // The outline: only frames (field 1) or skippable unknown fields, every
  // length within the batch, and not too many frames.
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes_.data()),
                      static_cast<int>(bytes_.size()));
  size_t frames = 0;
  while (uint32_t tag = in.ReadTag()) {
    bool ok;
    if (tag == kFramesTag) {
      uint32_t length;
      ok = in.ReadVarint32(&length) && in.Skip(static_cast<int>(length));
      if (ok && ++frames > max_frames) {
        Release();
        return absl::ResourceExhaustedError(troupe::StrCat(
            "a ClientBatch of more than ", max_frames, " frames; send at most ", max_frames,
            " frames per batch"));
      }
    } else {
      ok = WireFormatLite::SkipField(&in, tag);
    }
    if (!ok) {
      Release();
      return absl::InvalidArgumentError("malformed ClientBatch (not protobuf wire format)");
    }
  }
  if (!in.ConsumedEntireMessage()) {
    Release();
    return absl::InvalidArgumentError("malformed ClientBatch (not protobuf wire format)");
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ClientFrame> ClientBatchReader::Next(uint64_t* id) {
  *id = 0;
  // Reset checked the outline: the next field is there and well formed.
  CodedInputStream batch(reinterpret_cast<const uint8_t*>(bytes_.data()) + position_,
                         static_cast<int>(bytes_.size() - position_));
  uint32_t tag = batch.ReadTag();
  while (tag != 0 && tag != kFramesTag) {
    WireFormatLite::SkipField(&batch, tag);
    tag = batch.ReadTag();
  }
  if (tag == 0) {
    position_ = bytes_.size();
    return absl::OutOfRangeError("no frame left in the batch");
  }
  uint32_t length = 0;
  batch.ReadVarint32(&length);
  const size_t start = position_ + static_cast<size_t>(batch.CurrentPosition());
  position_ = start + length;

  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes_.data()) + start,
                      static_cast<int>(length));
  v1::ClientFrame frame;
  absl::Status problem;
  while (uint32_t field_tag = in.ReadTag()) {
    const int field = WireFormatLite::GetTagFieldNumber(field_tag);
    const auto wire_type = WireFormatLite::GetTagWireType(field_tag);
    const bool varint = wire_type == WireFormatLite::WIRETYPE_VARINT;
    const bool delimited = wire_type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    uint64_t number = 0;
    bool ok = true;
    switch (field) {
      case 1:
        ok = varint && in.ReadVarint64(&number);
        if (ok) frame.set_id(number), *id = number;
        break;
      case 2:
        ok = delimited && ReadBytes(&in, frame.mutable_to());
        if (ok && problem.ok() && !IsValidUtf8(frame.to())) {
          problem = BadField("to", "is not valid UTF-8");
        }
        break;
      case 3:
        ok = delimited && ReadBytes(&in, frame.mutable_type());
        if (ok && problem.ok() && !IsValidUtf8(frame.type())) {
          problem = BadField("type", "is not valid UTF-8");
        }
        break;
      case 4:
        ok = delimited && ReadBytes(&in, frame.mutable_payload());
        break;
      case 5:
        ok = varint && in.ReadVarint64(&number);
        frame.set_ask(number != 0);
        break;
      case 6:
        ok = varint && in.ReadVarint64(&number);
        frame.set_timeout_ms(static_cast<uint32_t>(number));
        break;
      default:
        ok = WireFormatLite::SkipField(&in, field_tag);
    }
    if (!ok) {
      return field >= 1 && field <= 6
                 ? BadField(v1::ClientFrame::descriptor()->FindFieldByNumber(field)->name(),
                            "is malformed")
                 : absl::InvalidArgumentError("malformed ClientFrame (not protobuf wire format)");
    }
  }
  if (!in.ConsumedEntireMessage()) {
    return absl::InvalidArgumentError("malformed ClientFrame (not protobuf wire format)");
  }
  if (!problem.ok()) return problem;
  return frame;
}

void ClientBatchReader::Release() {
  std::string().swap(bytes_);
  position_ = 0;
}

}  // namespace troupe::service
