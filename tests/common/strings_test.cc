// Tests of troupe::Quoted (daemon/common/strings.h).
#include "daemon/common/strings.h"

#include <string>

#include <gtest/gtest.h>

namespace troupe {
namespace {

TEST(QuotedTest, ShortTextIsQuotedWhole) {
  EXPECT_EQ(Quoted("echo"), "'echo'");
  EXPECT_EQ(Quoted(""), "''");
  EXPECT_EQ(Quoted(std::string(128, 'x')), "'" + std::string(128, 'x') + "'");
}

TEST(QuotedTest, LongTextIsCutAndItsSizeGiven) {
  EXPECT_EQ(Quoted(std::string(1 << 20, 'x')),
            "'" + std::string(128, 'x') + "...' (1048576 bytes)");
  EXPECT_EQ(Quoted("abcdef", 3), "'abc...' (6 bytes)");
}

TEST(QuotedTest, ACutNeverSplitsAUtf8Character) {
  // "é" is two bytes: a cut after 3 bytes of "aéé" would split the second.
  EXPECT_EQ(Quoted("a\xc3\xa9\xc3\xa9", 4), "'a\xc3\xa9...' (5 bytes)");
  EXPECT_EQ(Quoted("a\xc3\xa9\xc3\xa9", 3), "'a\xc3\xa9...' (5 bytes)");
  EXPECT_EQ(Quoted("\xe2\x82\xac\xe2\x82\xac", 2), "'...' (6 bytes)");
}

}  // namespace
}  // namespace troupe
