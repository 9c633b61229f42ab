// requirements.h - the one conversion between the manifest's Requirement
// (troupe.v1.Requirement: the wire form of every API, manifests,
// CreateActorRequest and the convention's PlaceRequest) and the runtime's
// Requirements (daemon/runtime/requirements.h), which the runtime's one
// evaluator checks. Used at the daemon's edges: bundle load, the messaging
// service's CreateActor and the convention's placement.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/runtime/requirements.h"
#include "troupe/v1/manifest.pb.h"

namespace troupe::hosting {

using ProtoRequirements = google::protobuf::RepeatedPtrField<troupe::v1::Requirement>;

// `requirements` for the runtime. InvalidArgument, "<subject>: ...", for a
// requirement without capability or condition, or with a NaN bound (the
// manifest's rules), naming it: "<subject>: requirements[1] (capability
// 'cpu') has no condition: set one of equals, at_least, at_most, present,
// one_of".
absl::StatusOr<runtime::Requirements> RequirementsFromProto(const ProtoRequirements& requirements,
                                                            std::string_view subject);

// The inverse: every runtime requirement has a manifest form.
void RequirementsToProto(const runtime::Requirements& requirements, ProtoRequirements* out);

// runtime::CheckRequirements on this node's `capabilities_json`
// (ActorSystem::CapabilitiesJson), its failure naming them: "requirement
// 'gpu equals true' does not hold (this node's capabilities: {})".
absl::Status CheckOnThisNode(const runtime::Requirements& requirements,
                             const std::string& capabilities_json);

}  // namespace troupe::hosting
