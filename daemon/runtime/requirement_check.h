// requirement_check.h - the runtime's own check of capability requirements in
// their object form, the form daemon/hosting's RequirementsJson writes and
// create_actor / CreateOptions carry:
//
//   {"gpu": {"equals": true}, "memory_gb": {"at_least": 4, "at_most": 64},
//    "zone": {"present": true}, "arch": {"one_of": ["x86_64", "aarch64"]}}
//
// Each capability names an object of conditions; all must hold. Semantics are
// those of daemon/hosting/requirements.cc (tests/hosting keep the two
// equal): `equals` and `one_of` compare by meaning (JsonValue equality:
// 4 == 4.0, objects as maps), `at_least` / `at_most` need the capability to
// be a number, `present: false` holds only when the capability is absent,
// and every other condition fails on an absent capability.
//
// Anything else in the requirements is opaque to the runtime and left to the
// class's own capability check: requirements that are not a JSON object, a
// capability whose value is not an object, an unknown condition name, or a
// condition whose operand has the wrong type (a non-numeric bound, a
// non-array one_of, a non-boolean present).
//
// No protobuf, no hosting: the runtime depends on troupe_common only.
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "daemon/common/json_value.h"

namespace troupe::runtime {

// OK when every condition the runtime understands holds for `capabilities`
// (a JSON object of name -> value). Otherwise FailedPrecondition describing
// the first that does not: "requirement 'gpu equals true' does not hold".
absl::Status CheckRequirementsObject(const JsonValue& requirements,
                                     const JsonValue& capabilities);

// The same on JSON texts. Empty requirements always hold. InvalidArgument when
// `requirements_json` is not JSON or `capabilities_json` is not a JSON object.
absl::Status CheckRequirementsObject(std::string_view requirements_json,
                                     std::string_view capabilities_json);

}  // namespace troupe::runtime
