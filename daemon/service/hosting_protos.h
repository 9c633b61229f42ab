// hosting_protos.h - hosting's results (daemon/hosting/bundle_info.h) as the
// Admin protos (proto/troupe/v1/admin.proto): the one place they are mapped.
// Pure functions; thread-safe.
#pragma once

#include "daemon/hosting/bundle_info.h"
#include "troupe/v1/admin.pb.h"

namespace troupe::service {

v1::BundleState ToProto(hosting::BundleState state);
v1::ManagedActorState ToProto(hosting::ManagedActorState state);
// Times become Unix milliseconds; a time not set becomes 0 (the field unset).
v1::ManagedActor ToProto(const hosting::ManagedActor& actor);
v1::BundleInfo ToProto(const hosting::BundleInfo& bundle);

}  // namespace troupe::service
