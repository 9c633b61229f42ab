// daemon_client.h - how director talks to a running troupd: which socket
// (--socket, else the `socket` setting), whether anything answers there (a
// plain connect(2) first: instant, and exact about "not running"), Admin calls
// with short deadlines, gRPC errors as one-line absl::Status, and CallOrFail,
// the connect-call-report step every daemon command shares. The message
// commands (tell, ask, create) use troupe::Client instead (message_commands.cc)
// after the same probe. Nothing here ever starts a daemon; only `director
// start` does.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "director/commands/commands.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "troupe/v1/admin.grpc.pb.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace troupe::director {

// The deadline of the quick calls (status, list, role, capabilities, tell,
// lookups): the daemon answers them without waiting for actors.
inline constexpr absl::Duration kCallDeadline = absl::Seconds(10);
// How long troupd gives a new version's on_load actions (fixed in
// daemon/hosting, BundleHostOptions::load_timeout).
inline constexpr absl::Duration kDaemonLoadTimeout = absl::Seconds(30);

// The `drain_timeout_seconds` setting as troupd reads it
// (config::Config::Daemon); when the daemon settings are invalid, that one
// setting alone; 30 s (its default) when it is invalid too.
absl::Duration DrainTimeout(Context& ctx);

// The deadline of an Unload call: the daemon may wait drain_timeout for the
// unloaded versions' actors, plus 15 s.
absl::Duration UnloadDeadline(Context& ctx);

// The deadline of one Load call (load, each load of refresh): the on_load
// actions (kDaemonLoadTimeout), the drain of the version it replaces
// (drain_timeout) and 30 s for verifying and unpacking the bundle.
absl::Duration LoadDeadline(Context& ctx);

// The daemon's socket: `flag` (made absolute) when given, else the `socket`
// setting, else <TROUPE_DIR>/run/troupd.sock. InvalidArgument for a path too
// long for a unix socket; an invalid `socket` setting is returned as is
// (commands exit 7 for it).
absl::StatusOr<std::string> ResolveSocketPath(Context& ctx, const std::string& flag);

// One connect(2) to the unix socket at `path`. The peer's pid (SO_PEERCRED;
// 0 when unknown) when something accepts; Unavailable with the "not running"
// line when nothing does (no file, a stale file, refused); PermissionDenied
// when the caller may not connect.
absl::StatusOr<pid_t> ProbeSocket(const std::string& path);

// The one line for a daemon that does not answer (exit kExitNotRunning).
absl::Status NotRunningError(const std::string& socket);

// The daemon's error `status` (from gRPC or troupe::Client; the codes share
// numbers), worded as every daemon command reports it: "<what>: <the
// daemon's text>" on one line; Unavailable becomes "<what>: troupd stopped
// answering on <socket>: ...", DeadlineExceeded "<what>: troupd did not
// answer within <deadline>". OK stays OK.
absl::Status DaemonError(const absl::Status& status, std::string_view what, std::string_view socket,
                         absl::Duration deadline = kCallDeadline);

// A method of troupd's Admin service, e.g. &troupe::v1::Admin::Stub::List.
template <typename Request, typename Response>
using AdminMethod = grpc::Status (troupe::v1::Admin::Stub::*)(grpc::ClientContext*, const Request&,
                                                              Response*);

// The daemon's socket for --socket `socket_flag` (see ResolveSocketPath) once
// something answers there (ProbeSocket), with its pid; or, with `socket`
// empty, the exit code after printing why (8 when nothing answers, 7 for an
// invalid `socket` setting, 5 for a --socket path too long).
struct Probe {
  std::string socket;
  pid_t pid = 0;
  int code = kExitOk;
  bool ok() const { return !socket.empty(); }
};
Probe ProbeOrFail(Context& ctx, const std::string& socket_flag);

// A connection to one troupd. Not thread-safe (director is single-threaded).
class DaemonClient {
 public:
  // Probes `socket` (see ProbeSocket) and opens a channel to it.
  static absl::StatusOr<std::unique_ptr<DaemonClient>> Connect(const std::string& socket);
  // A channel to `socket`, where the daemon with `pid` (0: unknown) answered.
  DaemonClient(std::string socket, pid_t pid);

  troupe::v1::Admin::Stub& admin() { return *admin_; }
  grpc::Channel& channel() { return *channel_; }
  const std::string& socket() const { return socket_; }
  // The daemon's pid as the kernel reported it at connect time; 0 if unknown.
  pid_t pid() const { return pid_; }

  // A fresh context for one call, with `deadline` from now.
  static std::unique_ptr<grpc::ClientContext> NewContext(absl::Duration deadline);

  // `status` as DaemonError words it for this daemon's socket.
  absl::Status Error(const grpc::Status& status, std::string_view what,
                     absl::Duration deadline = kCallDeadline) const;

  // Calls `method` with `request`, `deadline` from now: the daemon's answer,
  // or its error as Error() words it.
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(AdminMethod<Request, Response> method, const Request& request,
                                std::string_view what, absl::Duration deadline = kCallDeadline) {
    Response response;
    const grpc::Status status =
        (admin_.get()->*method)(NewContext(deadline).get(), request, &response);
    if (!status.ok()) return Error(status, what, deadline);
    return response;
  }

 private:
  std::string socket_;
  pid_t pid_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<troupe::v1::Admin::Stub> admin_;
};

// The client for --socket `socket_flag` (see ResolveSocketPath), or, with
// `client` null, the exit code after printing why there is none (8 when
// nothing answers, 7 for an invalid `socket` setting).
struct Connection {
  std::unique_ptr<DaemonClient> client;
  int code = kExitOk;
};
Connection ConnectOrFail(Context& ctx, const std::string& socket_flag);

// What CallOrFail got: the daemon's answer and the client that asked (for
// more calls), or, with `client` null, the exit code after printing why there
// is no answer.
template <typename Response>
struct Answer {
  std::unique_ptr<DaemonClient> client;
  Response response;
  int code = kExitOk;
  bool ok() const { return client != nullptr; }
};

// The step every daemon command shares: connects for --socket `socket_flag`
// (ConnectOrFail), makes one Admin call (DaemonClient::Call) and reports a
// failure with ctx.Fail.
//
//   Answer<v1::ListResponse> list =
//       CallOrFail(ctx, options.socket, &v1::Admin::Stub::List, request, "list");
//   if (!list.ok()) return list.code;
template <typename Request, typename Response>
Answer<Response> CallOrFail(Context& ctx, const std::string& socket_flag,
                            AdminMethod<Request, Response> method, const Request& request,
                            std::string_view what, absl::Duration deadline = kCallDeadline) {
  Connection c = ConnectOrFail(ctx, socket_flag);
  if (!c.client) return {nullptr, Response(), c.code};
  absl::StatusOr<Response> response = c.client->Call(method, request, what, deadline);
  if (!response.ok()) return {nullptr, Response(), ctx.Fail(response.status())};
  return {std::move(c.client), *std::move(response), kExitOk};
}

// A channel to `socket` that reconnects quickly (100-250 ms backoff), for
// waiting on a daemon that is starting; see WaitForDaemon in lifecycle_commands.cc.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& socket, bool fast_reconnect);

// `message` as one JSON object (field names as in the .proto, every field),
// as PrintProtoJson prints it.
absl::StatusOr<std::string> ProtoToJson(const google::protobuf::Message& message);

// `message` as ProtoToJson prints it, parsed (members in the .proto's order).
absl::StatusOr<Json> ParseProtoJson(const google::protobuf::Message& message);

// Prints "ok": true, the members of `extra`, then `message` as JSON (field
// names as in the .proto, every field), as one line.
int PrintProtoJson(Context& ctx, const google::protobuf::Message& message,
                   const Json& extra = Json::object());

// The source hashes of the bundles loaded in the troupd that answers on the
// configured socket; empty when none answers (or the setting is invalid). An
// error when one answers but does not list them within `deadline`.
absl::StatusOr<std::vector<std::string>> LoadedHashesIfRunning(
    Context& ctx, absl::Duration deadline = absl::Seconds(3));

// `text` on one line: line breaks become "; ".
std::string OneLine(std::string_view text);

// "2026-11-26 08:39:12" in local time; "-" for 0.
std::string FormatUnixMillis(int64_t unix_ms);

}  // namespace troupe::director
