// Tests of BoundInputInError (daemon/service/message_checks.h).
#include "daemon/service/message_checks.h"

#include <string>

#include <gtest/gtest.h>

#include "absl/strings/cord.h"
#include "daemon/common/strings.h"
#include "tests/common/status_matchers.h"

namespace troupe::service {
namespace {

TEST(BoundInputInErrorTest, AShortInputIsLeftAsItIs) {
  absl::Status status = absl::NotFoundError("no actor is named 'bob'");
  EXPECT_EQ(BoundInputInError(status, "bob"), status);
  EXPECT_OK(BoundInputInError(absl::OkStatus(), std::string(1000, 'x')));
}

TEST(BoundInputInErrorTest, ALongInputIsCutWhereverTheMessageRepeatsIt) {
  const std::string address = "troupe://" + std::string(5000, 'a') + "/x";
  absl::Status status = absl::InvalidArgumentError(
      "address '" + address + "' has a bad actor id; no actor at " + address);
  status.SetPayload("type.example/x", absl::Cord("kept"));
  absl::Status bounded = BoundInputInError(status, address);
  EXPECT_EQ(bounded.code(), absl::StatusCode::kInvalidArgument);
  const std::string quoted =
      "'troupe://" + std::string(128 - 9, 'a') + "...' (" + std::to_string(address.size()) +
      " bytes)";
  EXPECT_EQ(bounded.message(), "address " + quoted + " has a bad actor id; no actor at " + quoted);
  EXPECT_EQ(bounded.GetPayload("type.example/x"), absl::Cord("kept"));
}

TEST(BoundInputInErrorTest, LongQuotedPartsOfTheInputAreCutToo) {
  const std::string node(5000, 'n');
  const std::string address = "troupe://" + node + "/1";
  absl::Status bounded = BoundInputInError(
      absl::FailedPreconditionError("address " + address + " belongs to node '" + node + "'"),
      address);
  EXPECT_EQ(bounded.message(), "address " + Quoted(address) + " belongs to node " + Quoted(node));
}

TEST(BoundInputInErrorTest, AnEchoOfAnotherFormIsCutAtTheEnd) {
  const std::string name(5000, 'x');
  absl::Status bounded =
      BoundInputInError(absl::NotFoundError("no actor at " + name + "y"), name + "z");
  EXPECT_EQ(bounded.code(), absl::StatusCode::kNotFound);
  EXPECT_LT(bounded.message().size(), 1024u);
  EXPECT_CONTAINS(bounded.message(), "no actor at xxx");
  EXPECT_CONTAINS(bounded.message(), "... (5013 bytes)");
}

TEST(CheckMessageTest, AReservedTypeIsQuoted) {
  absl::Status status = CheckMessage("troupe.ChildActorExited", 0, 10);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(status.message(), "message type 'troupe.ChildActorExited' is reserved");
}

}  // namespace
}  // namespace troupe::service
