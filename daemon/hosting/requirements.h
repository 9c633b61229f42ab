// requirements.h - a manifest actor's capability requirements
// (manifest.proto Requirement): as the JSON object the runtime hands to the
// class's own capability check, and checked against this node's capabilities
// before the host creates the actor. Private to daemon/hosting.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "troupe/v1/manifest.pb.h"

namespace troupe::hosting {

using Requirements = google::protobuf::RepeatedPtrField<troupe::v1::Requirement>;

// Parses `json`, a JSON array of requirements as in a manifest (e.g.
// [{"capability":"gpu","equals":true}]; CreateActorRequest.requirements_json).
// Empty text (or only white space): none. InvalidArgument, "<subject>: ...",
// for text that is not such an array (unknown fields included) and for a
// requirement without capability or condition, or with a NaN bound (the
// manifest's rules).
absl::StatusOr<Requirements> ParseRequirementsArray(std::string_view json,
                                                    std::string_view subject);

// {"<capability>": {"<condition>": <value>, ...}, ...}, e.g.
// {"gpu":{"equals":true},"memory_gb":{"at_least":4}}; conditions on one
// capability share its object. Empty text when there are no requirements.
std::string RequirementsJson(const Requirements& requirements);

// OK when every requirement holds for `capabilities_json` (a JSON object of
// capability name -> value, ActorSystem::CapabilitiesJson). Otherwise
// FailedPrecondition naming the first requirement that does not hold and the
// capabilities, e.g. "requirement 'gpu equals true' does not hold (this node's
// capabilities: {})".
absl::Status CheckRequirements(const Requirements& requirements,
                               std::string_view capabilities_json);

}  // namespace troupe::hosting
