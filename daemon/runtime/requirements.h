// requirements.h - capability requirements as the runtime holds them, and
// the one evaluator of them (docs/runtime.md "Capabilities").
//
// Every API carries requirements as the manifest's `repeated Requirement`
// (daemon/hosting/requirements.h converts them to and from this type at the
// daemon's edge); plugins pass the object form to create_actor, a JSON text
// parsed here, once, at the C ABI edge (ParseRequirementsObject):
//
//   {"gpu": {"equals": true}, "memory_gb": {"at_least": 4, "at_most": 64},
//    "zone": {"present": true}, "arch": {"one_of": ["x86_64", "aarch64"]}}
//
// Semantics: `equals` and `one_of` compare by meaning (4 == 4.0, objects as
// maps), `at_least` / `at_most` need the capability to be a number,
// `present: false` holds only when the capability is absent, and every other
// condition fails on an absent capability.
//
// No protobuf, no hosting: the runtime depends on troupe_common and
// nlohmann_json only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace troupe::runtime {

// One condition on one capability.
struct Requirement {
  enum class Op { kEquals, kOneOf, kAtLeast, kAtMost, kPresent };
  std::string capability;
  Op op = Op::kPresent;
  // kEquals: any JSON value; kOneOf: an array; kAtLeast / kAtMost: a number;
  // kPresent: a boolean. A requirement whose operand has another type never
  // holds (the parsers never make one).
  nlohmann::json operand;

  bool operator==(const Requirement& other) const = default;
};

// All must hold.
using Requirements = std::vector<Requirement>;

// "equals", "one_of", "at_least", "at_most", "present": the names of the
// manifest and of the object form.
std::string_view OpName(Requirement::Op op);

// "gpu equals true", "memory_gb at_least 4", "arch one_of [\"x86_64\"]",
// "zone present", "tpu absent".
std::string Describe(const Requirement& requirement);

// OK when every requirement holds for `capabilities` (a JSON object of
// capability name -> value). Otherwise FailedPrecondition naming the first
// that does not, e.g. "requirement 'gpu equals true' does not hold";
// InvalidArgument when `capabilities` is not an object.
absl::Status CheckRequirements(const Requirements& requirements,
                               const nlohmann::json& capabilities);

// CheckRequirements on a capabilities text (ActorSystem::CapabilitiesJson;
// empty: {}). InvalidArgument when it is not a JSON object.
absl::Status CheckRequirementsOnText(const Requirements& requirements,
                                     std::string_view capabilities_json);

// `requirements` in the object form, conditions grouped by capability in
// order of first mention: {"gpu":{"equals":true},"load":{"at_most":2}}.
// "{}" when there are none. What a class's own capability check receives
// for requirements that did not come from a plugin.
std::string RequirementsObjectJson(const Requirements& requirements);

// The requirements of one actor: what the runtime checks, and the text the
// class's own capability check (ActorClass::CapabilityCheck) receives.
struct ActorRequirements {
  Requirements conditions;
  // The object form: the plugin's own text, or RequirementsObjectJson of
  // `conditions`. Empty is read as "{}".
  std::string text;
  // Empty when `conditions` say all that `text` says; otherwise what in
  // `text` the runtime left to the class's check, e.g. "condition 'near' on
  // 'x' is not one of equals, at_least, at_most, present, one_of". Such
  // requirements cannot travel to another member.
  std::string opaque;

  // Nothing to check (the class's own check may still run, with "{}").
  bool empty() const { return conditions.empty() && opaque.empty(); }
};

// `requirements` with their object form as the class check's text.
ActorRequirements ForClassCheck(Requirements requirements);

// The C ABI edge: a plugin's create_actor text in the object form. Empty or
// white space: none. InvalidArgument when the text is not JSON. Everything
// the runtime does not understand (text that is not an object, a capability
// whose value is not an object, an unknown condition, an operand of the
// wrong type: a non-numeric bound, a non-array one_of, a non-boolean
// present) is left to the class's own check and named in `opaque`.
absl::StatusOr<ActorRequirements> ParseRequirementsObject(std::string_view text);

}  // namespace troupe::runtime
