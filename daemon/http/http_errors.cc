// http_errors.cc - see http_errors.h.
#include "daemon/http/http_errors.h"

#include "absl/status/status.h"
#include "google/protobuf/util/json_util.h"
#include "httplib.h"
#include "troupe/v1/http.pb.h"

namespace troupe::http {

int HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string ErrorJson(const absl::Status& status) {
  v1::HttpError error;
  error.set_code(absl::StatusCodeToString(status.code()));  // "NOT_FOUND"

  error.set_error(std::string(status.message()));
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(error, &out).ok()) {
    return R"({"code":"INTERNAL","error":"cannot write the error as JSON"})";
  }
  return out + "\n";
}

void SetError(httplib::Response& res, int http_status, const absl::Status& status) {
  res.status = http_status;
  res.set_content(ErrorJson(status), "application/json");
}

void SetError(httplib::Response& res, const absl::Status& status) {
  SetError(res, HttpStatusFor(status.code()), status);
}

}  // namespace troupe::http
