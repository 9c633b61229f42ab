// messaging_service.cc - the unary calls; the stream is client_stream.cc.
#include "daemon/service/messaging_service.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "daemon/common/status_macros.h"
#include "daemon/hosting/requirements.h"
#include "daemon/service/client_stream.h"
#include "daemon/service/message_checks.h"
#include "daemon/service/request_bytes.h"
#include "proto/grpc_status.h"

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

// `status`, or OK with `response` written to `bytes` when `status` is OK.
grpc::Status Reply(const absl::Status& status, const google::protobuf::Message& response,
                   grpc::ByteBuffer* bytes) {
  if (!status.ok()) return ToGrpcStatus(status);
  return ToGrpcStatus(SerializeResponse(response, bytes));
}

// `address` as a `Response`'s address (CreateActor, Lookup), or its error.
template <typename Response>
grpc::Status AddressReply(absl::StatusOr<std::string> address, grpc::ByteBuffer* bytes) {
  Response response;
  if (address.ok()) response.set_address(*std::move(address));
  return Reply(address.status(), response, bytes);
}

// Finishes with `status`, or with `response` written to `bytes` when OK.
grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context, const absl::Status& status,
                                 const google::protobuf::Message& response,
                                 grpc::ByteBuffer* bytes) {
  return Done(context, Reply(status, response, bytes));
}

// The error of a create, with what the client gave cut short where the host
// or the convention repeats it in full.
absl::StatusOr<std::string> BoundCreateError(absl::StatusOr<std::string> address,
                                             const v1::CreateActorRequest& request) {
  if (address.ok()) return address;
  absl::Status problem = address.status();
  for (const std::string* input :
       {&request.group(), &request.class_name(), &request.global_name()}) {
    problem = BoundInputInError(std::move(problem), *input);
  }
  return problem;
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

  // Sends the ask (AskRouter::Ask, `names` as there). Start or Refuse is
  // called once, on any thread.
  void Start(runtime::Message message, absl::Duration timeout, const ConventionNames* names) {
    // The callback runs exactly once, maybe before Ask returns; Finish is
    // called once, from it. The reactor lives until OnDone, after Finish.
    AskRouter::Handle handle = asks_->Ask(
        to_, std::move(message), timeout,
        [this](absl::StatusOr<AskReply> reply) {
          if (!reply.ok()) {
            Finish(ToGrpcStatus(BoundInputInError(reply.status(), to_)));
            return;
          }
          v1::AskResponse response;
          response.set_type(std::string(reply->message.type()));
          response.set_payload(std::string(reply->message.payload()));
          response.set_from(std::move(reply->from));
          Finish(ToGrpcStatus(SerializeResponse(response, response_)));
        },
        names);
    {
      std::lock_guard<std::mutex> lock(mu_);
      handle_ = std::move(handle);
      if (cancelled_) asks_->Cancel(handle_);
    }
    Release();
  }
  // Ends the call with `status` without sending the ask.
  void Refuse(const absl::Status& status) {
    Finish(ToGrpcStatus(status));
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
                                   AskRouter* asks, BlockingCalls* blocking, const ClientAuth* auth,
                                   uint64_t max_payload_bytes)
    : system_(system),
      host_(host),
      asks_(asks),
      blocking_(blocking),
      auth_(auth),
      max_payload_bytes_(max_payload_bytes) {}

size_t MessagingService::MessageRequestLimit() const {
  return max_payload_bytes_ + kMaxAddressAndTypeBytes;
}

grpc::ServerUnaryReactor* MessagingService::Later(grpc::CallbackServerContext* context,
                                                  absl::AnyInvocable<grpc::Status()> call) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // The reactor may be finished from any thread; the call's context,
  // request and response live until it is.
  absl::Status queued = blocking_->Run(
      [context, reactor, call = std::move(call)](const absl::Status& admitted) mutable {
        if (!admitted.ok()) return reactor->Finish(ToGrpcStatus(admitted));
        // A client that went away while its call waited here gets nothing
        // made for it (no placement, no claim, no message sent).
        if (context->IsCancelled()) return reactor->Finish(grpc::Status::CANCELLED);
        reactor->Finish(call());
      });
  if (!queued.ok()) reactor->Finish(ToGrpcStatus(queued));
  return reactor;
}

grpc::ServerUnaryReactor* MessagingService::Tell(grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* request_bytes,
                                                 grpc::ByteBuffer* response_bytes) {
  if (grpc::Status allowed = auth_->Check(*context); !allowed.ok()) return Done(context, allowed);
  v1::TellRequest request;
  absl::Status parsed = ParseRequest(*request_bytes, &request, MessageRequestLimit());
  if (!parsed.ok()) return Done(context, parsed);
  return TellParsed(context, std::move(request), response_bytes);
}

grpc::ServerUnaryReactor* MessagingService::TellParsed(grpc::CallbackServerContext* context,
                                                       v1::TellRequest&& request,
                                                       grpc::ByteBuffer* response) {
  absl::Status valid = CheckMessage(request.type(), request.payload().size(), max_payload_bytes_);
  if (!valid.ok()) return Done(context, valid);
  if (!IsConventionName(*system_, request.to(), &names_)) {
    return Answer(
        context,
        SendTo(*system_, request.to(), runtime::Message::Make(request.type(), request.payload())),
        v1::TellResponse(), response);
  }
  return Later(context, [this, request = std::move(request), response]() {
    return Reply(SendTo(*system_, request.to(),
                        runtime::Message::Make(request.type(), request.payload()), {}, &names_),
                 v1::TellResponse(), response);
  });
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
  runtime::Message message = runtime::Message::Make(request.type(), request.payload());
  const absl::Duration timeout = AskTimeout(*context, request.timeout_ms());
  if (!IsConventionName(*system_, request.to(), &names_)) {
    reactor->Start(std::move(message), timeout, nullptr);
    return reactor;
  }
  // The name is looked up in the convention on a BlockingCalls thread.
  absl::Status queued = blocking_->Run([this, context, reactor, message = std::move(message),
                                        timeout](const absl::Status& admitted) mutable {
    if (!admitted.ok()) return reactor->Refuse(admitted);
    if (context->IsCancelled()) {
      return reactor->Refuse(absl::CancelledError("the client went away"));
    }
    reactor->Start(std::move(message), timeout, &names_);
  });
  if (!queued.ok()) reactor->Refuse(queued);
  return reactor;
}

grpc::ServerUnaryReactor* MessagingService::CreateActor(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request_bytes,
                                                        grpc::ByteBuffer* response_bytes) {
  if (grpc::Status allowed = auth_->Check(*context); !allowed.ok()) return Done(context, allowed);
  v1::CreateActorRequest request;
  absl::Status parsed = ParseRequest(*request_bytes, &request, kMaxSmallRequestBytes);
  if (!parsed.ok()) return Done(context, parsed);
  if (!request.requirements_json().empty()) {  // an older client: refused, not ignored
    return Done(context, absl::InvalidArgumentError(
                             "requirements_json is no longer read: send the requirements as "
                             "`requirements` (repeated troupe.v1.Requirement); a newer "
                             "troupe_client does"));
  }
  return CreateParsed(context, std::move(request), response_bytes);
}

grpc::ServerUnaryReactor* MessagingService::CreateParsed(grpc::CallbackServerContext* context,
                                                         v1::CreateActorRequest&& request,
                                                         grpc::ByteBuffer* response) {
  // A global name is claimed convention-wide around the create: the leader
  // is asked first, so the whole create waits on a BlockingCalls thread.
  if (!request.global_name().empty() && names_.create) {
    return Later(context, [this, request = std::move(request), response]() {
      return AddressReply<v1::CreateActorResponse>(
          BoundCreateError(CreateClaimingName(request), request), response);
    });
  }
  // Local first, here; when this daemon does not fit, another member may,
  // and the placement waits for its peers there.
  absl::StatusOr<std::string> here = CreateHere(request);
  if (here.ok() || !MayPlaceElsewhere(request, here.status())) {
    return Done(context, AddressReply<v1::CreateActorResponse>(
                             BoundCreateError(std::move(here), request), response));
  }
  return Later(context, [this, request = std::move(request), problem = here.status(), response]() {
    return AddressReply<v1::CreateActorResponse>(
        BoundCreateError(place_elsewhere_(request, problem), request), response);
  });
}

absl::StatusOr<std::string> MessagingService::CreateClaimingName(
    const v1::CreateActorRequest& request) {
  if (request.global_name().empty() || !names_.create) return CreateHereOrElsewhere(request);
  return names_.create(request.global_name(), [&]() { return CreateHereOrElsewhere(request); });
}

absl::StatusOr<std::string> MessagingService::CreateHere(const v1::CreateActorRequest& request) {
  runtime::CreateOptions options;
  TROUPE_ASSIGN_OR_RETURN(options.requirements,
                          hosting::RequirementsFromProto(request.requirements(), "requirements"));
  options.global_name = request.global_name();
  absl::StatusOr<runtime::ActorRef> actor =
      host_->CreateActor(request.group(), request.class_name(), options);
  if (!actor.ok()) return actor.status();
  return system_->FormatAddress(actor->get());
}

bool MessagingService::MayPlaceElsewhere(const v1::CreateActorRequest& request,
                                         const absl::Status& problem) const {
  // NotFound goes elsewhere only for a group this daemon does not have (an
  // unknown class of a group it has is unknown everywhere).
  return place_elsewhere_ &&
         (problem.code() == absl::StatusCode::kFailedPrecondition ||
          (problem.code() == absl::StatusCode::kNotFound && host_->List(request.group()).empty()));
}

absl::StatusOr<std::string> MessagingService::CreateHereOrElsewhere(
    const v1::CreateActorRequest& request) {
  absl::StatusOr<std::string> here = CreateHere(request);
  if (here.ok() || !MayPlaceElsewhere(request, here.status())) return here;
  return place_elsewhere_(request, here.status());
}

grpc::ServerUnaryReactor* MessagingService::Lookup(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* request_bytes,
                                                   grpc::ByteBuffer* response_bytes) {
  if (grpc::Status allowed = auth_->Check(*context); !allowed.ok()) return Done(context, allowed);
  v1::LookupRequest request;
  absl::Status parsed = ParseRequest(*request_bytes, &request, kMaxSmallRequestBytes);
  if (!parsed.ok()) return Done(context, parsed);
  return LookupParsed(context, request, response_bytes);
}

grpc::ServerUnaryReactor* MessagingService::LookupParsed(grpc::CallbackServerContext* context,
                                                         const v1::LookupRequest& request,
                                                         grpc::ByteBuffer* response) {
  const std::string& name = request.global_name();
  if (name.empty()) return Done(context, absl::InvalidArgumentError("lookup needs a global name"));
  auto address_of = [this](absl::StatusOr<runtime::ActorRef> actor) -> absl::StatusOr<std::string> {
    if (!actor.ok()) return actor.status();
    return system_->FormatAddress(actor->get());
  };
  absl::StatusOr<runtime::ActorRef> here = ResolveTarget(*system_, name);
  if (here.ok() || !IsConventionName(*system_, name, &names_)) {
    return Done(context, AddressReply<v1::LookupResponse>(address_of(std::move(here)), response));
  }
  return Later(context, [this, name, address_of, response]() {
    return AddressReply<v1::LookupResponse>(address_of(ResolveTarget(*system_, name, &names_)),
                                            response);
  });
}

bool MessagingService::WaitForCallsToEnd(absl::Time deadline) {
  return open_streams_.WaitForZero(deadline) && open_asks_.WaitForZero(deadline);
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* MessagingService::Connect(
    grpc::CallbackServerContext* context) {
  StreamDeps deps{.system = system_,
                  .asks = asks_,
                  .blocking = blocking_,
                  .auth = auth_,
                  .max_payload_bytes = max_payload_bytes_,
                  .open_streams = &open_streams_,
                  .names = &names_,
                  .peak_queued_frames = &peak_queued_frames_};
  return new ClientStream(deps, context);
}

}  // namespace troupe::service
