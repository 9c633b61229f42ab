// grpc_status.cc - grpc::Status and code numbers to absl::Status.
#include "sdk/client/grpc_status.h"

#include <utility>

namespace troupe::client_internal {
namespace {

constexpr int32_t kLastCanonicalCode = 16;  // UNAUTHENTICATED

}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return StatusFromCode(static_cast<int32_t>(status.error_code()), status.error_message());
}

absl::Status StatusFromCode(int32_t code, std::string message) {
  if (code <= 0 || code > kLastCanonicalCode)
    code = static_cast<int32_t>(absl::StatusCode::kUnknown);
  return absl::Status(static_cast<absl::StatusCode>(code), std::move(message));
}

}  // namespace troupe::client_internal
