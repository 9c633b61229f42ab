// json_test.cc - ParseJson / ParseOrderedJson / JsonText (daemon/common/json.h):
// nlohmann::json without exceptions, bounded as troupe::json::IsValid, errors
// naming line and column, names given twice found on request.
#include "daemon/common/json.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/common/status_matchers.h"
#include "troupe/json.h"

namespace troupe {
namespace {

nlohmann::json Parse(std::string_view text) {
  absl::StatusOr<nlohmann::json> value = ParseJson(text);
  EXPECT_TRUE(value.ok()) << text << ": " << value.status();
  return value.ok() ? *value : nlohmann::json();
}

std::string ErrorOf(std::string_view text) {
  absl::StatusOr<nlohmann::json> value = ParseJson(text);
  if (value.ok()) return "(parsed)";
  EXPECT_EQ(value.status().code(), absl::StatusCode::kInvalidArgument) << text;
  return std::string(value.status().message());
}

TEST(JsonTest, ParsesEveryKindAndPrintsItCompactly) {
  absl::StatusOr<nlohmann::ordered_json> v = ParseOrderedJson(
      R"( { "a" : [1, 2.50, -3e2, true, false, null],
            "s": "x\"\\\/\n\u00e9\ud83d\ude00", "o": {} } )");
  ASSERT_OK(v.status());
  ASSERT_TRUE(v->is_object());
  ASSERT_EQ(v->size(), 3u);
  const nlohmann::ordered_json& a = v->at("a");
  ASSERT_EQ(a.size(), 6u);
  EXPECT_EQ(a[1].get<double>(), 2.5);
  EXPECT_EQ(a[2].get<double>(), -300);
  EXPECT_TRUE(a[3].get<bool>());
  EXPECT_TRUE(a[5].is_null());
  EXPECT_EQ(v->at("s").get<std::string>(), "x\"\\/\n\xc3\xa9\xf0\x9f\x98\x80");
  // Members in the order written; numbers as nlohmann prints them.
  EXPECT_EQ(JsonText(*v), "{\"a\":[1,2.5,-300.0,true,false,null],\"s\":\"x\\\"\\\\/\\n\xc3\xa9"
                          "\xf0\x9f\x98\x80\",\"o\":{}}");
  EXPECT_EQ(Parse(JsonText(*v)), Parse(JsonText(*v)));
  EXPECT_EQ(v->find("missing"), v->end());
}

TEST(JsonTest, ErrorsNameLineAndColumn) {
  EXPECT_EQ(ErrorOf("{\n  \"a\": 1,\n  \"b\" 2\n}"),
            "at line 3, column 7: expected ':' after a member name");
  EXPECT_EQ(ErrorOf("{\n  \"zone\": \"eu\",\n  \"gpu\" true\n}\n"),
            "at line 3, column 9: expected ':' after a member name");
  EXPECT_EQ(ErrorOf("[1 \"x\"]"), "at line 1, column 4: expected ',' or ']'");
  EXPECT_EQ(ErrorOf("[1, 2 false]"), "at line 1, column 7: expected ',' or ']'");
  EXPECT_EQ(ErrorOf("[1, 2, 345 6]"), "at line 1, column 12: expected ',' or ']'");
  EXPECT_EQ(ErrorOf("{\"zone\": eu}\n"), "at line 1, column 10: expected a JSON value");
  EXPECT_EQ(ErrorOf("[1, 2"), "at line 1, column 6: unexpected end of text, expected ',' or ']'");
  EXPECT_EQ(ErrorOf("{\"a\": 1 \"b\": 2}"), "at line 1, column 9: expected ',' or '}'");
  EXPECT_EQ(ErrorOf("{1: 2}"), "at line 1, column 2: expected a member name in quotes");
  EXPECT_EQ(ErrorOf("[1] 2"), "at line 1, column 5: unexpected text after the value");
  EXPECT_EQ(ErrorOf(""), "at line 1, column 1: unexpected end of text, expected a JSON value");
  EXPECT_EQ(ErrorOf("[1e400]"), "at line 1, column 2: number too large");
  for (const char* text : {"", "tru", "[1,]", "{\"a\":1,}", "01", "1.", "\"\t\"", "\"\\x\"",
                           "[1] 2", "1e400", "{\"a\"}", "\"open", "\"\xff\"", "\"\\ud800\""}) {
    EXPECT_FALSE(ParseJson(text).ok()) << text;
    EXPECT_FALSE(ParseOrderedJson(text).ok()) << text;
  }
  EXPECT_EQ(Parse("1e-400").get<double>(), 0) << "too small rounds to zero";
}

TEST(JsonTest, NestingIsBoundedAsTroupeJsonIsValid) {
  // The outermost value and 64 levels inside it.
  for (int levels : {65, 66}) {
    const std::string arrays = std::string(levels, '[') + std::string(levels, ']');
    const std::string scalar = std::string(levels - 1, '[') + "1" + std::string(levels - 1, ']');
    const std::string objects = [&] {
      std::string out;
      for (int i = 0; i < levels; ++i) out += i + 1 < levels ? "{\"k\":" : "{";
      return out + std::string(levels, '}');
    }();
    for (const std::string& text : {arrays, scalar, objects}) {
      EXPECT_EQ(ParseJson(text).ok(), json::IsValid(text)) << text;
      EXPECT_EQ(ParseJson(text).ok(), levels == 65) << text;
    }
  }
  EXPECT_EQ(ErrorOf(std::string(100000, '[') + std::string(100000, ']')),
            "at line 1, column 66: nested more than 64 deep");
}

TEST(JsonTest, EqualityIsByMeaning) {
  EXPECT_EQ(Parse("4"), Parse("4.0"));
  EXPECT_EQ(Parse("4"), Parse("4e0"));
  EXPECT_EQ(Parse("-4"), Parse("-4.0"));
  EXPECT_NE(Parse("4"), Parse("\"4\""));
  EXPECT_EQ(Parse(R"("\u0041")"), Parse(R"("A")"));
  EXPECT_EQ(Parse(R"({"a":1,"b":[true]})"), Parse(R"({"b":[true],"a":1.0})"));
  EXPECT_NE(Parse(R"({"a":1})"), Parse(R"({"a":1,"b":2})"));
  EXPECT_EQ(Parse(R"({"a":1,"a":2})"), Parse(R"({"a":2})")) << "the last of a repeated name";
  EXPECT_NE(Parse("[1,2]"), Parse("[2,1]"));
  EXPECT_EQ(Parse("null"), nlohmann::json());
}

TEST(JsonTest, RepeatedNamesAreReportedWithTheObjectsPath) {
  std::vector<std::string> seen;
  JsonParseOptions options;
  options.same_name = [](const std::string& name) { return name == "B" ? "b" : name; };
  options.on_repeated_name = [&](std::string_view path, const std::string& name) {
    seen.push_back(std::string(path) + ":" + name);
    return absl::OkStatus();
  };
  absl::StatusOr<nlohmann::ordered_json> value = ParseOrderedJson(
      R"({"a": 1, "a": 2, "x": [{"b": 1, "B": 2}, {"b": 3}], "a.b": {"c": 1}, "a": {"b": {"c": 2}},
          "\u0062": 1, "b": 2})",
      options);
  ASSERT_OK(value.status());
  EXPECT_EQ(seen, (std::vector<std::string>{":a", "x[0]:B", ":a", ":b"}));
  EXPECT_EQ(JsonText(value->at("a")), R"({"b":{"c":2}})") << "the later value counts";

  options.on_repeated_name = [](std::string_view path, const std::string& name) {
    return absl::InvalidArgumentError(std::string(path) + " " + name);
  };
  absl::StatusOr<nlohmann::json> refused = ParseJson(R"({"o": {"k": 1, "k": 2}})", options);
  EXPECT_EQ(refused.status(), absl::InvalidArgumentError("o k"));
}

TEST(JsonTest, TextNeverThrowsAndEscapesWhatJsonNeeds) {
  EXPECT_EQ(JsonText(nlohmann::json("a\"b\\c\n\x01")), "\"a\\\"b\\\\c\\n\\u0001\"");
  EXPECT_EQ(Parse(JsonText(nlohmann::json("tab\there"))).get<std::string>(), "tab\there");
  EXPECT_EQ(JsonText(nlohmann::json("bad \xff byte")), "\"bad \xef\xbf\xbd byte\"");
  EXPECT_EQ(JsonText(nlohmann::ordered_json{{"z", 1}, {"a", 2}}), R"({"z":1,"a":2})");
}

}  // namespace
}  // namespace troupe
