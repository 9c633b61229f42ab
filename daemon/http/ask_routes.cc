// ask_routes.cc - POST /v1/actors/{actor}/ask (synchronous: the reply is the
// response) and the asynchronous executions: POST
// /v1/actors/{actor}/executions, GET /v1/executions/{id}. Asks travel on
// the daemon's message stream (troupe::Client: one long-lived stream,
// batched, answered by id), not as unary calls: one hop less per ask.
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "daemon/common/strings.h"
#include "daemon/http/gateway_impl.h"
#include "daemon/http/http_errors.h"
#include "daemon/http/message_body.h"
#include "troupe/system_messages.h"
#include "troupe/v1/http.pb.h"

namespace troupe::http {
namespace {

constexpr absl::Duration kDefaultAskTimeout = absl::Seconds(30);
constexpr absl::Duration kMaxAskTimeout = absl::Minutes(10);

// ?timeout=: "500ms", "2s", "1m", or a number of seconds; at most 10 minutes.
absl::StatusOr<absl::Duration> AskTimeout(const httplib::Request& req) {
  std::string text;
  if (!QueryParam(req, "timeout", &text)) return kDefaultAskTimeout;
  absl::Duration timeout;
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds)) {
    timeout = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, &timeout)) {
    return absl::InvalidArgumentError(troupe::StrCat(
        "?timeout=", troupe::Quoted(text), " is not a duration (say 500ms, 2s, 1m or 2.5)"));
  }
  if (timeout <= absl::ZeroDuration() || timeout > kMaxAskTimeout) {
    return absl::InvalidArgumentError(troupe::StrCat(
        "?timeout=", troupe::Quoted(text), " is out of range: above 0 and at most 10m"));
  }
  return timeout;
}

// The message to ask with for `req`, or the error to answer.
absl::StatusOr<Client::Message> AskMessage(const httplib::Request& req) {
  absl::StatusOr<std::string> payload =
      PayloadFromBody(req.get_header_value("Content-Type"), req.body);
  if (!payload.ok()) return payload.status();
  return Client::Message{QueryParamOr(req, "type", "text"),
                         *std::move(payload), ""};
}

// The error text of a PoisonMessage reply: the actor failed on the message.
std::string FailureText(const std::string& to, const std::string& type,
                        const Client::Message& reply) {
  std::optional<PoisonMessage> poison = PoisonMessage::DecodePayload(reply.payload);
  const std::string why = poison ? poison->error : "(no reason given)";
  return troupe::StrCat("actor ", troupe::Quoted(to), " failed on message ", troupe::Quoted(type),
                        ": ", why);
}

bool IsFailure(const Client::Message& reply) { return reply.type == PoisonMessage::kTypeName; }

}  // namespace

void SetBodyError(httplib::Response& res, const absl::Status& status) {
  // An unsupported Content-Type is 415, a body that is not what it says 400.
  SetError(res, status.code() == absl::StatusCode::kUnimplemented ? 415 : 400,
           status.code() == absl::StatusCode::kUnimplemented
               ? absl::InvalidArgumentError(status.message())
               : status);
}

void Gateway::Impl::AddExecutionRoutes() {
  server->Post("/v1/actors/(.+)/ask", [this](const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<absl::Duration> timeout = AskTimeout(req);
    if (!timeout.ok()) return SetError(res, timeout.status());
    absl::StatusOr<Client::Message> message = AskMessage(req);
    if (!message.ok()) return SetBodyError(res, message.status());
    absl::StatusOr<std::shared_ptr<Client>> client = AskClient();
    if (!client.ok()) return SetError(res, client.status());
    const std::string to = ActorInPath(req);
    const std::string type = message->type;
    absl::StatusOr<Client::Message> reply = (*client)->Ask(to, *std::move(message), *timeout);
    if (!reply.ok()) return SetError(res, reply.status());
    if (IsFailure(*reply)) {
      return SetError(res, 422, absl::AbortedError(FailureText(to, type, *reply)));
    }
    res.set_header(std::string(kMessageTypeHeader), reply->type);
    if (!reply->from.empty()) res.set_header("Troupe-Reply-From", reply->from);
    const std::string content_type = ContentTypeForReply(reply->type, reply->payload);
    res.set_content(std::move(reply->payload), content_type);
  });

  server->Post("/v1/actors/(.+)/executions",
               [this](const httplib::Request& req, httplib::Response& res) {
                 absl::StatusOr<absl::Duration> timeout = AskTimeout(req);
                 if (!timeout.ok()) return SetError(res, timeout.status());
                 absl::StatusOr<Client::Message> message = AskMessage(req);
                 if (!message.ok()) return SetBodyError(res, message.status());
                 StartExecution(ActorInPath(req), *std::move(message), *timeout, res);
               });

  server->Get("/v1/executions/(.+)", [this](const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<v1::HttpExecution> record = executions.Get(req.matches[1].str(), absl::Now());
    if (!record.ok()) {
      const bool expired = std::string(record.status().message())
                               .rfind(std::string(Executions::kExpired), 0) == 0;
      return SetError(res, expired ? 410 : 404, record.status());
    }
    SetJson(res, *record);
  });
}

void Gateway::Impl::StartExecution(const std::string& to, Client::Message message,
                                   absl::Duration timeout, httplib::Response& res) {
  absl::StatusOr<std::shared_ptr<Client>> client = AskClient();
  if (!client.ok()) return SetError(res, client.status());
  v1::HttpExecution record = executions.Start(to, message.type, absl::Now());
  const std::string type = message.type;
  // The callback runs on the client's reader thread: it only records.
  (*client)->AskAsync(
      to, std::move(message), timeout,
      [this, to, type, id = record.id()](absl::StatusOr<Client::Message> reply) {
        v1::HttpExecution fields;
        std::string outcome = "done";
        if (!reply.ok()) {
          outcome = absl::IsDeadlineExceeded(reply.status()) ? "timed_out" : "failed";
          fields.set_error(troupe::StrCat(absl::StatusCodeToString(reply.status().code()), ": ",
                                          reply.status().message()));
        } else if (IsFailure(*reply)) {
          outcome = "failed";
          fields.set_reply_type(reply->type);
          fields.set_error(FailureText(to, type, *reply));
        } else {
          fields.set_reply_type(reply->type);
          if (IsTextReply(reply->type, reply->payload)) {
            fields.set_result(reply->payload);
          } else {
            fields.set_result_bytes(reply->payload);
          }
        }
        executions.Finish(id, outcome, absl::Now(), fields);
      });
  SetJson(res, record, 202);
}

}  // namespace troupe::http
