// Tests of the leader's table of convention-wide global names: the first
// claim wins, releases by the holder only, and a lost member's names go.
#include "daemon/convention/name_table.h"

#include <gtest/gtest.h>

namespace troupe::convention {
namespace {

using Entries = std::vector<std::pair<std::string, std::string>>;

TEST(NameTableTest, TheFirstClaimWinsAndLaterClaimsLearnTheHolder) {
  NameTable table;
  EXPECT_EQ(table.Claim("registry", "troupe://a:1/5"), "troupe://a:1/5");
  EXPECT_EQ(table.Claim("registry", "troupe://b:2/7"), "troupe://a:1/5");
  // The holder claiming again keeps it.
  EXPECT_EQ(table.Claim("registry", "troupe://a:1/5"), "troupe://a:1/5");
  EXPECT_EQ(table.Holder("registry"), "troupe://a:1/5");
  EXPECT_EQ(table.Holder("nobody"), "");
  EXPECT_EQ(table.size(), 1u);
}

TEST(NameTableTest, OnlyTheHolderReleasesAName) {
  NameTable table;
  table.Claim("registry", "troupe://a:1/5");
  EXPECT_FALSE(table.Release("registry", "troupe://b:2/7"));
  EXPECT_EQ(table.Holder("registry"), "troupe://a:1/5");
  EXPECT_FALSE(table.Release("nobody", "troupe://a:1/5"));
  EXPECT_TRUE(table.Release("registry", "troupe://a:1/5"));
  EXPECT_EQ(table.Holder("registry"), "");
  // Free again: the next claim wins.
  EXPECT_EQ(table.Claim("registry", "troupe://b:2/7"), "troupe://b:2/7");
}

TEST(NameTableTest, DroppingANodeFreesExactlyItsNames) {
  NameTable table;
  table.Claim("a1", "troupe://a:1/5");
  table.Claim("b1", "troupe://b:2/7");
  table.Claim("a2", "troupe://a:1/6");
  // A node whose name is a prefix of another's keeps nothing of the other's.
  table.Claim("a10", "troupe://a:10/6");
  EXPECT_EQ(table.DropNode("a:1"), (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(table.List(), (Entries{{"a10", "troupe://a:10/6"}, {"b1", "troupe://b:2/7"}}));
  EXPECT_TRUE(table.DropNode("c:3").empty());
}

TEST(NameTableTest, NodeOfAddressTakesTheNodeOfAWellFormedAddressOnly) {
  EXPECT_EQ(NodeOfAddress("troupe://127.0.0.1:7001/42"), "127.0.0.1:7001");
  EXPECT_EQ(NodeOfAddress("troupe://local/1"), "local");
  EXPECT_EQ(NodeOfAddress("troupe:///1"), "");
  EXPECT_EQ(NodeOfAddress("troupe://a:1/"), "");
  EXPECT_EQ(NodeOfAddress("troupe://a:1"), "");
  EXPECT_EQ(NodeOfAddress("registry"), "");
}

}  // namespace
}  // namespace troupe::convention
