// client.cc - troupe::Client: the channel, Connect's checks and messages, the
// unary calls; the stream lives in message_stream.{h,cc}.
#include "troupe/client.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <thread>
#include <utility>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "daemon/common/polite_spin.h"
#include "proto/grpc_status.h"
#include "sdk/client/message_stream.h"
#include "sdk/client/target.h"
#include "troupe/v1/admin.grpc.pb.h"
#include "troupe/v1/messaging.grpc.pb.h"

namespace troupe {

using client_internal::MessageStream;
using client_internal::Target;

namespace {

constexpr absl::Duration kLongest = absl::Hours(24 * 365);

std::string AsString(std::string_view text) { return std::string(text.data(), text.size()); }

// The first line of a protobuf parser message, without a final period.
std::string FirstLine(std::string_view message) {
  std::string why = AsString(message.substr(0, message.find_first_of("\r\n")));
  while (!why.empty() && (why.back() == ' ' || why.back() == '.')) why.pop_back();
  return why;
}

// `json`, a JSON array of requirements as in a manifest, into `out` (the
// wire form). Empty text (or only white space): none. InvalidArgument for
// anything else, naming the problem; the daemon checks the rest (a
// requirement without capability or condition).
absl::Status ParseRequirements(std::string_view json,
                               google::protobuf::RepeatedPtrField<v1::Requirement>* out) {
  if (json.find_first_not_of(" \t\r\n") == std::string_view::npos) return absl::OkStatus();
  google::protobuf::ListValue array;  // its JSON form is exactly a JSON array
  if (!google::protobuf::util::JsonStringToMessage(AsString(json), &array).ok()) {
    return absl::InvalidArgumentError(
        "requirements: not a JSON array of requirements as in a manifest (e.g. "
        "[{\"capability\": \"gpu\", \"equals\": true}])");
  }
  // An array, so the wrapper holds exactly it.
  v1::ActorSpec spec;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto parsed = google::protobuf::util::JsonStringToMessage(
      absl::StrCat("{\"requirements\": ", AsString(json), "}"), &spec, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "requirements: not requirements as in a manifest: ",
        FirstLine({parsed.message().data(), parsed.message().size()})));
  }
  out->Swap(spec.mutable_requirements());
  return absl::OkStatus();
}

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      absl::ToChronoNanoseconds(std::clamp(d, absl::ZeroDuration(), kLongest)));
}

// `tls_root_certificates`: PEM text; empty for a plain connection.
std::shared_ptr<grpc::Channel> MakeChannel(const Target& target,
                                          const std::string& tls_root_certificates) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // the daemon enforces its own limit
  args.SetMaxSendMessageSize(-1);
  // One connection per Client, as client.h promises, even to the same target.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // Notice a daemon that starts while Connect waits within ~100 ms.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!target.unix_socket && !tls_root_certificates.empty()) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = tls_root_certificates;
    credentials = grpc::SslCredentials(tls);
  }
  return grpc::CreateCustomChannel(target.grpc_target, credentials, args);
}

// Why Connect found nobody at `target`, and what to do about it.
absl::Status NobodyAnswered(const Target& target, absl::Duration waited) {
  const std::string hint = "is troupd running? start it with `director start`";
  const std::string wait = absl::FormatDuration(waited);
  if (target.unix_socket) {
    struct stat st;
    if (::stat(target.socket_path.c_str(), &st) != 0 && errno == ENOENT) {
      return absl::UnavailableError(absl::StrCat("cannot connect to troupd at ", target.display,
                                                 ": no socket there (waited ", wait, "); ", hint));
    }
    return absl::UnavailableError(absl::StrCat("cannot connect to troupd at ", target.display,
                                               ": nothing answered within ", wait, "; ", hint));
  }
  return absl::UnavailableError(absl::StrCat("cannot connect to troupd at ", target.display,
                                             ": nothing answered within ", wait, "; ", hint,
                                             " (with listen_tcp set, for TCP clients)"));
}

}  // namespace

struct Client::Impl {
  Target target;
  std::string token;            // sent on TCP only; empty: none
  absl::Duration call_timeout;  // of the unary calls (Options::call_timeout)
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Messaging::Stub> messaging;
  std::unique_ptr<v1::Admin::Stub> admin;
  troupe::PoliteSpin spin;                // Ask's wait for the reply
  std::unique_ptr<MessageStream> stream;  // last: closed first

  // Sets the deadline and the token of a unary call.
  void Prepare(grpc::ClientContext* context) const {
    context->set_deadline(std::chrono::system_clock::now() + ToChrono(call_timeout));
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  }
  // The call's status as an absl::Status, naming the daemon when it is gone.
  absl::Status Check(const grpc::Status& status) const {
    absl::Status converted = FromGrpcStatus(status);
    if (converted.code() != absl::StatusCode::kUnavailable) return converted;
    return absl::UnavailableError(
        absl::StrCat("cannot reach troupd at ", target.display, ": ", converted.message()));
  }
};

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(std::string_view target_text,
                                                        Options options) {
  absl::StatusOr<Target> target = client_internal::ParseTarget(target_text);
  if (!target.ok()) return target.status();
  const auto steady_deadline = std::chrono::steady_clock::now() + ToChrono(options.connect_timeout);
  const auto wall_deadline = std::chrono::system_clock::now() + ToChrono(options.connect_timeout);

  auto impl = std::make_unique<Impl>();
  impl->target = *std::move(target);
  impl->call_timeout = options.call_timeout;
  if (!impl->target.unix_socket) {
    // As read from keys/client.token: surrounding white space is not part of
    // it. Anything else outside printable ASCII cannot travel as metadata.
    std::string_view token = options.token;
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) {
      token.remove_suffix(1);
    }
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.front()))) {
      token.remove_prefix(1);
    }
    for (char c : token) {
      if (c < 0x21 || c > 0x7e) {
        return absl::InvalidArgumentError(
            "the client token holds a character that is not printable ASCII; use the contents "
            "of the daemon's keys/client.token");
      }
    }
    impl->token = std::string(token);
  }
  impl->channel = MakeChannel(impl->target, options.tls_root_certificates);
  if (!impl->channel->WaitForConnected(wall_deadline)) {
    return NobodyAnswered(impl->target, options.connect_timeout);
  }
  impl->messaging = v1::Messaging::NewStub(impl->channel);
  impl->admin = v1::Admin::NewStub(impl->channel);
  absl::StatusOr<std::unique_ptr<MessageStream>> stream =
      MessageStream::Open(impl->channel, impl->target.display, impl->token, steady_deadline);
  if (!stream.ok()) return stream.status();
  impl->stream = *std::move(stream);
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(std::string_view target) {
  return Connect(target, Options());
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() = default;

const std::string& Client::address() const { return impl_->stream->address(); }

absl::Status Client::Tell(std::string_view to, Message message) {
  return impl_->stream->Tell(to, std::move(message));
}

namespace {
constexpr std::chrono::microseconds kAskSpin(200);
constexpr int kAskSpinRounds = 1000;
}  // namespace

absl::StatusOr<Client::Message> Client::Ask(std::string_view to, Message message,
                                            absl::Duration timeout) {
  if (impl_->stream->OnClientThread()) {
    return absl::FailedPreconditionError(
        "Client::Ask called from a client callback would wait for itself; use AskAsync there");
  }
  std::future<absl::StatusOr<Message>> reply = AskAsync(to, std::move(message), timeout);
  // A reply on a local daemon often comes within tens of microseconds: look
  // for it a while before sleeping, which saves this thread's wake-up, unless
  // the host is busy (daemon/common/polite_spin.h).
  impl_->spin.Spin(kAskSpinRounds, kAskSpin, [&reply] {
    return reply.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  });
  return reply.get();
}

std::future<absl::StatusOr<Client::Message>> Client::AskAsync(std::string_view to,
                                                              Message message,
                                                              absl::Duration timeout) {
  MessageStream::Promise promise;
  std::future<absl::StatusOr<Message>> future = promise.get_future();
  impl_->stream->Ask(to, std::move(message), timeout, std::move(promise));
  return future;
}

void Client::AskAsync(std::string_view to, Message message, absl::Duration timeout,
                      std::function<void(absl::StatusOr<Message>)> done) {
  impl_->stream->Ask(to, std::move(message), timeout, MessageStream::Callback(std::move(done)));
}

absl::StatusOr<std::string> Client::CreateActor(std::string_view group, std::string_view class_name,
                                                std::string_view requirements_json,
                                                std::string_view global_name) {
  v1::CreateActorRequest request;
  if (absl::Status parsed = ParseRequirements(requirements_json, request.mutable_requirements());
      !parsed.ok()) {
    return parsed;
  }
  if (absl::Status health = impl_->stream->health(); !health.ok()) return health;
  request.set_group(AsString(group));
  request.set_class_name(AsString(class_name));
  request.set_global_name(AsString(global_name));
  v1::CreateActorResponse response;
  grpc::ClientContext context;
  impl_->Prepare(&context);
  absl::Status status = impl_->Check(impl_->messaging->CreateActor(&context, request, &response));
  if (!status.ok()) return status;
  return std::move(*response.mutable_address());
}

absl::StatusOr<std::string> Client::Lookup(std::string_view global_name) {
  if (absl::Status health = impl_->stream->health(); !health.ok()) return health;
  v1::LookupRequest request;
  request.set_global_name(AsString(global_name));
  v1::LookupResponse response;
  grpc::ClientContext context;
  impl_->Prepare(&context);
  absl::Status status = impl_->Check(impl_->messaging->Lookup(&context, request, &response));
  if (!status.ok()) return status;
  return std::move(*response.mutable_address());
}

absl::StatusOr<std::vector<std::string>> Client::Role(std::string_view role,
                                                      std::string_view group) {
  if (absl::Status health = impl_->stream->health(); !health.ok()) return health;
  v1::RoleRequest request;
  request.set_role(AsString(role));
  request.set_group(AsString(group));
  v1::RoleResponse response;
  grpc::ClientContext context;
  impl_->Prepare(&context);
  absl::Status status = impl_->Check(impl_->admin->Role(&context, request, &response));
  if (!status.ok()) return status;
  std::vector<std::string> addresses;
  addresses.reserve(response.actors_size());
  for (v1::ManagedActor& actor : *response.mutable_actors()) {
    addresses.push_back(std::move(*actor.mutable_address()));
  }
  return addresses;
}

absl::StatusOr<std::string> Client::Capabilities() {
  if (absl::Status health = impl_->stream->health(); !health.ok()) return health;
  v1::GetCapabilitiesResponse response;
  grpc::ClientContext context;
  impl_->Prepare(&context);
  absl::Status status =
      impl_->Check(impl_->admin->GetCapabilities(&context, v1::GetCapabilitiesRequest(), &response));
  if (!status.ok()) return status;
  return std::move(*response.mutable_json());
}

absl::Status Client::SetCapability(std::string_view name, std::string_view value_json) {
  if (absl::Status health = impl_->stream->health(); !health.ok()) return health;
  v1::SetCapabilityRequest request;
  request.set_name(AsString(name));
  request.set_value_json(AsString(value_json));
  v1::SetCapabilityResponse response;
  grpc::ClientContext context;
  impl_->Prepare(&context);
  return impl_->Check(impl_->admin->SetCapability(&context, request, &response));
}

void Client::Subscribe(std::function<void(Message)> on_message,
                       std::function<void(absl::Status)> on_error) {
  impl_->stream->Subscribe(std::move(on_message), std::move(on_error));
}

uint64_t Client::tell_errors() const { return impl_->stream->tell_errors(); }

absl::Status Client::Close(absl::Duration timeout) { return impl_->stream->Close(timeout); }

}  // namespace troupe
