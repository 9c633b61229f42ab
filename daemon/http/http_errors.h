// http_errors.h - how troupe-http answers an error: the HTTP status that
// matches the gRPC code, and the JSON body {"code": "NOT_FOUND", "error":
// "..."} (troupe.v1.HttpError).
#pragma once

#include <string>

#include "absl/status/status.h"

namespace httplib {
struct Response;
}

namespace troupe::http {

// OK 200, INVALID_ARGUMENT/FAILED_PRECONDITION/OUT_OF_RANGE 400,
// UNAUTHENTICATED 401, PERMISSION_DENIED 403, NOT_FOUND 404, ALREADY_EXISTS
// and ABORTED 409, RESOURCE_EXHAUSTED 429, CANCELLED 499, UNIMPLEMENTED 501,
// UNAVAILABLE 503, DEADLINE_EXCEEDED 504, anything else 500.
int HttpStatusFor(absl::StatusCode code);

// The JSON error body of `status` (not OK).
std::string ErrorJson(const absl::Status& status);

// Sets `res` to `http_status` with ErrorJson(status) as an application/json body.
void SetError(httplib::Response& res, int http_status, const absl::Status& status);
// The same with HttpStatusFor(status.code()).
void SetError(httplib::Response& res, const absl::Status& status);

}  // namespace troupe::http
