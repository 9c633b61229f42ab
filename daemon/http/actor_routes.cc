// actor_routes.cc - POST /v1/actors (create), GET /v1/actors/{actor}
// (status), GET /v1/actors/{actor}/logs and POST
// /v1/actors/{actor}/messages (tell). {actor} is an address (URL-encoded:
// troupe%3A%2F%2Fnode%2F12) or a global name.
#include "absl/strings/numbers.h"
#include "daemon/common/strings.h"
#include "daemon/http/gateway_impl.h"
#include "daemon/http/http_errors.h"
#include "daemon/http/message_body.h"
#include "troupe/v1/http.pb.h"

namespace troupe::http {
namespace {
// Creating an actor in a convention may place it on another member, which
// may fetch the bundle first.
constexpr absl::Duration kCreateTimeout = absl::Seconds(60);
// A tell to a name another member holds asks the convention first.
constexpr absl::Duration kTellTimeout = absl::Seconds(10);
}  // namespace

void Gateway::Impl::AddActorRoutes() {
  server->Post("/v1/actors", [this](const httplib::Request& req, httplib::Response& res) {
    v1::HttpCreateActor body;
    if (absl::Status parsed = ParseJsonBody(req, &body); !parsed.ok()) {
      return SetError(res, parsed);
    }
    if (body.group().empty() || body.class_name().empty()) {
      return SetError(res, absl::InvalidArgumentError(
                               "say which actor to create: {\"group\": ..., \"class\": ...}"));
    }
    grpc::ClientContext context;
    SetDeadline(&context, kCreateTimeout);
    v1::CreateActorRequest request;
    request.set_group(body.group());
    request.set_class_name(body.class_name());
    request.set_global_name(body.name());
    *request.mutable_requirements() = body.requirements();
    v1::CreateActorResponse response;
    grpc::Status status = messaging->CreateActor(&context, request, &response);
    if (!status.ok()) return SetError(res, FromGrpcStatus(status));
    v1::HttpActorCreated created;
    created.set_address(response.address());
    SetJson(res, created, 201);
  });

  server->Get("/v1/actors/(.+)/logs", [this](const httplib::Request& req, httplib::Response& res) {
    v1::ActorLogsRequest request;
    request.set_actor(ActorInPath(req));
    if (std::string text; QueryParam(req, "lines", &text)) {
      uint32_t lines = 0;
      if (!absl::SimpleAtoi(text, &lines)) {
        return SetError(res, absl::InvalidArgumentError(troupe::StrCat(
                                 "?lines=", troupe::Quoted(text), " is not a number of lines")));
      }
      request.set_max_lines(lines);
    }
    grpc::ClientContext context;
    SetDeadline(&context, absl::Seconds(10));
    v1::ActorLogsResponse response;
    grpc::Status status = admin->ActorLogs(&context, request, &response);
    if (!status.ok()) return SetError(res, FromGrpcStatus(status));
    SetJson(res, response);
  });

  server->Get("/v1/actors/(.+)", [this](const httplib::Request& req, httplib::Response& res) {
    grpc::ClientContext context;
    SetDeadline(&context, absl::Seconds(10));
    v1::StatusRequest request;
    request.set_actor(ActorInPath(req));
    v1::StatusResponse response;
    grpc::Status status = admin->Status(&context, request, &response);
    if (!status.ok()) return SetError(res, FromGrpcStatus(status));
    if (response.actors_size() != 1) {
      return SetError(res, absl::NotFoundError(troupe::StrCat(
                               "no actor ", troupe::Quoted(request.actor()))));
    }
    SetJson(res, response.actors(0));
  });

  server->Post("/v1/actors/(.+)/messages",
               [this](const httplib::Request& req, httplib::Response& res) {
                 absl::StatusOr<std::string> payload =
                     PayloadFromBody(req.get_header_value("Content-Type"), req.body);
                 if (!payload.ok()) return SetBodyError(res, payload.status());
                 v1::TellRequest request;
                 request.set_to(ActorInPath(req));
                 request.set_type(QueryParamOr(req, "type", "text"));
                 request.set_payload(*std::move(payload));
                 grpc::ClientContext context;
                 SetDeadline(&context, kTellTimeout);
                 v1::TellResponse response;
                 grpc::Status status = messaging->Tell(&context, request, &response);
                 if (!status.ok()) return SetError(res, FromGrpcStatus(status));
                 v1::HttpAccepted accepted;
                 accepted.set_status("accepted");
                 SetJson(res, accepted, 202);
               });
}

}  // namespace troupe::http
