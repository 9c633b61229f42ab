// Tests of troupe::Quoted, Trim, Hex and Unhex (daemon/common/strings.h).
#include "daemon/common/strings.h"

#include <array>
#include <cctype>
#include <cstdint>
#include <cstdio>
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

TEST(TrimTest, DropsAsciiWhiteSpaceAtBothEndsOnly) {
  EXPECT_EQ(Trim("  key = value \t\r\n"), "key = value");
  EXPECT_EQ(Trim("\v\fx\f\v"), "x");
  EXPECT_EQ(Trim("a b"), "a b");
  EXPECT_EQ(Trim(" \t\r\n\v\f"), "");
  EXPECT_EQ(Trim(""), "");
  // Not white space: NUL, and UTF-8 (a no-break space).
  EXPECT_EQ(Trim(std::string_view(" \0 ", 3)), std::string_view("\0", 1));
  EXPECT_EQ(Trim("\xc2\xa0x\xc2\xa0"), "\xc2\xa0x\xc2\xa0");
}

TEST(TrimTest, ReturnsAViewIntoTheText) {
  const std::string text = "  abc  ";
  EXPECT_EQ(Trim(text).data(), text.data() + 2);
}

TEST(HexTest, EncodesEveryByteAsTwoLowercaseDigits) {
  const uint8_t bytes[] = {0x00, 0x01, 0x09, 0x0a, 0x0f, 0x10, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff};
  EXPECT_EQ(Hex(bytes, sizeof bytes), "0001090a0f107f80abcdefff");
  EXPECT_EQ(Hex(bytes, 0), "");
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::string hex = Hex(all.data(), all.size());
  ASSERT_EQ(hex.size(), 512u);
  for (int b = 0; b < 256; ++b) {
    char expected[3];
    std::snprintf(expected, sizeof expected, "%02x", b);
    EXPECT_EQ(hex.substr(2 * b, 2), expected) << b;
  }
}

TEST(HexTest, UnhexInvertsHexForEveryByte) {
  std::array<uint8_t, 256> all;
  for (int b = 0; b < 256; ++b) all[b] = static_cast<uint8_t>(b);
  std::array<uint8_t, 256> decoded{};
  ASSERT_TRUE(Unhex(Hex(all.data(), all.size()), decoded.data(), decoded.size()));
  EXPECT_EQ(decoded, all);
}

TEST(HexTest, UnhexTakesEitherCase) {
  uint8_t out[3] = {};
  ASSERT_TRUE(Unhex("aBcDeF", out, sizeof out));
  EXPECT_EQ(out[0], 0xab);
  EXPECT_EQ(out[1], 0xcd);
  EXPECT_EQ(out[2], 0xef);
  ASSERT_TRUE(Unhex("", out, 0));
}

TEST(HexTest, UnhexAcceptsExactlyTheHexDigits) {
  // Every character, in either position of a byte: only 0-9, a-f, A-F pass.
  for (int c = 0; c < 256; ++c) {
    const bool hex_digit = std::isxdigit(c) != 0;
    for (int position = 0; position < 2; ++position) {
      std::string text = "00";
      text[position] = static_cast<char>(c);
      uint8_t out = 0;
      EXPECT_EQ(Unhex(text, &out, 1), hex_digit) << "character " << c << " at " << position;
    }
  }
}

TEST(HexTest, UnhexRefusesAnotherLength) {
  uint8_t out[2] = {};
  EXPECT_FALSE(Unhex("abc", out, 2));
  EXPECT_FALSE(Unhex("abcdef", out, 2));
  EXPECT_FALSE(Unhex("", out, 2));
  EXPECT_FALSE(Unhex(" abcd", out, 2));
  EXPECT_FALSE(Unhex("ab cd", out, 2));
}

}  // namespace
}  // namespace troupe
