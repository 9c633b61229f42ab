// internals_test.cc - the pieces of troupe_client below the API: status
// conversion (proto/grpc_status.h, shared with troupd) and target parsing
// (target.h).
#include <gtest/gtest.h>

#include "proto/grpc_status.h"
#include "sdk/client/target.h"
#include "tests/common/status_matchers.h"

namespace troupe::client_internal {
namespace {

TEST(GrpcStatusTest, EveryCanonicalCodeKeepsItsNumberAndMessage) {
  for (int code = 1; code <= 16; ++code) {
    absl::Status status = FromGrpcStatus(grpc::Status(static_cast<grpc::StatusCode>(code), "why"));
    EXPECT_EQ(static_cast<int>(status.code()), code);
    EXPECT_EQ(status.message(), "why");
  }
  EXPECT_OK(FromGrpcStatus(grpc::Status::OK));
}

TEST(GrpcStatusTest, EveryAbslCodeBecomesTheGrpcCodeOfTheSameNumber) {
  for (int code = 1; code <= 16; ++code) {
    grpc::Status status = ToGrpcStatus(absl::Status(static_cast<absl::StatusCode>(code), "why"));
    EXPECT_EQ(static_cast<int>(status.error_code()), code);
    EXPECT_EQ(status.error_message(), "why");
    EXPECT_EQ(FromGrpcStatus(status), absl::Status(static_cast<absl::StatusCode>(code), "why"));
  }
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_EQ(ToGrpcStatus(absl::OkStatus()).error_message(), "");
}

TEST(GrpcStatusTest, FrameCodesOutsideTheCanonicalRangeBecomeUnknown) {
  EXPECT_EQ(StatusFromCode(5, "x").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(StatusFromCode(0, "x").code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(StatusFromCode(99, "x").code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(StatusFromCode(-1, "x").code(), absl::StatusCode::kUnknown);
}

TEST(TargetTest, AbsolutePathsAndUnixPrefixesAreUnixSockets) {
  for (const char* text : {"/run/troupe/troupd.sock", "unix:/run/troupe/troupd.sock",
                           "unix:///run/troupe/troupd.sock"}) {
    ASSERT_OK_AND_ASSIGN(Target target, ParseTarget(text));
    EXPECT_TRUE(target.unix_socket) << text;
    EXPECT_EQ(target.socket_path, "/run/troupe/troupd.sock") << text;
    EXPECT_EQ(target.grpc_target, "unix:/run/troupe/troupd.sock") << text;
  }
}

TEST(TargetTest, RelativePathsBecomeAbsolute) {
  ASSERT_OK_AND_ASSIGN(Target target, ParseTarget("run/troupd.sock"));
  EXPECT_TRUE(target.unix_socket);
  EXPECT_EQ(target.socket_path.front(), '/');
  EXPECT_CONTAINS(target.socket_path, "/run/troupd.sock");
}

TEST(TargetTest, HostAndPortIsTcp) {
  ASSERT_OK_AND_ASSIGN(Target target, ParseTarget("127.0.0.1:4711"));
  EXPECT_FALSE(target.unix_socket);
  EXPECT_EQ(target.grpc_target, "127.0.0.1:4711");
}

TEST(TargetTest, EmptyIsInvalid) {
  EXPECT_EQ(ParseTarget("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTarget("unix:").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace troupe::client_internal
