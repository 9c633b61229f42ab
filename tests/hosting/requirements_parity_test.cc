// requirements_parity_test.cc - the runtime's own requirement check
// (daemon/runtime/requirement_check.h, used after capability changes and by
// create_actor) agrees with daemon/hosting's (used before a manifest actor is
// created), on the object form hosting's RequirementsJson writes.
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "daemon/hosting/requirements.h"
#include "daemon/runtime/requirement_check.h"
#include "tests/common/status_matchers.h"

namespace troupe::hosting {
namespace {

TEST(RequirementsParityTest, HostingAndTheRuntimeAgreeOnEveryCondition) {
  const std::vector<std::string> requirement_sets = {
      R"([{"capability": "gpu", "equals": true}])",
      R"([{"capability": "zone", "equals": "eu"}])",
      R"([{"capability": "n", "equals": 4}])",
      R"([{"capability": "list", "equals": [1, "a", {"k": null}]}])",
      R"([{"capability": "obj", "equals": {"a": 1, "b": [true]}}])",
      R"([{"capability": "memory_gb", "at_least": 4}])",
      R"([{"capability": "load", "at_most": 0.5}])",
      R"([{"capability": "load", "at_least": 0.25}, {"capability": "load", "at_most": 2}])",
      R"([{"capability": "zone", "present": true}])",
      R"([{"capability": "tpu", "present": false}])",
      R"([{"capability": "arch", "one_of": ["x86_64", "aarch64", 3]}])",
      R"([{"capability": "gpu", "equals": true}, {"capability": "memory_gb", "at_least": 8}])",
  };
  const std::vector<std::string> capability_sets = {
      "{}",
      R"({"gpu": true, "zone": "eu", "n": 4.0, "memory_gb": 8, "load": 0.5, "arch": "aarch64",
          "list": [1, "a", {"k": null}], "obj": {"b": [true], "a": 1}})",
      R"({"gpu": false, "zone": "us", "n": "4", "memory_gb": "8", "load": 3, "arch": 3,
          "tpu": null, "list": [1, "a"], "obj": {"a": 1}})",
      R"({"gpu": "true", "zone": null, "memory_gb": 4, "load": 0.25, "arch": "mips",
          "list": ["a", 1, {"k": null}], "obj": {"a": 1, "b": [true], "c": 0}})",
      R"({"gpu": true, "memory_gb": 3.999, "load": 0.5000001, "arch": ["x86_64"]})",
  };
  int holds = 0, fails = 0;
  for (const std::string& array : requirement_sets) {
    ASSERT_OK_AND_ASSIGN(Requirements requirements, ParseRequirementsArray(array, "test"));
    const std::string object = RequirementsJson(requirements);
    for (const std::string& capabilities : capability_sets) {
      const absl::Status by_hosting = CheckRequirements(requirements, capabilities);
      const absl::Status by_runtime = runtime::CheckRequirementsObject(object, capabilities);
      EXPECT_EQ(by_hosting.ok(), by_runtime.ok())
          << array << " on " << capabilities << "\nhosting: " << by_hosting
          << "\nruntime: " << by_runtime;
      if (!by_hosting.ok() && !by_runtime.ok()) {
        // Both name the same requirement.
        const std::string runtime_text(by_runtime.message());
        EXPECT_CONTAINS(std::string(by_hosting.message()), runtime_text);
        ++fails;
      } else if (by_hosting.ok()) {
        ++holds;
      }
    }
  }
  EXPECT_GT(holds, 10);
  EXPECT_GT(fails, 10);
}

}  // namespace
}  // namespace troupe::hosting
