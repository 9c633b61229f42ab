// Tests of the one conversion between the manifest's Requirement (the wire
// form of every API) and the runtime's Requirements: what it refuses, that a
// round trip keeps the meaning, and that converted requirements evaluate as
// written in the manifest.
#include "daemon/hosting/requirements.h"

#include <cmath>
#include <string>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "tests/common/status_matchers.h"

namespace troupe::hosting {
namespace {

// A manifest's JSON array of requirements as messages.
ProtoRequirements Parse(const std::string& json_array) {
  troupe::v1::ActorSpec spec;
  std::string json = "{\"requirements\": " + json_array + "}";
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &spec).ok()) << json;
  return spec.requirements();
}

TEST(RequirementsTest, NoRequirementsConvertToNone) {
  ASSERT_OK_AND_ASSIGN(runtime::Requirements none, RequirementsFromProto({}, "x"));
  EXPECT_TRUE(none.empty());
  EXPECT_OK(CheckOnThisNode(none, "{}"));
}

TEST(RequirementsTest, EveryConditionConvertsToTheRuntimesForm) {
  ASSERT_OK_AND_ASSIGN(
      runtime::Requirements r,
      RequirementsFromProto(Parse(R"([{"capability": "gpu", "equals": true},
                                      {"capability": "load", "at_least": 0.25},
                                      {"capability": "load", "at_most": 2},
                                      {"capability": "arch", "one_of": ["x86_64", 3]},
                                      {"capability": "zone", "equals": {"region": ["eu", 1]}},
                                      {"capability": "tpu", "present": false}])"),
                            "test"));
  EXPECT_EQ(runtime::RequirementsObjectJson(r),
            R"({"gpu":{"equals":true},"load":{"at_least":0.25,"at_most":2},)"
            R"("arch":{"one_of":["x86_64",3]},"zone":{"equals":{"region":["eu",1]}},)"
            R"("tpu":{"present":false}})")
      << "integral numbers read as integers";
  ASSERT_EQ(r.size(), 6u);
  EXPECT_EQ(r[2].op, runtime::Requirement::Op::kAtMost);
  EXPECT_TRUE(r[2].operand.is_number_integer());
}

TEST(RequirementsTest, ARoundTripKeepsTheMeaning) {
  const ProtoRequirements original = Parse(R"([{"capability": "gpu", "equals": true},
                                               {"capability": "n", "equals": 4.5},
                                               {"capability": "load", "at_most": 1e300},
                                               {"capability": "arch", "one_of": ["a", null]},
                                               {"capability": "o", "equals": {"b": [1], "a": "x"}},
                                               {"capability": "zone", "present": true}])");
  ASSERT_OK_AND_ASSIGN(runtime::Requirements r, RequirementsFromProto(original, "test"));
  ProtoRequirements back;
  RequirementsToProto(r, &back);
  ASSERT_EQ(back.size(), original.size());
  for (int i = 0; i < original.size(); ++i) {
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(back.Get(i), original.Get(i)))
        << back.Get(i).ShortDebugString() << " vs " << original.Get(i).ShortDebugString();
  }
  ASSERT_OK_AND_ASSIGN(runtime::Requirements again, RequirementsFromProto(back, "test"));
  EXPECT_EQ(again, r);
}

TEST(RequirementsTest, ConvertedRequirementsEvaluateAsInTheManifest) {
  ASSERT_OK_AND_ASSIGN(
      runtime::Requirements r,
      RequirementsFromProto(Parse(R"([{"capability": "memory_gb", "at_least": 4},
                                      {"capability": "n", "equals": 4},
                                      {"capability": "gpu", "equals": true}])"),
                            "test"));
  EXPECT_OK(CheckOnThisNode(r, R"({"memory_gb": 4.0, "n": 4.0, "gpu": true})"));
  absl::Status unfit = CheckOnThisNode(r, R"({"memory_gb": 8, "n": 4})");
  EXPECT_EQ(unfit.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(unfit.message(),
            R"(requirement 'gpu equals true' does not hold (this node's capabilities: )"
            R"({"memory_gb": 8, "n": 4}))");
  EXPECT_EQ(CheckOnThisNode(r, "").message(),
            "requirement 'memory_gb at_least 4' does not hold (this node's capabilities: {})");
}

TEST(RequirementsTest, RequirementsWithoutCapabilityConditionOrBoundAreRefusedNamingThem) {
  struct Case {
    const char* json;
    const char* message;
  };
  for (const Case& c : {
           Case{R"([{"equals": true}])", "reqs: requirements[0] has no capability"},
           Case{R"([{"capability": "gpu", "equals": true}, {"capability": "cpu"}])",
                "reqs: requirements[1] (capability 'cpu') has no condition: set one of equals, "
                "at_least, at_most, present, one_of"},
       }) {
    absl::StatusOr<runtime::Requirements> r = RequirementsFromProto(Parse(c.json), "reqs");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_EQ(r.status().message(), c.message) << c.json;
  }
  ProtoRequirements nan;
  troupe::v1::Requirement* bound = nan.Add();
  bound->set_capability("load");
  bound->set_at_most(std::nan(""));
  EXPECT_EQ(RequirementsFromProto(nan, "reqs").status().message(),
            "reqs: requirements[0] (capability 'load'): its bound is NaN");
}

}  // namespace
}  // namespace troupe::hosting
