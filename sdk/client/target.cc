// target.cc - ParseTarget.
#include "sdk/client/target.h"

#include <filesystem>
#include <system_error>

#include "absl/status/status.h"

namespace troupe::client_internal {
namespace {

Target UnixTarget(std::string path) {
  Target target;
  target.unix_socket = true;
  target.socket_path = std::move(path);
  target.grpc_target = "unix:" + target.socket_path;
  target.display = target.grpc_target;
  return target;
}

}  // namespace

absl::StatusOr<Target> ParseTarget(std::string_view text) {
  if (text.empty()) {
    return absl::InvalidArgumentError(
        "no daemon address: give troupd's unix socket path or host:port");
  }
  constexpr std::string_view kUnix = "unix:";
  if (text.substr(0, kUnix.size()) == kUnix) {
    std::string_view path = text.substr(kUnix.size());
    if (path.substr(0, 3) == "///") path.remove_prefix(2);  // unix:///abs -> /abs
    if (path.empty()) return absl::InvalidArgumentError("'unix:' names no socket path");
    return UnixTarget(std::string(path));
  }
  if (text.front() == '/' || text.find(':') == std::string_view::npos) {
    std::error_code error;
    std::filesystem::path absolute = std::filesystem::absolute(std::string(text), error);
    return UnixTarget(error ? std::string(text) : absolute.lexically_normal().string());
  }
  Target target;
  target.grpc_target = std::string(text);
  target.display = target.grpc_target;
  return target;
}

}  // namespace troupe::client_internal
