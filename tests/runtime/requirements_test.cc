// Tests of the runtime's one requirement evaluator and the object form
// (daemon/runtime/requirements.h): every condition, comparison by meaning,
// the order failures are named in, and what the C ABI parser leaves to a
// class's own check.
#include "daemon/runtime/requirements.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/common/status_matchers.h"

namespace troupe::runtime {
namespace {

using Json = nlohmann::json;

// Requirements written in the object form, all understood.
Requirements Object(std::string_view text) {
  absl::StatusOr<ActorRequirements> parsed = ParseRequirementsObject(text);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  if (!parsed.ok()) return {};
  EXPECT_EQ(parsed->opaque, "") << text;
  return parsed->conditions;
}

TEST(RequirementsTest, NoRequirementsAlwaysHold) {
  EXPECT_OK(CheckRequirements({}, Json::object()));
  EXPECT_OK(CheckRequirementsOnText({}, ""));
  EXPECT_OK(CheckRequirementsOnText({}, "not even JSON"));
  EXPECT_EQ(RequirementsObjectJson({}), "{}");
}

TEST(RequirementsTest, EveryConditionIsCheckedAndTheFirstFailingOneIsNamed) {
  const Requirements r = Object(R"({"gpu": {"equals": true}, "memory_gb": {"at_least": 4},
                                    "load": {"at_most": 0.5},
                                    "arch": {"one_of": ["x86_64", "aarch64"]},
                                    "zone": {"present": true}, "tpu": {"present": false}})");
  ASSERT_EQ(r.size(), 6u);
  EXPECT_OK(CheckRequirementsOnText(
      r, R"({"gpu": true, "memory_gb": 8, "load": 0.5, "arch": "aarch64", "zone": "eu"})"));
  struct Case {
    const char* capabilities;
    const char* failing;
  };
  for (const Case& c : {
           Case{R"({"gpu": false, "memory_gb": 8, "load": 0, "arch": "x86_64", "zone": 1})",
                "'gpu equals true'"},
           Case{R"({"gpu": true, "memory_gb": "8", "load": 0, "arch": "x86_64", "zone": 1})",
                "'memory_gb at_least 4'"},
           Case{R"({"gpu": true, "memory_gb": 4, "load": 0.6, "arch": "x86_64", "zone": 1})",
                "'load at_most 0.5'"},
           Case{R"({"gpu": true, "memory_gb": 4, "load": 0, "arch": "mips", "zone": 1})",
                R"('arch one_of ["x86_64","aarch64"]')"},
           Case{R"({"gpu": true, "memory_gb": 4, "load": 0, "arch": "x86_64"})", "'zone present'"},
           Case{R"({"gpu": true, "memory_gb": 4, "load": 0, "arch": "x86_64", "zone": 1,
                    "tpu": null})",
                "'tpu absent'"},
           Case{R"({})", "'gpu equals true'"},
       }) {
    absl::Status status = CheckRequirementsOnText(r, c.capabilities);
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << c.capabilities;
    EXPECT_EQ(status.message(), std::string("requirement ") + c.failing + " does not hold")
        << c.capabilities;
  }
}

TEST(RequirementsTest, EqualsAndOneOfCompareByMeaning) {
  struct Case {
    const char* requirements;
    const char* capabilities;
    bool holds;
  };
  for (const Case& c : {
           Case{R"({"n": {"equals": 4}})", R"({"n": 4.0})", true},
           Case{R"({"n": {"equals": 4.0}})", R"({"n": 4})", true},
           Case{R"({"n": {"equals": -1}})", R"({"n": -1.0})", true},
           Case{R"({"n": {"equals": 4}})", R"({"n": "4"})", false},
           Case{R"({"gpu": {"equals": true}})", R"({"gpu": "true"})", false},
           Case{R"({"x": {"equals": null}})", R"({"x": null})", true},
           Case{R"({"x": {"equals": null}})", R"({})", false},
           Case{R"({"l": {"equals": [1, "a", {"k": null}]}})", R"({"l": [1.0, "a", {"k": null}]})",
                true},
           Case{R"({"l": {"equals": [1, "a"]}})", R"({"l": ["a", 1]})", false},
           Case{R"({"l": {"equals": [1, "a"]}})", R"({"l": [1, "a", 2]})", false},
           Case{R"({"o": {"equals": {"a": 1, "b": [true]}}})", R"({"o": {"b": [true], "a": 1.0}})",
                true},
           Case{R"({"o": {"equals": {"a": 1}}})", R"({"o": {"a": 1, "c": 0}})", false},
           Case{R"({"arch": {"one_of": ["x86_64", 3]}})", R"({"arch": 3.0})", true},
           Case{R"({"arch": {"one_of": ["x86_64"]}})", R"({"arch": ["x86_64"]})", false},
           Case{R"({"arch": {"one_of": []}})", R"({"arch": "x86_64"})", false},
           Case{R"({"m": {"at_least": 4}})", R"({"m": 3.999})", false},
           Case{R"({"m": {"at_least": 4}})", R"({"m": 4})", true},
           Case{R"({"m": {"at_most": 0.5}})", R"({"m": 0.5000001})", false},
           Case{R"({"m": {"at_least": 0.25, "at_most": 2}})", R"({"m": 2})", true},
           Case{R"({"m": {"at_least": 1}})", R"({"m": true})", false},
           Case{R"({"m": {"at_most": 1}})", R"({})", false},
           Case{R"({"z": {"present": true}})", R"({"z": null})", true},
           Case{R"({"z": {"present": false}})", R"({"z": false})", false},
           Case{R"({"z": {"present": false}})", R"({})", true},
       }) {
    const absl::Status status = CheckRequirementsOnText(Object(c.requirements), c.capabilities);
    EXPECT_EQ(status.ok(), c.holds) << c.requirements << " on " << c.capabilities << ": "
                                    << status;
  }
}

TEST(RequirementsTest, CapabilitiesAreReadAsJsonWhateverTheirSpelling) {
  const Requirements r =
      Object(R"({"gpu": {"equals": true}, "zone": {"equals": {"region": ["eu", 1]}}})");
  EXPECT_OK(CheckRequirementsOnText(
      r, R"( { "g\u0070u" : true , "zone": {"region": ["eu", 1.0]}, "other": "}" } )"));
  EXPECT_EQ(CheckRequirementsOnText(r, R"({"gpu": true, "zone": {"region": ["eu"]}})").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_OK(CheckRequirementsOnText(r, R"({"gpu": false, "gpu": true, "zone": {"region": ["eu", 1]}})"))
      << "a later member wins";
  EXPECT_EQ(CheckRequirementsOnText(r, "[1]").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckRequirementsOnText(r, "{").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckRequirements(r, Json::array()).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckRequirementsOnText(r, "").message(),
            "requirement 'gpu equals true' does not hold")
      << "empty text: no capabilities";
}

TEST(RequirementsTest, TheObjectFormGroupsConditionsByCapabilityInOrderOfMention) {
  Requirements r = {
      {"gpu", Requirement::Op::kEquals, true},
      {"load", Requirement::Op::kAtLeast, 0.25},
      {"arch", Requirement::Op::kOneOf, Json::array({"x86_64", "aarch64"})},
      {"load", Requirement::Op::kAtMost, 2},
      {"tpu", Requirement::Op::kPresent, false},
  };
  const std::string object = RequirementsObjectJson(r);
  EXPECT_EQ(object,
            R"({"gpu":{"equals":true},"load":{"at_least":0.25,"at_most":2},)"
            R"("arch":{"one_of":["x86_64","aarch64"]},"tpu":{"present":false}})");
  // Parsed back: the same conditions, grouped.
  std::swap(r[2], r[3]);
  EXPECT_EQ(Object(object), r);
  EXPECT_EQ(Describe(r[0]), "gpu equals true");
  EXPECT_EQ(Describe(r[3]), R"(arch one_of ["x86_64","aarch64"])");
  EXPECT_EQ(Describe(r[4]), "tpu absent");
  EXPECT_EQ(ForClassCheck(r).text, object);
  EXPECT_EQ(ForClassCheck({}).text, "") << "read as {}";
}

TEST(RequirementsTest, WhatTheRuntimeDoesNotUnderstandIsLeftToTheClassAndNamed) {
  struct Case {
    const char* text;
    size_t understood;
    const char* opaque;
  };
  for (const Case& c : {
           Case{R"(["gpu"])", 0, "requirements that are not a JSON object of conditions"},
           Case{R"({"gpu": true})", 0, "the requirement on 'gpu' is not an object of conditions"},
           Case{R"({"gpu": {"equals": true}, "x": {"near": 1}})", 1,
                "condition 'near' on 'x' is not one of equals, at_least, at_most, present, one_of"},
           Case{R"({"x": {"at_least": "4", "one_of": 3, "present": 1}})", 0,
                R"(the operand of 'x at_least' is "4", not a number)"},
           Case{R"({"x": {"one_of": 3}})", 0, "the operand of 'x one_of' is 3, not an array"},
           Case{R"({"x": {"present": 1}})", 0, "the operand of 'x present' is 1, not a boolean"},
       }) {
    ASSERT_OK_AND_ASSIGN(ActorRequirements parsed, ParseRequirementsObject(c.text));
    EXPECT_EQ(parsed.conditions.size(), c.understood) << c.text;
    EXPECT_EQ(parsed.opaque, c.opaque) << c.text;
    EXPECT_EQ(parsed.text, c.text) << "kept as written for the class's check";
    EXPECT_FALSE(parsed.empty());
    EXPECT_EQ(CheckRequirements(parsed.conditions, Json::object()).ok(), c.understood == 0)
        << c.text << ": only what is understood is checked";
  }
  for (const char* none : {"", "  \n"}) {
    ASSERT_OK_AND_ASSIGN(ActorRequirements parsed, ParseRequirementsObject(none));
    EXPECT_TRUE(parsed.empty()) << none;
    EXPECT_EQ(parsed.text, "");
  }
  EXPECT_EQ(ParseRequirementsObject("{").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseRequirementsObject("{} x").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RequirementsTest, APluginsDeeplyNestedTextIsRefusedNotRecursedInto) {
  const std::string deep =
      R"({"zone": {"equals": )" + std::string(1'000'000, '[') + std::string(1'000'000, ']') + "}}";
  absl::StatusOr<ActorRequirements> parsed = ParseRequirementsObject(deep);
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(parsed.status().message(), "nested more than 64 deep");
}

}  // namespace
}  // namespace troupe::runtime
