// gateway_impl.h - what the route files of the gateway share (gateway.h).
// Not for use outside daemon/http/.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "daemon/common/mutex.h"
#include "daemon/http/executions.h"
#include "daemon/http/gateway.h"
#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"
#include "httplib.h"
#include "proto/grpc_status.h"
#include "troupe/client.h"
#include "troupe/v1/admin.grpc.pb.h"
#include "troupe/v1/messaging.grpc.pb.h"

namespace troupe::http {

struct Gateway::Impl {
  explicit Impl(GatewayOptions o);

  // Registers the routes (bundle_routes.cc, actor_routes.cc, gateway.cc).
  void AddBundleRoutes();
  void AddActorRoutes();
  void AddExecutionRoutes();
  void AddServiceRoutes();

  // Sends the ask of an execution without waiting; answers 202 with its
  // record (ask_routes.cc).
  void StartExecution(const std::string& to, Client::Message message, absl::Duration timeout,
                      httplib::Response& res);

  // The checks every request passes before its route and before its body
  // is read (the refusal thread's 503, the token, body sizes): true when
  // `res` is the refusal to send.
  bool Refused(const httplib::Request& req, httplib::Response& res) const;

  // A client context for a call to the daemon that ends by `timeout`.
  static void SetDeadline(grpc::ClientContext* context, absl::Duration timeout);
  // The daemon's message stream (troupe::Client) that carries the asks of
  // every request thread: connected on first use, and again once the stream
  // was lost (its error handler says so: this client sends no tells, so any
  // error it reports is the stream's end). UNAVAILABLE while stopping.
  absl::StatusOr<std::shared_ptr<Client>> AskClient() ABSL_LOCKS_EXCLUDED(mu);

  const GatewayOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Admin::Stub> admin;
  std::unique_ptr<v1::Messaging::Stub> messaging;
  std::unique_ptr<httplib::Server> server;
  int listen_fd = -1;  // the server's listening socket, once created
  Executions executions;

  troupe::Mutex mu;
  std::shared_ptr<Client> ask_client ABSL_GUARDED_BY(mu);
  std::shared_ptr<std::atomic<bool>> ask_client_lost ABSL_GUARDED_BY(mu);
  bool stopping ABSL_GUARDED_BY(mu) = false;
};

// `message` as JSON (protobuf's mapping) with `http_status`.
void SetJson(httplib::Response& res, const google::protobuf::Message& message,
             int http_status = 200);
// Parses the request's JSON body into `out`: InvalidArgument naming the
// problem (bad JSON, unknown field, wrong type) otherwise.
absl::Status ParseJsonBody(const httplib::Request& req, google::protobuf::Message* out);
// The query parameter `name` of the request's URL (never a form field of
// its body, which httplib mixes into req.params); false when absent.
bool QueryParam(const httplib::Request& req, const std::string& name, std::string* value);
// The same, or `fallback` when absent.
std::string QueryParamOr(const httplib::Request& req, const std::string& name,
                         const std::string& fallback);
// The actor named in the path (the first regex group), URL-decoded.
std::string ActorInPath(const httplib::Request& req);
// A message body that PayloadFromBody refused: 415 for an unsupported
// Content-Type, 400 otherwise.
void SetBodyError(httplib::Response& res, const absl::Status& status);
// The gRPC call's status as an absl::Status.
absl::Status FromCall(const grpc::Status& status);

}  // namespace troupe::http
