// grpc_status.h - the one conversion between absl::Status and grpc::Status
// (and the google.rpc.Code numbers of the Messaging stream's frames), for
// troupd's services, the convention, director and troupe_client alike. The
// canonical codes share their numbers, so the mapping is 1:1. Header-only, on
// Abseil and gRPC's headers only, so the installed troupe_client needs no
// library of ours for it (it is not installed itself).
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace troupe {

// OK for OK; otherwise the same code number and the same message.
inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// `code` as received in a frame (ServerFrame.code) or from gRPC; a number
// outside the canonical range becomes UNKNOWN, and so does 0 (an error is
// never OK).
inline absl::Status StatusFromCode(int32_t code, std::string message) {
  constexpr int32_t kLastCanonicalCode = 16;  // UNAUTHENTICATED
  if (code <= 0 || code > kLastCanonicalCode) {
    code = static_cast<int32_t>(absl::StatusCode::kUnknown);
  }
  return absl::Status(static_cast<absl::StatusCode>(code), std::move(message));
}

// OK for OK; otherwise the same code number (UNKNOWN outside the canonical
// range) and the same message.
inline absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return StatusFromCode(static_cast<int32_t>(status.error_code()), status.error_message());
}

}  // namespace troupe
