// json_value_test.cc - JsonValue (daemon/common/json_value.h): parsing with
// line and column in errors, compact printing, equality by meaning.
#include "daemon/common/json_value.h"

#include <string>

#include <gtest/gtest.h>

#include "tests/common/status_matchers.h"

namespace troupe {
namespace {

JsonValue Parse(std::string_view text) {
  absl::StatusOr<JsonValue> value = JsonValue::Parse(text);
  EXPECT_TRUE(value.ok()) << text << ": " << value.status();
  return value.ok() ? *value : JsonValue();
}

TEST(JsonValueTest, ParsesEveryKindAndPrintsItCompactly) {
  JsonValue v = Parse(R"( { "a" : [1, 2.50, -3e2, true, false, null],
                            "s": "x\"\\\/\n\u00e9\ud83d\ude00", "o": {} } )");
  ASSERT_TRUE(v.is_object());
  ASSERT_EQ(v.object().size(), 3u);
  const JsonValue* a = v.Find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->array().size(), 6u);
  EXPECT_EQ(a->array()[1].number(), 2.5);
  EXPECT_EQ(a->array()[2].number(), -300);
  EXPECT_TRUE(a->array()[3].boolean());
  EXPECT_TRUE(a->array()[5].is_null());
  EXPECT_EQ(v.Find("s")->string(), "x\"\\/\n\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(v.ToJson(), "{\"a\":[1,2.50,-3e2,true,false,null],\"s\":\"x\\\"\\\\/\\n\xc3\xa9"
                        "\xf0\x9f\x98\x80\",\"o\":{}}");
  EXPECT_EQ(Parse(v.ToJson()), v);
  EXPECT_EQ(v.Find("missing"), nullptr);
}

TEST(JsonValueTest, ErrorsNameLineAndColumn) {
  absl::StatusOr<JsonValue> bad = JsonValue::Parse("{\n  \"a\": 1,\n  \"b\" 2\n}");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "at line 3, column 7: expected ':' after a member name");
  for (const char* text : {"", "tru", "[1,]", "{\"a\":1,}", "01", "1.", "\"\t\"", "\"\\x\"",
                           "[1] 2", "1e400", "{\"a\"}", "\"open"}) {
    EXPECT_FALSE(JsonValue::Parse(text).ok()) << text;
  }
  // As troupe::json::IsValid: the outermost value and 64 levels inside it.
  EXPECT_TRUE(JsonValue::Parse(std::string(65, '[') + std::string(65, ']')).ok());
  EXPECT_FALSE(JsonValue::Parse(std::string(66, '[') + std::string(66, ']')).ok());
  EXPECT_EQ(Parse("1e-400").number(), 0) << "too small rounds to zero";
}

TEST(JsonValueTest, EqualityIsByMeaning) {
  EXPECT_EQ(Parse("4"), Parse("4.0"));
  EXPECT_EQ(Parse("4"), Parse("4e0"));
  EXPECT_NE(Parse("4"), Parse("\"4\""));
  EXPECT_EQ(Parse(R"("\u0041")"), Parse(R"("A")"));
  EXPECT_EQ(Parse(R"({"a":1,"b":[true]})"), Parse(R"({"b":[true],"a":1.0})"));
  EXPECT_NE(Parse(R"({"a":1})"), Parse(R"({"a":1,"b":2})"));
  EXPECT_EQ(Parse(R"({"a":1,"a":2})"), Parse(R"({"a":2})")) << "the last of a repeated name";
  EXPECT_NE(Parse("[1,2]"), Parse("[2,1]"));
  EXPECT_EQ(Parse("null"), JsonValue());
}

TEST(JsonValueTest, QuoteEscapesWhatJsonNeeds) {
  EXPECT_EQ(JsonQuote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
  EXPECT_EQ(Parse(JsonQuote("tab\there")).string(), "tab\there");
}

}  // namespace
}  // namespace troupe
