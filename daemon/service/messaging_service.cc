// messaging_service.cc - the unary calls; the stream is client_stream.cc.
#include "daemon/service/messaging_service.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "daemon/service/client_stream.h"
#include "daemon/service/grpc_status.h"
#include "daemon/service/message_checks.h"
#include "daemon/service/request_bytes.h"

namespace troupe::service {
namespace {

constexpr absl::Duration kDefaultAskTimeout = absl::Seconds(30);

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context, const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}
grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context, const absl::Status& status) {
  return Done(context, ToGrpcStatus(status));
}

// Finishes with `status`, or with `response` written to `bytes` when OK.
grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context, const absl::Status& status,
                                 const google::protobuf::Message& response,
                                 grpc::ByteBuffer* bytes) {
  if (!status.ok()) return Done(context, status);
  return Done(context, SerializeResponse(response, bytes));
}

// Finishes with `address` as a `Response`'s address (CreateActor, Lookup),
// or with its error.
template <typename Response>
grpc::ServerUnaryReactor* AnswerAddress(grpc::CallbackServerContext* context,
                                        absl::StatusOr<std::string> address,
                                        grpc::ByteBuffer* bytes) {
  Response response;
  if (address.ok()) response.set_address(*std::move(address));
  return Answer(context, address.status(), response, bytes);
}

// The ask's timeout: the request's, bounded by the call's deadline.
absl::Duration AskTimeout(const grpc::CallbackServerContext& context, uint32_t timeout_ms) {
  absl::Duration timeout = timeout_ms == 0 ? kDefaultAskTimeout : absl::Milliseconds(timeout_ms);
  const auto deadline = context.deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    absl::Duration left = absl::FromChrono(deadline - std::chrono::system_clock::now());
    if (left < timeout) timeout = left;
  }
  return timeout < absl::ZeroDuration() ? absl::ZeroDuration() : timeout;
}

// One unary Ask: finishes with the reply or error, and cancels the ask when
// the client goes away (instead of holding it until its deadline). Deletes
// itself when gRPC is done with it.
class UnaryAsk final : public grpc::ServerUnaryReactor {
 public:
  // `response` receives an AskResponse's bytes.
  UnaryAsk(AskRouter* asks, std::string to, grpc::ByteBuffer* response, CallCounter* calls)
      : asks_(asks), to_(std::move(to)), response_(response), calls_(calls) {
    calls_->Add();
  }

  void Start(runtime::Message message, absl::Duration timeout) {
    // The callback runs exactly once, maybe before Ask returns; Finish is
    // called once, from it. The reactor lives until OnDone, after Finish.
    AskRouter::Handle handle =
        asks_->Ask(to_, std::move(message), timeout, [this](absl::StatusOr<AskReply> reply) {
          if (!reply.ok()) {
            Finish(ToGrpcStatus(BoundInputInError(reply.status(), to_)));
            return;
          }
          v1::AskResponse response;
          response.set_type(std::string(reply->message.type()));
          response.set_payload(std::string(reply->message.payload()));
          response.set_from(std::move(reply->from));
          Finish(ToGrpcStatus(SerializeResponse(response, response_)));
        });
    {
      std::lock_guard<std::mutex> lock(mu_);
      handle_ = std::move(handle);
      if (cancelled_) asks_->Cancel(handle_);
    }
    Release();
  }
  void OnCancel() override {
    AskRouter::Handle handle;
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
      handle = handle_;
    }
    asks_->Cancel(handle);
  }
  void OnDone() override { Release(); }

 private:
  // Start and gRPC (OnDone) each hold one reference: the answer may finish
  // the call, and OnDone may run, before Start has returned.
  void Release() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      CallCounter* calls = calls_;
      delete this;
      calls->Remove();
    }
  }

  std::atomic<int> refs_{2};
  AskRouter* const asks_;
  const std::string to_;
  grpc::ByteBuffer* const response_;
  CallCounter* const calls_;
  std::mutex mu_;
  AskRouter::Handle handle_;  // guarded by mu_
  bool cancelled_ = false;    // guarded by mu_
};

}  // namespace

MessagingService::MessagingService(runtime::ActorSystem* system, hosting::BundleHost* host,
                                   AskRouter* asks, const ClientAuth* auth,
                                   uint64_t max_payload_bytes)
    : system_(system),
      host_(host),
      asks_(asks),
      auth_(auth),
      max_payload_bytes_(max_payload_bytes) {}

size_t MessagingService::MessageRequestLimit() const {
  return max_payload_bytes_ + kMaxAddressAndTypeBytes;
}

grpc::ServerUnaryReactor* MessagingService::Tell(grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* request_bytes,
                                                 grpc::ByteBuffer* response_bytes) {
  if (grpc::Status allowed = auth_->Check(*context); !allowed.ok()) return Done(context, allowed);
  v1::TellRequest request;
  absl::Status parsed = ParseRequest(*request_bytes, &request, MessageRequestLimit());
  if (!parsed.ok()) return Done(context, parsed);
  return Answer(context, TellParsed(request), v1::TellResponse(), response_bytes);
}

absl::Status MessagingService::TellParsed(const v1::TellRequest& request) {
  absl::Status valid = CheckMessage(request.type(), request.payload().size(), max_payload_bytes_);
  if (!valid.ok()) return valid;
  return SendTo(*system_, request.to(), runtime::Message::Make(request.type(), request.payload()),
                {}, &names_);
}

grpc::ServerUnaryReactor* MessagingService::Ask(grpc::CallbackServerContext* context,
                                                const grpc::ByteBuffer* request_bytes,
                                                grpc::ByteBuffer* response_bytes) {
  if (grpc::Status allowed = auth_->Check(*context); !allowed.ok()) return Done(context, allowed);
  v1::AskRequest request;
  absl::Status parsed = ParseRequest(*request_bytes, &request, MessageRequestLimit());
  if (!parsed.ok()) return Done(context, parsed);
  return AskParsed(context, request, response_bytes);
}

grpc::ServerUnaryReactor* MessagingService::AskParsed(grpc::CallbackServerContext* context,
                                                      const v1::AskRequest& request,
                                                      grpc::ByteBuffer* response) {
  absl::Status valid = CheckMessage(request.type(), request.payload().size(), max_payload_bytes_);
  if (!valid.ok()) return Done(context, valid);
  auto* reactor = new UnaryAsk(asks_, request.to(), response, &open_asks_);
  reactor->Start(runtime::Message::Make(request.type(), request.payload()),
                 AskTimeout(*context, request.timeout_ms()));
  return reactor;
}

grpc::ServerUnaryReactor* MessagingService::CreateActor(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request_bytes,
                                                        grpc::ByteBuffer* response_bytes) {
  if (grpc::Status allowed = auth_->Check(*context); !allowed.ok()) return Done(context, allowed);
  v1::CreateActorRequest request;
  absl::Status parsed = ParseRequest(*request_bytes, &request, kMaxSmallRequestBytes);
  if (!parsed.ok()) return Done(context, parsed);
  return AnswerAddress<v1::CreateActorResponse>(context, CreateParsed(request), response_bytes);
}

absl::StatusOr<std::string> MessagingService::CreateParsed(const v1::CreateActorRequest& request) {
  // A global name is claimed convention-wide around the create (the leader
  // is asked on this gRPC thread, as a placement waits for its peer).
  absl::StatusOr<std::string> address =
      !request.global_name().empty() && names_.create
          ? names_.create(request.global_name(), [&]() { return CreateHereOrElsewhere(request); })
          : CreateHereOrElsewhere(request);
  if (address.ok()) return address;
  // The host and the convention name what they were given in full.
  absl::Status problem = address.status();
  for (const std::string* input :
       {&request.group(), &request.class_name(), &request.global_name()}) {
    problem = BoundInputInError(std::move(problem), *input);
  }
  return problem;
}

absl::StatusOr<std::string> MessagingService::CreateHereOrElsewhere(
    const v1::CreateActorRequest& request) {
  runtime::CreateOptions options;
  options.requirements_json = request.requirements_json();
  options.global_name = request.global_name();
  absl::StatusOr<runtime::ActorRef> actor =
      host_->CreateActor(request.group(), request.class_name(), options);
  if (actor.ok()) return system_->FormatAddress(actor->get());
  // Local first; when this daemon does not fit (or lacks the group), another
  // member may. The placement waits for the peer's answer on this gRPC
  // thread (bounded by the convention's place timeout).
  // NotFound goes elsewhere only for a group this daemon does not have (an
  // unknown class of a group it has is unknown everywhere).
  const bool may_go_elsewhere =
      actor.status().code() == absl::StatusCode::kFailedPrecondition ||
      (actor.status().code() == absl::StatusCode::kNotFound &&
       host_->List(request.group()).empty());
  if (!place_elsewhere_ || !may_go_elsewhere) return actor.status();
  return place_elsewhere_(request, actor.status());
}

grpc::ServerUnaryReactor* MessagingService::Lookup(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* request_bytes,
                                                   grpc::ByteBuffer* response_bytes) {
  if (grpc::Status allowed = auth_->Check(*context); !allowed.ok()) return Done(context, allowed);
  v1::LookupRequest request;
  absl::Status parsed = ParseRequest(*request_bytes, &request, kMaxSmallRequestBytes);
  if (!parsed.ok()) return Done(context, parsed);
  return AnswerAddress<v1::LookupResponse>(context, LookupParsed(request), response_bytes);
}

absl::StatusOr<std::string> MessagingService::LookupParsed(const v1::LookupRequest& request) {
  if (request.global_name().empty()) {
    return absl::InvalidArgumentError("lookup needs a global name");
  }
  absl::StatusOr<runtime::ActorRef> actor =
      ResolveTarget(*system_, request.global_name(), &names_);
  if (!actor.ok()) return actor.status();
  return system_->FormatAddress(actor->get());
}

bool MessagingService::WaitForCallsToEnd(absl::Time deadline) {
  return open_streams_.WaitForZero(deadline) && open_asks_.WaitForZero(deadline);
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* MessagingService::Connect(
    grpc::CallbackServerContext* context) {
  StreamDeps deps{system_,         asks_,   auth_, max_payload_bytes_,
                  &open_streams_, &names_, &peak_queued_frames_};
  return new ClientStream(deps, context);
}

}  // namespace troupe::service
