// Tests of ParseRequest / CheckStringFields (daemon/service/request_bytes.h)
// on hand-made wire bytes.
#include "daemon/service/request_bytes.h"

#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "daemon/common/strings.h"
#include "tests/common/status_matchers.h"
#include "troupe/v1/messaging.pb.h"

namespace troupe::service {
namespace {

std::string Varint(uint64_t value) {
  std::string out;
  for (;; value >>= 7) {
    out += static_cast<char>((value & 0x7F) | (value > 0x7F ? 0x80 : 0));
    if (value <= 0x7F) return out;
  }
}
std::string Field(int number, std::string_view bytes) {
  return troupe::StrCat(Varint((number << 3) | 2), Varint(bytes.size()), bytes);
}

grpc::ByteBuffer Buffer(std::string_view bytes) {
  grpc::Slice slice(bytes.data(), bytes.size());
  return grpc::ByteBuffer(&slice, 1);
}

TEST(RequestBytesTest, AStringThatIsNotUtf8IsNamedByItsField) {
  v1::TellRequest request;
  absl::Status status = ParseRequest(Buffer(Field(2, "a\xff")), &request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "request field 'type' is not valid UTF-8");
}

TEST(RequestBytesTest, ANestedStringIsNamedByItsPath) {
  const std::string frame = Field(2, "echo");
  const std::string bad_frame = Field(3, "ok") + Field(2, "\xe2\x82");
  absl::Status status = CheckStringFields(Field(1, frame) + Field(1, bad_frame),
                                          *v1::ClientBatch::descriptor());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "request field 'frames[1].to' is not valid UTF-8");
}

TEST(RequestBytesTest, BytesFieldsAndUnknownFieldsMayHoldAnything) {
  v1::TellRequest request;
  ASSERT_OK(ParseRequest(
      Buffer(Field(1, "caf\xc3\xa9") + Field(3, "\xff\xfe") + Field(9, "\xff") + "\x50\x07"),
      &request));
  EXPECT_EQ(request.to(), "caf\xc3\xa9");
  EXPECT_EQ(request.payload(), "\xff\xfe");
}

TEST(RequestBytesTest, BytesThatAreNotWireFormatAreMalformed) {
  v1::TellRequest request;
  // A length past the end.
  absl::Status status = ParseRequest(Buffer("\x0a\x05" "ab"), &request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "malformed TellRequest");
  // A frame's field longer than the frame.
  status = CheckStringFields(Field(1, "\x12\x09" "abc"), *v1::ClientBatch::descriptor());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "malformed ClientFrame");
  // Field number 0.
  status = CheckStringFields(std::string("\x00\x01", 2), *v1::TellRequest::descriptor());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "malformed TellRequest");
}

TEST(RequestBytesTest, ASerializedResponseParsesBack) {
  v1::AskResponse response;
  response.set_from("troupe://local/1");
  response.set_payload(std::string(3, '\0'));
  grpc::ByteBuffer buffer;
  ASSERT_OK(SerializeResponse(response, &buffer));
  v1::AskResponse back;
  ASSERT_OK(ParseRequest(buffer, &back));
  EXPECT_EQ(back.from(), response.from());
  EXPECT_EQ(back.payload(), response.payload());
}

}  // namespace
}  // namespace troupe::service
