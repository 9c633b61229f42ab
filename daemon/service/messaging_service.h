// messaging_service.h - troupe.v1.Messaging (proto/troupe/v1/messaging.proto):
// tell, ask, create, lookup and the Connect stream, on the callback API so no
// gRPC thread waits for an actor, a peer or the convention's leader.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "daemon/common/call_counter.h"
#include "daemon/hosting/bundle_host.h"
#include "daemon/runtime/actor_system.h"
#include "daemon/service/ask_router.h"
#include "daemon/service/blocking_calls.h"
#include "daemon/service/client_auth.h"
#include "daemon/service/message_checks.h"
#include "troupe/v1/messaging.grpc.pb.h"

namespace troupe::service {

// Thread-safe. Every pointer must outlive the gRPC server.
// Every method is served on raw bytes: the unary ones read their request
// through ParseRequest (request_bytes.h), so a string field that is not UTF-8
// is InvalidArgument naming the field rather than a call gRPC's deserializer
// fails; Connect reads its batches frame by frame (ClientStream).
// What this daemon can do alone (a tell, ask or lookup by an address or a
// name held here, a create that fits here) is done on the gRPC thread; what
// may wait for another daemon or the convention's leader (a name held
// elsewhere, a create with a global name or placed elsewhere) is handed,
// whole, to `blocking` before anything waits, and answered from there.
using MessagingBase = v1::Messaging::WithRawCallbackMethod_Tell<
    v1::Messaging::WithRawCallbackMethod_Ask<v1::Messaging::WithRawCallbackMethod_CreateActor<
        v1::Messaging::WithRawCallbackMethod_Lookup<
            v1::Messaging::WithRawCallbackMethod_Connect<v1::Messaging::Service>>>>>;
class MessagingService final : public MessagingBase {
 public:
  MessagingService(runtime::ActorSystem* system, hosting::BundleHost* host, AskRouter* asks,
                   BlockingCalls* blocking, const ClientAuth* auth, uint64_t max_payload_bytes);

  // A TellRequest's bytes in, a TellResponse's out; and so on.
  grpc::ServerUnaryReactor* Tell(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Ask(grpc::CallbackServerContext* context,
                                const grpc::ByteBuffer* request,
                                grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* CreateActor(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Lookup(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Connect(
      grpc::CallbackServerContext* context) override;

  // Where a create goes that this daemon's capabilities do not meet: another
  // member of the convention (its address, or why none took it). Set before
  // the server starts; without it such a create fails with the local reason.
  // Called on a BlockingCalls thread only: it may wait for its peers.
  using PlaceElsewhere = std::function<absl::StatusOr<std::string>(
      const v1::CreateActorRequest& request, const absl::Status& local_problem)>;
  void SetPlaceElsewhere(PlaceElsewhere place) { place_elsewhere_ = std::move(place); }

  // The convention's global names (message_checks.h): a create with a global
  // name claims it convention-wide, and Lookup, tells and asks (this
  // service's and its streams') by a name no actor of this daemon has look it
  // up there. Set before the server starts; without it
  // names are this daemon's only. Called on BlockingCalls threads only.
  void SetConventionNames(ConventionNames names) { names_ = std::move(names); }

  // Connect streams open now.
  uint32_t open_streams() const { return open_streams_.count(); }
  // The most frames one stream has had waiting for the wire so far.
  size_t PeakQueuedFramesForTest() const { return peak_queued_frames_.load(); }

  // After the gRPC server has shut down: waits until no stream or ask
  // reaction of this service runs any more (gRPC may still run their OnDone).
  // False when `deadline` passed first. (Calls handed to BlockingCalls are
  // answered before its Stop returns, which comes before the server's.)
  bool WaitForCallsToEnd(absl::Time deadline);

 private:
  runtime::ActorSystem* const system_;
  hosting::BundleHost* const host_;
  AskRouter* const asks_;
  BlockingCalls* const blocking_;
  const ClientAuth* const auth_;
  const uint64_t max_payload_bytes_;
  // Per-method request limits, checked before a request is copied or parsed
  // (gRPC's own limit is the one for a peer's batch, far larger): a tell or
  // an ask carries a payload of at most max_payload_bytes_ and its target
  // and type; a create or a lookup only names and requirements.
  static constexpr size_t kMaxAddressAndTypeBytes = 64 << 10;
  static constexpr size_t kMaxSmallRequestBytes = 1 << 20;
  size_t MessageRequestLimit() const;
  CallCounter open_streams_;
  CallCounter open_asks_;  // unary Ask reactors
  std::atomic<size_t> peak_queued_frames_{0};
  // The calls on their parsed requests (the caller is authenticated): each
  // answers at once what this daemon knows alone, and hands the rest to
  // blocking_ (Later).
  grpc::ServerUnaryReactor* TellParsed(grpc::CallbackServerContext* context,
                                       v1::TellRequest&& request, grpc::ByteBuffer* response);
  grpc::ServerUnaryReactor* AskParsed(grpc::CallbackServerContext* context,
                                      const v1::AskRequest& request, grpc::ByteBuffer* response);
  grpc::ServerUnaryReactor* CreateParsed(grpc::CallbackServerContext* context,
                                         v1::CreateActorRequest&& request,
                                         grpc::ByteBuffer* response);
  grpc::ServerUnaryReactor* LookupParsed(grpc::CallbackServerContext* context,
                                         const v1::LookupRequest& request,
                                         grpc::ByteBuffer* response);
  // Finishes the call from a BlockingCalls thread with what `call` returns
  // there (it writes the response), or with why it was not made: refused
  // (the queue is full, the daemon is stopping) or cancelled while queued.
  grpc::ServerUnaryReactor* Later(grpc::CallbackServerContext* context,
                                  absl::AnyInvocable<grpc::Status()> call);
  // The create of `request` on this daemon: the address, or why not.
  absl::StatusOr<std::string> CreateHere(const v1::CreateActorRequest& request);
  // True when a create that failed here with `problem` may be placed on
  // another member (place_elsewhere_, which may wait).
  bool MayPlaceElsewhere(const v1::CreateActorRequest& request, const absl::Status& problem) const;
  // Here or, when this daemon does not fit, on another member: the address.
  // May wait for a peer.
  absl::StatusOr<std::string> CreateHereOrElsewhere(const v1::CreateActorRequest& request);
  // CreateHereOrElsewhere, under the request's global name claimed
  // convention-wide when it has one. May wait for the leader and a peer.
  absl::StatusOr<std::string> CreateClaimingName(const v1::CreateActorRequest& request);

  PlaceElsewhere place_elsewhere_;
  ConventionNames names_;
};

}  // namespace troupe::service
