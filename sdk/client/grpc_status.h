// grpc_status.h - the one place where the client turns a grpc::Status (or a
// google.rpc.Code number from a stream frame) into an absl::Status. The
// canonical codes share their numbers, so the mapping is 1:1.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace troupe::client_internal {

// OK for OK; otherwise the same code number and the same message.
absl::Status FromGrpcStatus(const grpc::Status& status);

// `code` as received in a frame (ServerFrame.code); a number outside the
// canonical range becomes UNKNOWN, and so does 0 (an error frame is never OK).
absl::Status StatusFromCode(int32_t code, std::string message);

}  // namespace troupe::client_internal
