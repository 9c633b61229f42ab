// Tests of troupe/json.h: the JSON syntax check and string quoting used by
// the SDK (SendJson, OnJson) and the runtime (capabilities, requirements).
#include "troupe/json.h"

#include <string>

#include <gtest/gtest.h>

namespace troupe::json {
namespace {

TEST(JsonTest, AcceptsEveryKindOfValue) {
  for (const char* text :
       {"0", "-0", "12", "-3.25", "1e10", "2.5E-3", "true", "false", "null", "\"\"",
        "\"esc \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9\"", "[]", "{}", " [1, [2, {\"a\": null}]] ",
        "{\"gpu\": true, \"cores\": 8, \"tags\": [\"x\", \"y\"]}"}) {
    EXPECT_TRUE(IsValid(text)) << text;
  }
}

TEST(JsonTest, RejectsMalformedText) {
  for (const char* text : {"", " ", "01", "1.", ".5", "+1", "1e", "tru", "nul", "'x'", "\"open",
                           "\"bad \\x escape\"", "\"\\u12\"", "[1,]", "[1 2]", "{\"a\"}",
                           "{\"a\":}", "{a: 1}", "{\"a\": 1,}", "[] []", "{\"a\": 1}}",
                           "\"tab\there\""}) {
    EXPECT_FALSE(IsValid(text)) << text;
  }
}

TEST(JsonTest, RejectsNestingDeeperThanTheLimit) {
  std::string ok(64, '['), too_deep(70, '[');
  ok += std::string(64, ']');
  too_deep += std::string(70, ']');
  EXPECT_TRUE(IsValid(ok));
  EXPECT_FALSE(IsValid(too_deep));
}

TEST(JsonTest, QuoteProducesValidJsonForAnyText) {
  std::string nasty = "quote \" backslash \\ newline \n tab \t bell \x07";
  std::string quoted = Quote(nasty);
  EXPECT_EQ(quoted, "\"quote \\\" backslash \\\\ newline \\n tab \\t bell \\u0007\"");
  EXPECT_TRUE(IsValid(quoted));
}

}  // namespace
}  // namespace troupe::json
