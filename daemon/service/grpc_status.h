// grpc_status.h - the one place where absl::Status becomes grpc::Status (the
// canonical codes share their numbers).
#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace troupe::service {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace troupe::service
