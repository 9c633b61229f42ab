// gateway.cc - see gateway.h: the server, its checks before any route
// (refusal, token, sizes), the errors of unrouted requests, and the service
// routes (health, readiness, convention).
#include "daemon/http/gateway.h"

#include <openssl/crypto.h>
#include <sys/socket.h>

#include <random>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "daemon/common/strings.h"
#include "daemon/http/connection_pool.h"
#include "daemon/http/gateway_impl.h"
#include "daemon/http/http_errors.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/create_channel.h"
#include "proto/grpc_status.h"

namespace troupe::http {
namespace {

// Requests one keep-alive connection may carry before it is closed.
constexpr size_t kKeepAliveRequests = 10000;

// The routes anyone may call (probes have no token).
bool IsHealthRoute(const std::string& path) { return path == "/healthz" || path == "/readyz"; }

// Whether the request carries "Authorization: Bearer <token>" (compared in
// constant time).
bool HasToken(const httplib::Request& req, const std::string& token) {
  const std::string header = req.get_header_value("Authorization");
  const std::string kBearer = "Bearer ";
  if (token.empty() || header.size() != kBearer.size() + token.size() ||
      header.rfind(kBearer, 0) != 0) {
    return false;
  }
  return CRYPTO_memcmp(header.data() + kBearer.size(), token.data(), token.size()) == 0;
}

std::string RandomPrefix() {
  std::random_device random;
  return troupe::StrCat(absl::Hex(random(), absl::kZeroPad8), absl::Hex(random(), absl::kZeroPad8));
}

}  // namespace

Gateway::Impl::Impl(GatewayOptions o)
    : options(std::move(o)),
      executions(RandomPrefix(), options.execution_ttl, options.executions_kept) {}

void Gateway::Impl::SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

absl::StatusOr<std::shared_ptr<Client>> Gateway::Impl::AskClient() {
  std::shared_ptr<Client> lost;  // closed outside the lock, after it
  troupe::MutexLock lock(&mu);
  if (stopping) return absl::UnavailableError("troupe-http is stopping");
  if (ask_client != nullptr && !ask_client_lost->load()) return ask_client;
  lost = std::move(ask_client);
  // Connecting waits for the daemon's hello (at most connect_timeout):
  // rare, and the requests that need it wait for it anyway.
  absl::StatusOr<std::unique_ptr<Client>> connected = Client::Connect(options.socket_path);
  if (!connected.ok()) return connected.status();
  ask_client = *std::move(connected);
  ask_client_lost = std::make_shared<std::atomic<bool>>(false);
  ask_client->Subscribe(nullptr, [flag = ask_client_lost](absl::Status) { flag->store(true); });
  return ask_client;
}

void SetJson(httplib::Response& res, const google::protobuf::Message& message, int http_status) {
  std::string out;
  google::protobuf::util::JsonPrintOptions print;
  print.always_print_primitive_fields = true;
  if (!google::protobuf::util::MessageToJsonString(message, &out, print).ok()) {
    SetError(res, absl::InternalError("cannot write the answer as JSON"));
    return;
  }
  res.status = http_status;
  res.set_content(out + "\n", "application/json");
}

absl::Status ParseJsonBody(const httplib::Request& req, google::protobuf::Message* out) {
  google::protobuf::util::JsonParseOptions parse;  // unknown fields are errors
  auto status = google::protobuf::util::JsonStringToMessage(req.body, out, parse);
  if (!status.ok()) {
    return absl::InvalidArgumentError(troupe::StrCat(
        "the body is not a valid ", out->GetDescriptor()->name(), " JSON object: ",
        std::string(status.message())));
  }
  return absl::OkStatus();
}

bool QueryParam(const httplib::Request& req, const std::string& name, std::string* value) {
  const size_t question = req.target.find('?');
  if (question == std::string::npos) return false;
  httplib::Params query;
  httplib::detail::parse_query_text(req.target.substr(question + 1), query);
  auto it = query.find(name);
  if (it == query.end()) return false;
  *value = it->second;
  return true;
}

std::string QueryParamOr(const httplib::Request& req, const std::string& name,
                         const std::string& fallback) {
  std::string value;
  return QueryParam(req, name, &value) ? value : fallback;
}

std::string ActorInPath(const httplib::Request& req) { return req.matches[1].str(); }

namespace {

// Makes httplib close the connection once `res` is written: its body comes
// from a provider that reports failure after writing it. For refusals made
// before the request's body was read (that body would be taken for the next
// request), and on the refusal thread (which must not wait for a next one).
void CloseAfterAnswer(httplib::Response& res) {
  auto body = std::make_shared<std::string>(std::move(res.body));
  res.body.clear();
  res.set_header("Connection", "close");
  res.set_content_provider(body->size(), "application/json",
                           [body](size_t, size_t, httplib::DataSink& sink) {
                             sink.write(body->data(), body->size());
                             return false;
                           });
}

bool HasBody(const httplib::Request& req) {
  return req.has_header("Transfer-Encoding") ||
         (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
}

}  // namespace

bool Gateway::Impl::Refused(const httplib::Request& req, httplib::Response& res) const {
  if (ConnectionPool::Refusing()) {
    SetError(res, 503,
             absl::UnavailableError(troupe::StrCat(
                 "the HTTP API is serving http_max_connections (", options.max_connections,
                 ") connections and as many wait; try again later")));
    CloseAfterAnswer(res);
    return true;
  }
  if (IsHealthRoute(req.path)) return false;
  if (!HasToken(req, options.token)) {
    SetError(res, absl::UnauthenticatedError("send the daemon's client token (keys/client.token) "
                                             "as 'Authorization: Bearer <token>'"));
    if (HasBody(req)) CloseAfterAnswer(res);
    return true;
  }
  const bool bundle = req.path == "/v1/bundles";
  if (req.method != "POST") {
    if (!HasBody(req)) return false;
    SetError(res, 400, absl::InvalidArgumentError(troupe::StrCat(
                           req.method, " ", troupe::Quoted(req.path), " takes no body")));
    CloseAfterAnswer(res);
    return true;
  }
  // The body must say its size (bundles may stream, chunked) and fit, before
  // it is read.
  uint64_t length = 0;
  const bool has_length = req.has_header("Content-Length") &&
                          absl::SimpleAtoi(req.get_header_value("Content-Length"), &length);
  if (!bundle && (!has_length || req.has_header("Transfer-Encoding"))) {
    SetError(res, 411, absl::InvalidArgumentError(
                           "send the body with a Content-Length (and no Transfer-Encoding)"));
    CloseAfterAnswer(res);
    return true;
  }
  const uint64_t limit = bundle ? options.max_bundle_bytes : options.max_message_bytes;
  if (has_length && length > limit) {
    SetError(res, 413,
             absl::ResourceExhaustedError(troupe::StrCat(
                 "the body has ", length, " bytes; the limit is ",
                 bundle ? "the bundle file limit, max_total_bytes" : "max_message_bytes", " (",
                 limit, ")")));
    CloseAfterAnswer(res);
    return true;
  }
  return false;
}

void Gateway::Impl::AddServiceRoutes() {
  server->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\"}\n", "application/json");
  });
  // Ready once the daemon answers: troupd starts troupe-http after restoring
  // its bundles (when it sends READY=1), so this also says "restored".
  server->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    grpc::ClientContext context;
    SetDeadline(&context, absl::Seconds(2));
    v1::ListRequest request;
    v1::ListResponse response;
    grpc::Status status = admin->List(&context, request, &response);
    if (!status.ok()) {
      SetError(res, 503,
               absl::UnavailableError(troupe::StrCat("troupd does not answer on ",
                                                     options.socket_path, ": ",
                                                     status.error_message())));
      return;
    }
    res.set_content("{\"status\":\"ready\"}\n", "application/json");
  });
  server->Get("/v1/convention", [this](const httplib::Request&, httplib::Response& res) {
    grpc::ClientContext context;
    SetDeadline(&context, absl::Seconds(10));
    v1::ConventionStatusResponse response;
    grpc::Status status = admin->ConventionStatus(&context, {}, &response);
    if (!status.ok()) return SetError(res, FromGrpcStatus(status));
    SetJson(res, response);
  });
}

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Create(GatewayOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  Impl& g = *impl;
  g.channel = grpc::CreateChannel("unix:" + g.options.socket_path,
                                  grpc::InsecureChannelCredentials());
  g.admin = v1::Admin::NewStub(g.channel);
  g.messaging = v1::Messaging::NewStub(g.channel);
  if (!g.options.tls_cert_path.empty()) {
    g.server = std::make_unique<httplib::SSLServer>(g.options.tls_cert_path.c_str(),
                                                    g.options.tls_key_path.c_str());
    if (!g.server->is_valid()) {
      return absl::InvalidArgumentError(troupe::StrCat(
          "cannot serve HTTPS with certificate ", g.options.tls_cert_path, " and key ",
          g.options.tls_key_path, " (unreadable, or not a matching PEM pair)"));
    }
  } else {
    g.server = std::make_unique<httplib::Server>();
  }
  httplib::Server& server = *g.server;
  const size_t connections = g.options.max_connections;
  server.new_task_queue = [connections] { return new ConnectionPool(connections); };
  // httplib listens with a backlog of 5: a burst of new connections on a
  // busy host overflows it (SYN cookies, dropped connections). Bind raises
  // it on the socket recorded here.
  // Only SO_REUSEADDR (httplib's default adds SO_REUSEPORT, which would let
  // a second process bind the same port and take half the connections).
  server.set_socket_options([&g](socket_t sock) {
    const int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    g.listen_fd = sock;
  });
  const int64_t read_ms = absl::ToInt64Milliseconds(g.options.read_timeout);
  server.set_read_timeout(std::chrono::milliseconds(read_ms));
  // Headers and body go out in separate writes: without TCP_NODELAY, Nagle's
  // algorithm and the client's delayed ACK hold each answer for ~40 ms.
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(kKeepAliveRequests);
  server.set_keep_alive_timeout(std::max<int64_t>(1, read_ms / 1000));
  server.set_write_timeout(std::chrono::milliseconds(read_ms));
  server.set_payload_max_length(std::max(g.options.max_bundle_bytes, g.options.max_message_bytes));

  server.set_pre_routing_handler([&g](const httplib::Request& req, httplib::Response& res) {
    return g.Refused(req, res) ? httplib::Server::HandlerResponse::Handled
                               : httplib::Server::HandlerResponse::Unhandled;
  });
  // "Expect: 100-continue": the same checks before the client sends its body.
  server.set_expect_100_continue_handler(
      [&g](const httplib::Request& req, httplib::Response& res) {
        return g.Refused(req, res) ? res.status : 100;
      });
  // Errors httplib answers itself (no route, a body over the limit, a
  // malformed request) get a JSON body too.
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty() || res.content_length_ > 0) return;  // answered already
    if (res.status == 404) {
      SetError(res, 404, absl::NotFoundError(troupe::StrCat("no route ", req.method, " ",
                                                            troupe::Quoted(req.path))));
    } else if (res.status == 413) {
      SetError(res, 413, absl::ResourceExhaustedError("the body is over the size limit"));
    } else {
      SetError(res, res.status,
               absl::InvalidArgumentError(troupe::StrCat("HTTP status ", res.status)));
    }
  });
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        SetError(res, absl::InternalError("the request failed inside troupe-http"));
      });
  g.AddServiceRoutes();
  g.AddBundleRoutes();
  g.AddActorRoutes();
  g.AddExecutionRoutes();
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Gateway::~Gateway() { Stop(); }

absl::StatusOr<int> Gateway::Bind(const std::string& host, int port) {
  int bound = 0;
  if (port == 0) {
    bound = impl_->server->bind_to_any_port(host);
  } else if (impl_->server->bind_to_port(host, port)) {
    bound = port;
  }
  if (bound > 0) {
    // Listening again on a listening socket sets its backlog (Linux).
    if (impl_->listen_fd >= 0) ::listen(impl_->listen_fd, SOMAXCONN);
    return bound;
  }
  return absl::UnavailableError(troupe::StrCat("cannot listen on ", host, ":", port, ": ",
                                               std::strerror(errno)));
}

void Gateway::Serve() {
  {
    troupe::MutexLock lock(&impl_->mu);
    if (impl_->stopping) return;
  }
  // A Stop between the check and httplib's start shuts the listening socket
  // down, which ends the accept loop at once.
  impl_->server->listen_after_bind();
}

void Gateway::Stop() {
  {
    troupe::MutexLock lock(&impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
  }
  impl_->server->stop();
  if (impl_->listen_fd >= 0) ::shutdown(impl_->listen_fd, SHUT_RDWR);
  // The asks in flight end now (CANCELLED: their executions are recorded as
  // failed); outside the lock, as their callbacks may run on this thread.
  std::shared_ptr<Client> client;
  {
    troupe::MutexLock lock(&impl_->mu);
    client = std::move(impl_->ask_client);
  }
  if (client != nullptr) (void)client->Close(absl::Seconds(1));
}

}  // namespace troupe::http
