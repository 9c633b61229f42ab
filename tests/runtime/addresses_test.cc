// addresses_test.cc - SplitAddress (daemon/runtime/addresses.h), the one
// reader of "troupe://NODE/ID": its parts, and each refusal with its message.
#include "daemon/runtime/addresses.h"

#include <string>

#include "gtest/gtest.h"
#include "tests/common/status_matchers.h"

namespace troupe::runtime {
namespace {

// The message SplitAddress refuses `text` with; "" when it accepts it.
std::string Refusal(std::string_view text) {
  absl::StatusOr<AddressParts> parts = SplitAddress(text);
  if (parts.ok()) return "";
  EXPECT_EQ(parts.status().code(), absl::StatusCode::kInvalidArgument) << text;
  return std::string(parts.status().message());
}

TEST(SplitAddressTest, SplitsNodeAndIdOfAWellFormedAddress) {
  ASSERT_OK_AND_ASSIGN(AddressParts parts, SplitAddress("troupe://127.0.0.1:7001/42"));
  EXPECT_EQ(parts.node, "127.0.0.1:7001");
  EXPECT_EQ(parts.id, 42u);
}

TEST(SplitAddressTest, NodePointsIntoTheGivenText) {
  const std::string text = "troupe://local/1";
  ASSERT_OK_AND_ASSIGN(AddressParts parts, SplitAddress(text));
  EXPECT_EQ(parts.node.data(), text.data() + 9);
  EXPECT_EQ(parts.node, "local");
}

TEST(SplitAddressTest, SplitsAtTheLastSlash) {
  ASSERT_OK_AND_ASSIGN(AddressParts parts, SplitAddress("troupe://a/b/7"));
  EXPECT_EQ(parts.node, "a/b");
  EXPECT_EQ(parts.id, 7u);
  EXPECT_EQ(Refusal("troupe://a/7/b"), "address 'troupe://a/7/b' has a bad actor id");
}

TEST(SplitAddressTest, AcceptsTheLargestActorId) {
  ASSERT_OK_AND_ASSIGN(AddressParts parts, SplitAddress("troupe://n/4611686018427387903"));
  EXPECT_EQ(parts.id, (uint64_t{1} << 62) - 1);
}

TEST(SplitAddressTest, RefusesTextWithoutTheScheme) {
  EXPECT_EQ(Refusal("registry"), "'registry' is not an address (expected troupe://NODE/ID)");
  EXPECT_EQ(Refusal(""), "'' is not an address (expected troupe://NODE/ID)");
  EXPECT_EQ(Refusal("TROUPE://n/1"),
            "'TROUPE://n/1' is not an address (expected troupe://NODE/ID)");
  EXPECT_EQ(Refusal(" troupe://n/1"),
            "' troupe://n/1' is not an address (expected troupe://NODE/ID)");
}

TEST(SplitAddressTest, RefusesAnAddressWithoutASlashAfterTheNode) {
  EXPECT_EQ(Refusal("troupe://"), "address 'troupe://' has no actor id");
  EXPECT_EQ(Refusal("troupe://a:1"), "address 'troupe://a:1' has no actor id");
}

TEST(SplitAddressTest, RefusesAnEmptyOrNonDecimalId) {
  EXPECT_EQ(Refusal("troupe://a:1/"), "address 'troupe://a:1/' has a bad actor id");
  EXPECT_EQ(Refusal("troupe://a/x"), "address 'troupe://a/x' has a bad actor id");
  EXPECT_EQ(Refusal("troupe://a/-1"), "address 'troupe://a/-1' has a bad actor id");
  EXPECT_EQ(Refusal("troupe://a/+1"), "address 'troupe://a/+1' has a bad actor id");
  EXPECT_EQ(Refusal("troupe://a/ 1"), "address 'troupe://a/ 1' has a bad actor id");
  EXPECT_EQ(Refusal("troupe://a/0x10"), "address 'troupe://a/0x10' has a bad actor id");
}

TEST(SplitAddressTest, RefusesTrailingTextAfterTheId) {
  EXPECT_EQ(Refusal("troupe://a/12x"), "address 'troupe://a/12x' has a bad actor id");
  EXPECT_EQ(Refusal("troupe://a/12 "), "address 'troupe://a/12 ' has a bad actor id");
  EXPECT_EQ(Refusal(std::string_view("troupe://a/12\0", 14)),
            "address 'troupe://a/12" + std::string(1, '\0') + "' has a bad actor id");
}

TEST(SplitAddressTest, RefusesAnIdThatOverflowsSixtyFourBits) {
  EXPECT_EQ(Refusal("troupe://a/18446744073709551616"),
            "address 'troupe://a/18446744073709551616' has a bad actor id");
  EXPECT_EQ(Refusal("troupe://a/99999999999999999999999"),
            "address 'troupe://a/99999999999999999999999' has a bad actor id");
}

TEST(SplitAddressTest, RefusesAnEmptyNode) {
  EXPECT_EQ(Refusal("troupe:///1"), "address 'troupe:///1' has no node");
  // The id is judged first: an empty node with a bad id names the id.
  EXPECT_EQ(Refusal("troupe:///x"), "address 'troupe:///x' has a bad actor id");
}

TEST(SplitAddressTest, RefusesIdsTheRuntimeNeverHandsOut) {
  EXPECT_EQ(Refusal("troupe://a/0"), "address 'troupe://a/0' has an actor id out of range");
  EXPECT_EQ(Refusal("troupe://a/4611686018427387904"),
            "address 'troupe://a/4611686018427387904' has an actor id out of range");
  EXPECT_EQ(Refusal("troupe://a/18446744073709551615"),
            "address 'troupe://a/18446744073709551615' has an actor id out of range");
}

TEST(SplitAddressTest, QuotesALongTextCut) {
  const std::string text = "troupe://" + std::string(1000, 'n') + "/x";
  const std::string message = Refusal(text);
  EXPECT_LT(message.size(), 200u);
  EXPECT_CONTAINS(message, "(1011 bytes) has a bad actor id");
}

}  // namespace
}  // namespace troupe::runtime
