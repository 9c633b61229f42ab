// service.cc - the Convention gRPC service (proto/troupe/v1/convention.proto):
// every call is authenticated first, then handed to the part that owns it.
#include <limits>

#include "daemon/common/logging.h"
#include "daemon/common/small_file.h"
#include "daemon/common/strings.h"
#include "daemon/convention/convention_state.h"
#include "daemon/hosting/requirements.h"
#include "proto/grpc_status.h"
#include "troupe/v1/convention.grpc.pb.h"

namespace troupe::convention {

namespace {
constexpr std::string_view kFetchMethod = "/troupe.v1.Convention/FetchBundle";

std::string Method(std::string_view name) { return troupe::StrCat("/troupe.v1.Convention/", name); }
}  // namespace

// Link is served on the callback API: each batch is delivered on the gRPC
// thread that read it, with no hop to a handler thread (latency of
// cross-daemon asks). The rest is synchronous.
class ConventionService final : public v1::Convention::WithCallbackMethod_Link<v1::Convention::Service> {
 public:
  explicit ConventionService(ConventionState* state) : s_(state) {}

  grpc::Status Join(grpc::ServerContext* context,
                    grpc::ServerReaderWriter<v1::RosterNews, v1::MemberReport>* stream) override {
    absl::StatusOr<std::string> peer = s_->options.guard->Verify(context, Method("Join"));
    if (!peer.ok()) return ToGrpcStatus(peer.status());
    Leader* leader = nullptr;
    {
      troupe::MutexLock lock(&s_->mu);
      if (!s_->leading || s_->leader == nullptr) {
        return grpc::Status(
            grpc::StatusCode::FAILED_PRECONDITION,
            troupe::StrCat(s_->options.self, " is not a leader; its leader is ",
                           s_->member != nullptr ? s_->member->leader() : s_->options.leader));
      }
      leader = s_->leader.get();
    }
    // The member checks this daemon's proof before it sends its report.
    stream->SendInitialMetadata();
    // The leader object lives as long as the convention, which outlives the
    // server; Leader::Stop ends this stream.
    return leader->Serve(context, stream);
  }

  grpc::Status Invite(grpc::ServerContext* context, const v1::InviteRequest* request,
                      v1::InviteResponse* response) override {
    absl::StatusOr<std::string> peer = s_->options.guard->Verify(context, Method("Invite"));
    if (!peer.ok()) return ToGrpcStatus(peer.status());
    if (request->leader() != *peer) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          troupe::StrCat("an invitation from ", *peer, " names another leader, ",
                                         request->leader()));
    }
    if (absl::Status accepted = s_->AcceptInvite(request->leader()); !accepted.ok()) {
      return ToGrpcStatus(accepted);
    }
    LogInfo("convention: invited by ", request->leader(), "; joining it");
    response->set_address(s_->options.self);
    return grpc::Status::OK;
  }

  grpc::ServerBidiReactor<v1::EnvelopeBatch, v1::LinkReport>* Link(
      grpc::CallbackServerContext* context) override {
    return s_->links->Serve(context, [this, context]() -> absl::StatusOr<std::string> {
      return s_->options.guard->Verify(context, Method("Link"));
    });
  }

  grpc::Status Place(grpc::ServerContext* context, const v1::PlaceRequest* request,
                     v1::PlaceResponse* response) override {
    absl::StatusOr<std::string> peer = s_->options.guard->Verify(context, Method("Place"));
    if (!peer.ok()) return ToGrpcStatus(peer.status());
    if (!request->requirements_json().empty()) {  // an older member: refused, not ignored
      return ToGrpcStatus(absl::InvalidArgumentError(
          "requirements_json is no longer read: this daemon needs `requirements`; upgrade " +
          *peer));
    }
    if (!request->bundle_hash().empty()) {
      if (absl::Status present = EnsureBundle(*request, *peer); !present.ok()) {
        LogWarning("convention: refused to place ", request->group(), "/",
                   request->class_name(), " for ", *peer, ": ", present.message());
        return ToGrpcStatus(present);
      }
    }
    runtime::CreateOptions options;
    absl::StatusOr<runtime::Requirements> requirements =
        hosting::RequirementsFromProto(request->requirements(), "requirements");
    if (!requirements.ok()) return ToGrpcStatus(requirements.status());
    options.requirements = *std::move(requirements);
    options.global_name = request->global_name();
    if (!request->parent().empty()) {
      absl::StatusOr<runtime::ActorRef> parent = s_->system->ParseAddress(request->parent());
      if (!parent.ok()) return ToGrpcStatus(parent.status());
      options.parent = *std::move(parent);
    }
    auto create = [&]() -> absl::StatusOr<std::string> {
      absl::StatusOr<runtime::ActorRef> actor =
          s_->host->CreateActor(request->group(), request->class_name(), options);
      if (!actor.ok()) return actor.status();  // the caller names this daemon
      return s_->system->FormatAddress(actor->get());
    };
    // A client's create placed here: its name is convention-wide, claimed
    // here (an actor's child keeps the runtime's per-daemon names).
    absl::StatusOr<std::string> address = !request->global_name().empty() && !options.parent
                                              ? s_->names->CreateNamed(request->global_name(), create)
                                              : create();
    if (!address.ok()) return ToGrpcStatus(address.status());
    response->set_address(*std::move(address));
    return grpc::Status::OK;
  }

  grpc::Status FetchBundle(grpc::ServerContext* context, const v1::FetchBundleRequest* request,
                           v1::FetchBundleResponse* response) override {
    absl::StatusOr<std::string> peer = s_->options.guard->Verify(context, Method("FetchBundle"));
    if (!peer.ok()) return ToGrpcStatus(peer.status());
    absl::StatusOr<std::string> path = s_->host->StoredBundlePath(request->hash());
    if (!path.ok()) return ToGrpcStatus(path.status());
    // At most what one gRPC message can carry; a stored bundle passed the
    // bundle limits when it was loaded, so this only guards the read.
    absl::StatusOr<std::string> bytes =
        ReadSmallFile(*path, static_cast<size_t>(std::numeric_limits<int>::max()));
    if (!bytes.ok()) {
      return ToGrpcStatus(absl::InternalError(
          troupe::StrCat("cannot send the stored bundle: ", bytes.status().message())));
    }
    response->set_bundle(*std::move(bytes));
    LogInfo("convention: sent bundle ", request->hash(), " to ", *peer);
    return grpc::Status::OK;
  }

  grpc::Status ClaimName(grpc::ServerContext* context, const v1::ClaimNameRequest* request,
                         v1::ClaimNameResponse* response) override {
    absl::StatusOr<std::string> peer = s_->options.guard->Verify(context, Method("ClaimName"));
    if (!peer.ok()) return ToGrpcStatus(peer.status());
    absl::StatusOr<std::string> holder =
        s_->names->ClaimFor(*peer, request->name(), request->address());
    if (!holder.ok()) return ToGrpcStatus(holder.status());
    response->set_holder(*std::move(holder));
    return grpc::Status::OK;
  }

  grpc::Status ReleaseName(grpc::ServerContext* context, const v1::ClaimNameRequest* request,
                           v1::ClaimNameResponse* response) override {
    absl::StatusOr<std::string> peer = s_->options.guard->Verify(context, Method("ReleaseName"));
    if (!peer.ok()) return ToGrpcStatus(peer.status());
    absl::StatusOr<std::string> holder =
        s_->names->ReleaseFor(*peer, request->name(), request->address());
    if (!holder.ok()) return ToGrpcStatus(holder.status());
    response->set_holder(*std::move(holder));
    return grpc::Status::OK;
  }

 private:
  // Makes sure the bundle `request` names is loaded here: fetched from the
  // asking daemon when allow_remote_actor_sources permits, verified against
  // this daemon's trusted keys and loaded.
  absl::Status EnsureBundle(const v1::PlaceRequest& request, const std::string& peer) {
    if (s_->host->StoredBundlePath(request.bundle_hash()).ok()) return absl::OkStatus();
    const std::string& policy = s_->options.allow_remote_sources;
    const std::string& self = s_->options.self;
    if (policy == "no") {
      return absl::FailedPreconditionError(troupe::StrCat(
          self, " does not have bundle ", request.bundle_hash(), " (", request.group(),
          ") and its allow_remote_actor_sources is 'no'; load the bundle there or set it to "
          "yes or leader-only"));
    }
    if (policy == "leader-only") {
      const std::string leader = s_->directory.leader();
      if (peer != leader) {
        return absl::FailedPreconditionError(troupe::StrCat(
            self, " does not have bundle ", request.bundle_hash(), " (", request.group(),
            ") and its allow_remote_actor_sources is 'leader-only'; ", peer,
            " is not the leader (", leader.empty() ? "none known" : leader, ")"));
      }
    }
    auto stub =
        v1::Convention::NewStub(grpc::CreateCustomChannel(peer, s_->options.guard->ChannelCredentials(), [&] {
          grpc::ChannelArguments args;
          args.SetMaxReceiveMessageSize(s_->options.max_message_bytes);
          return args;
        }()));
    grpc::ClientContext context;
    const peerauth::CallSignature signature = s_->options.guard->Sign(&context, kFetchMethod);
    context.set_deadline(absl::ToChronoTime(absl::Now() + s_->options.place_timeout));
    v1::FetchBundleRequest fetch;
    fetch.set_hash(request.bundle_hash());
    v1::FetchBundleResponse fetched;
    grpc::Status status = stub->FetchBundle(&context, fetch, &fetched);
    if (!status.ok()) {
      return absl::FailedPreconditionError(troupe::StrCat(
          self, " could not fetch bundle ", request.bundle_hash(), " from ", peer, ": ",
          status.error_message()));
    }
    if (absl::Status answer = s_->options.guard->CheckAnswer(context, signature); !answer.ok()) {
      return absl::FailedPreconditionError(troupe::StrCat(
          self, " could not fetch bundle ", request.bundle_hash(), " from ", peer, ": ",
          answer.message()));
    }
    absl::StatusOr<hosting::LoadOutcome> loaded = s_->host->LoadBytes(fetched.bundle());
    if (!loaded.ok()) {
      return absl::FailedPreconditionError(troupe::StrCat(
          self, " refused bundle ", request.bundle_hash(), " fetched from ", peer, ": ",
          loaded.status().message()));
    }
    if (loaded->bundle.hash != request.bundle_hash()) {
      return absl::FailedPreconditionError(troupe::StrCat(
          "bundle fetched from ", peer, " has source hash ", loaded->bundle.hash, ", not ",
          request.bundle_hash()));
    }
    LogInfo("convention: fetched and loaded ", loaded->bundle.group, " ",
            loaded->bundle.version, " (", request.bundle_hash(), ") from ", peer);
    // Before answering: the other members learn that this daemon has the
    // bundle now, so a create on any of them may come here next.
    s_->AnnounceSelfAndWait();
    return absl::OkStatus();
  }

  ConventionState* const s_;
};

std::unique_ptr<grpc::Service> MakeService(ConventionState* state) {
  return std::make_unique<ConventionService>(state);
}

}  // namespace troupe::convention
