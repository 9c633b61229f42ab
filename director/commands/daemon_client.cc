// daemon_client.cc - finding and calling a running troupd.
#include "director/commands/daemon_client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <ostream>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "daemon/common/strings.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "proto/grpc_status.h"

namespace troupe::director {
namespace {

// sockaddr_un::sun_path holds 108 bytes including the terminating NUL.
constexpr size_t kMaxSocketPath = sizeof(sockaddr_un::sun_path) - 1;

}  // namespace

absl::StatusOr<std::string> ResolveSocketPath(Context& ctx, const std::string& flag) {
  std::string path = flag;
  if (path.empty()) {
    const config::Config& config = ctx.config();
    const config::SettingValue* setting = config.Find("socket");
    if (setting != nullptr && !setting->problem.empty()) {
      return absl::InvalidArgumentError(
          troupe::StrCat(setting->path, ": socket: ", setting->problem));
    }
    // The daemon's default (config::Config::Daemon), without requiring the
    // other daemon settings to be valid: status and shutdown must work
    // while someone edits them.
    path = setting != nullptr && !setting->value.empty() ? setting->value
                                                         : config.dir() + "/run/troupd.sock";
  }
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  if (!ec) path = absolute.lexically_normal().string();
  if (path.size() > kMaxSocketPath) {
    return absl::InvalidArgumentError(troupe::StrCat("socket path ", path, " is ", path.size(),
                                                     " bytes; a unix socket path has at most ",
                                                     kMaxSocketPath));
  }
  return path;
}

absl::Duration DrainTimeout(Context& ctx) {
  const config::Config& config = ctx.config();
  if (absl::StatusOr<config::DaemonSettings> settings = config.Daemon(); settings.ok()) {
    return settings->drain_timeout;
  }
  // Another daemon setting is invalid: the one that matters here may still
  // be fine (status, unload and shutdown must work while someone edits).
  const config::SettingValue* setting = config.Find("drain_timeout_seconds");
  uint64_t seconds = 0;
  if (setting != nullptr && setting->problem.empty() &&
      absl::SimpleAtoi(setting->value, &seconds)) {
    return absl::Seconds(static_cast<int64_t>(seconds));
  }
  return absl::Seconds(30);
}

absl::Duration UnloadDeadline(Context& ctx) { return DrainTimeout(ctx) + absl::Seconds(15); }

absl::Duration LoadDeadline(Context& ctx) {
  return kDaemonLoadTimeout + DrainTimeout(ctx) + absl::Seconds(30);
}

absl::Status NotRunningError(const std::string& socket) {
  return absl::UnavailableError(troupe::StrCat("troupd is not running: nothing answers on ", socket,
                                               " (start it with `director start`)"));
}

absl::StatusOr<pid_t> ProbeSocket(const std::string& path) {
  if (path.size() > kMaxSocketPath) {
    return absl::InvalidArgumentError(troupe::StrCat("socket path ", path, " is too long"));
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::UnknownError(troupe::StrCat("cannot make a unix socket: ", std::strerror(errno)));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int error = errno;
    ::close(fd);
    switch (error) {
      case ENOENT:
      case ENOTDIR:
      case ECONNREFUSED:
        return NotRunningError(path);
      case EACCES:
      case EPERM:
        return absl::PermissionDeniedError(
            troupe::StrCat("cannot connect to troupd's socket ", path,
                           ": permission denied (only the daemon's user may use it)"));
      default:
        return absl::UnknownError(
            troupe::StrCat("cannot connect to troupd's socket ", path, ": ", std::strerror(error)));
    }
  }
  ucred cred{};
  socklen_t size = sizeof cred;
  pid_t pid = 0;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &size) == 0) pid = cred.pid;
  ::close(fd);
  return pid;
}

Probe ProbeOrFail(Context& ctx, const std::string& socket_flag) {
  absl::StatusOr<std::string> socket = ResolveSocketPath(ctx, socket_flag);
  if (!socket.ok()) {
    return {
        "", 0,
        ctx.Fail(socket.status(), socket_flag.empty() ? kExitInvalidConfig : kExitInvalidInput)};
  }
  absl::StatusOr<pid_t> pid = ProbeSocket(*socket);
  if (!pid.ok()) return {"", 0, ctx.Fail(pid.status())};
  return {*std::move(socket), *pid, kExitOk};
}

Connection ConnectOrFail(Context& ctx, const std::string& socket_flag) {
  Probe probe = ProbeOrFail(ctx, socket_flag);
  if (!probe.ok()) return {nullptr, probe.code};
  return {std::make_unique<DaemonClient>(std::move(probe.socket), probe.pid), kExitOk};
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& socket, bool fast_reconnect) {
  grpc::ChannelArguments args;
  // Replies (an ask's payload, a big status) may be as large as the daemon
  // allows; it enforces its own limits.
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  if (fast_reconnect) {
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 250);
  }
  return grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args);
}

DaemonClient::DaemonClient(std::string socket, pid_t pid) : socket_(std::move(socket)), pid_(pid) {
  channel_ = MakeChannel(socket_, /*fast_reconnect=*/false);
  admin_ = troupe::v1::Admin::NewStub(channel_);
}

absl::StatusOr<std::unique_ptr<DaemonClient>> DaemonClient::Connect(const std::string& socket) {
  absl::StatusOr<pid_t> pid = ProbeSocket(socket);
  if (!pid.ok()) return pid.status();
  return std::make_unique<DaemonClient>(socket, *pid);
}

std::unique_ptr<grpc::ClientContext> DaemonClient::NewContext(absl::Duration deadline) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  return context;
}

absl::Status DaemonError(const absl::Status& status, std::string_view what, std::string_view socket,
                         absl::Duration deadline) {
  const std::string text =
      OneLine(std::string_view(status.message().data(), status.message().size()));
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return absl::OkStatus();
    case absl::StatusCode::kUnavailable:
      return absl::UnavailableError(
          troupe::StrCat(what, ": troupd stopped answering on ", socket, ": ", text));
    case absl::StatusCode::kDeadlineExceeded:
      return absl::DeadlineExceededError(
          troupe::StrCat(what, ": troupd did not answer within ", absl::FormatDuration(deadline)));
    default:
      return absl::Status(status.code(), troupe::StrCat(what, ": ", text));
  }
}

absl::Status DaemonClient::Error(const grpc::Status& status, std::string_view what,
                                 absl::Duration deadline) const {
  return DaemonError(FromGrpcStatus(status), what, socket_, deadline);
}

absl::StatusOr<std::string> ProtoToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  if (auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
      !status.ok() || json.size() < 2) {
    return absl::InternalError(
        troupe::StrCat("cannot print the daemon's answer as JSON: ", status.ToString()));
  }
  return json;
}

absl::StatusOr<Json> ParseProtoJson(const google::protobuf::Message& message) {
  absl::StatusOr<std::string> printed = ProtoToJson(message);
  if (!printed.ok()) return printed.status();
  absl::StatusOr<Json> parsed = ParseOrderedJson(*printed);
  if (!parsed.ok()) {
    return absl::InternalError(
        troupe::StrCat("cannot read the daemon's answer as JSON: ", parsed.status().message()));
  }
  return parsed;
}

int PrintProtoJson(Context& ctx, const google::protobuf::Message& message, const Json& extra) {
  absl::StatusOr<Json> fields = ParseProtoJson(message);
  if (!fields.ok()) return ctx.Fail(fields.status());
  Json out = extra.is_object() ? extra : Json::object();
  for (const auto& [name, value] : fields->items()) out[name] = value;
  return ctx.PrintJson(out);
}

absl::StatusOr<std::vector<std::string>> LoadedHashesIfRunning(Context& ctx,
                                                               absl::Duration deadline) {
  absl::StatusOr<std::string> socket = ResolveSocketPath(ctx, "");
  if (!socket.ok()) return std::vector<std::string>();
  absl::StatusOr<std::unique_ptr<DaemonClient>> client = DaemonClient::Connect(*socket);
  if (!client.ok()) {
    if (client.status().code() == absl::StatusCode::kUnavailable) {
      return std::vector<std::string>();
    }
    return client.status();
  }
  absl::StatusOr<troupe::v1::ListResponse> response =
      (*client)->Call(&troupe::v1::Admin::Stub::List, troupe::v1::ListRequest(),
                      "list the loaded bundles", deadline);
  if (!response.ok()) return response.status();
  std::vector<std::string> hashes;
  for (const troupe::v1::BundleInfo& bundle : response->bundles()) {
    if (!bundle.failure().empty()) continue;  // recorded, not running
    hashes.push_back(bundle.hash());
  }
  return hashes;
}

std::string OneLine(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') continue;
    if (text[i] != '\n') {
      out += text[i];
    } else if (i + 1 < text.size()) {
      out += "; ";
    }
  }
  return out;
}

std::string FormatUnixMillis(int64_t unix_ms) {
  if (unix_ms == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMillis(unix_ms),
                          absl::LocalTimeZone());
}

}  // namespace troupe::director
