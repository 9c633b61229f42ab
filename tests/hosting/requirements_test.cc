// Tests of manifest requirements: the JSON the runtime hands to a class's
// capability check, and the host's own check against node capabilities.
#include "daemon/hosting/requirements.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "tests/common/status_matchers.h"

namespace troupe::hosting {
namespace {

Requirements Parse(const std::string& json_array) {
  troupe::v1::ActorSpec spec;
  std::string json = "{\"requirements\": " + json_array + "}";
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &spec).ok()) << json;
  return spec.requirements();
}

TEST(RequirementsTest, NoRequirementsGiveNoJsonAndAlwaysHold) {
  EXPECT_EQ(RequirementsJson({}), "");
  EXPECT_OK(CheckRequirements({}, "{}"));
}

TEST(RequirementsTest, JsonGroupsConditionsByCapability) {
  Requirements r = Parse(R"([{"capability": "gpu", "equals": true},
                             {"capability": "load", "at_least": 0.25},
                             {"capability": "load", "at_most": 2},
                             {"capability": "arch", "one_of": ["x86_64", "aarch64"]},
                             {"capability": "tpu", "present": false}])");
  EXPECT_EQ(RequirementsJson(r),
            R"({"gpu":{"equals":true},"load":{"at_least":0.25,"at_most":2},)"
            R"("arch":{"one_of":["x86_64","aarch64"]},"tpu":{"present":false}})");
}

TEST(RequirementsTest, EveryConditionIsCheckedAgainstTheCapabilities) {
  Requirements r = Parse(R"([{"capability": "gpu", "equals": true},
                             {"capability": "memory_gb", "at_least": 4},
                             {"capability": "load", "at_most": 0.5},
                             {"capability": "arch", "one_of": ["x86_64", "aarch64"]},
                             {"capability": "zone", "present": true},
                             {"capability": "tpu", "present": false}])");
  const std::string good =
      R"({"gpu": true, "memory_gb": 8, "load": 0.5, "arch": "aarch64", "zone": "eu"})";
  EXPECT_OK(CheckRequirements(r, good));

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
                    "tpu": 1})",
                "'tpu absent'"},
       }) {
    absl::Status status = CheckRequirements(r, c.capabilities);
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << c.capabilities;
    EXPECT_CONTAINS(status.message(), std::string("requirement ") + c.failing + " does not hold");
    EXPECT_CONTAINS(status.message(), "this node's capabilities: ");
  }
}

TEST(RequirementsTest, CapabilitiesAreReadAsJsonWhateverTheirSpelling) {
  Requirements r = Parse(R"([{"capability": "gpu", "equals": true},
                             {"capability": "zone", "equals": {"region": ["eu", 1]}}])");
  EXPECT_OK(CheckRequirements(
      r, R"( { "g\u0070u" : true , "zone": {"region": ["eu", 1.0]}, "other": "}" } )"));
  EXPECT_EQ(CheckRequirements(r, R"({"gpu": true, "zone": {"region": ["eu"]}})").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      CheckRequirements(r, R"({"gpu": false, "gpu": true, "zone": {"region": ["eu", 1]}})").code(),
      absl::StatusCode::kOk)
      << "a later member wins";
  EXPECT_EQ(CheckRequirements(r, "[1]").code(), absl::StatusCode::kInternal);
}

TEST(RequirementsTest, AnArrayAsInAManifestParsesToTheSameRequirements) {
  const std::string array = R"([{"capability": "gpu", "equals": true},
                                {"capability": "load", "at_most": 2}])";
  ASSERT_OK_AND_ASSIGN(Requirements r, ParseRequirementsArray(array, "requirements"));
  EXPECT_EQ(RequirementsJson(r), RequirementsJson(Parse(array)));
  EXPECT_EQ(RequirementsJson(r), R"({"gpu":{"equals":true},"load":{"at_most":2}})");
  for (const char* none : {"", "  \n", "[]"}) {
    ASSERT_OK_AND_ASSIGN(Requirements empty, ParseRequirementsArray(none, "requirements"));
    EXPECT_TRUE(empty.empty()) << none;
  }
}

TEST(RequirementsTest, AnythingElseIsRefusedNamingTheSubject) {
  struct Case {
    const char* json;
    const char* message;
  };
  for (const Case& c : {
           Case{"[{\"capability\": \"gpu\"", "reqs: not a JSON array of requirements"},
           Case{R"({"gpu": {"equals": true}})", "reqs: not a JSON array of requirements"},
           Case{R"([], "class_name": "x")", "reqs: not a JSON array of requirements"},
           Case{R"([{"capability": "gpu", "equal": true}])",
                "reqs: not requirements as in a manifest: "},
           Case{R"(["gpu"])", "reqs: not requirements as in a manifest: "},
           Case{R"([{"equals": true}])", "reqs: requirements[0] has no capability"},
           Case{R"([{"capability": "gpu", "equals": true}, {"capability": "cpu"}])",
                "reqs: requirements[1] (capability 'cpu') has no condition"},
       }) {
    absl::StatusOr<Requirements> r = ParseRequirementsArray(c.json, "reqs");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_CONTAINS(r.status().message(), c.message) << c.json;
  }
}

}  // namespace
}  // namespace troupe::hosting
