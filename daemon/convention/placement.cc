// placement.cc - creating actors on other members (docs/convention.md
// "Placement"): the candidates by the last known roster, least loaded first,
// then one signed Place call after another on gRPC's callback API until a
// member takes it. No thread waits for a peer: the outcome arrives on a gRPC
// thread (PlaceAsync); only Place, for callers that may wait, blocks.
#include <algorithm>
#include <deque>
#include <memory>
#include <utility>

#include "absl/synchronization/notification.h"
#include "daemon/common/logging.h"
#include "daemon/common/status_macros.h"
#include "daemon/common/strings.h"
#include "daemon/convention/convention_state.h"
#include "daemon/hosting/requirements.h"
#include "daemon/runtime/actor_class.h"
#include "daemon/runtime/requirements.h"

namespace troupe::convention {
namespace {

constexpr std::string_view kPlaceMethod = "/troupe.v1.Convention/Place";

// The members that fit `spec` by the last known roster, in the order to try
// them (candidates.h). The leader's roster has every check-in's bundles and
// load; a member's directory has what the leader pushed and acknowledged.
std::vector<Candidate> Candidates(ConventionState* s, const PlaceSpec& spec,
                                  std::vector<std::string>* considered) {
  troupe::MutexLock lock(&s->mu);
  std::vector<v1::MemberInfo> members =
      s->leading && s->leader != nullptr ? s->leader->Members() : s->directory.Members();
  return ChooseCandidates(std::move(members), s->options.self, spec, &s->placed, considered);
}

// One placement: tries the candidates in order, one Place call at a time,
// and delivers the outcome once.
class Placement : public std::enable_shared_from_this<Placement> {
 public:
  Placement(ConventionState* s, v1::PlaceRequest request, std::vector<Candidate> candidates,
            std::vector<std::string> considered, absl::Status local_problem,
            runtime::Cluster::Placed placed)
      : s_(s),
        request_(std::move(request)),
        candidates_(std::move(candidates)),
        considered_(std::move(considered)),
        local_problem_(std::move(local_problem)),
        placed_(std::move(placed)),
        calls_(candidates_.size()) {
    s_->placements_under_way.Add();
  }
  ~Placement() { s_->placements_under_way.Remove(); }

  // Calls the next candidate, or delivers the failure when none is left.
  void TryNext() {
    if (next_ == candidates_.size()) {
      Deliver(NoMemberTookIt(local_problem_, considered_));
      return;
    }
    const Candidate& c = candidates_[next_];
    Call& call = calls_[next_];
    call.signature = s_->options.guard->Sign(&call.context, kPlaceMethod);
    call.context.set_deadline(absl::ToChronoTime(absl::Now() + s_->options.place_timeout));
    {
      troupe::MutexLock lock(&s_->placements_mu);
      if (s_->placements_stopped) {
        Deliver(absl::UnavailableError("this daemon is leaving the convention"));
        return;
      }
      s_->placement_calls.insert(&call.context);
    }
    call.stub = v1::Convention::NewStub(
        grpc::CreateChannel(c.member.address(), s_->options.guard->ChannelCredentials()));
    // The answer may come on this thread before Place returns: each try has
    // its own call state, which stays until the placement is done.
    call.stub->async()->Place(&call.context, &request_, &call.response,
                              [self = shared_from_this()](grpc::Status status) {
                                self->Answered(std::move(status));
                              });
  }

 private:
  void Answered(grpc::Status status) {
    Call& call = calls_[next_];
    {
      troupe::MutexLock lock(&s_->placements_mu);
      s_->placement_calls.erase(&call.context);
    }
    const Candidate& c = candidates_[next_++];
    absl::Status answered =
        status.ok() ? s_->options.guard->CheckAnswer(call.context, call.signature)
                    : absl::OkStatus();
    if (status.ok() && answered.ok()) {
      {
        troupe::MutexLock lock(&s_->mu);
        auto& placed = s_->placed[c.member.address()];
        if (placed.first != c.member.last_checkin_unix_ms()) {
          placed = {c.member.last_checkin_unix_ms(), 0};
        }
        ++placed.second;
      }
      LogInfo("convention: placed ", request_.group(), "/", request_.class_name(), " on ",
              c.member.address(), " as ", call.response.address());
      Deliver(call.response.address());
      return;
    }
    considered_.push_back(troupe::StrCat(
        c.member.address(), ": ",
        status.ok() ? std::string(answered.message()) : status.error_message()));
    TryNext();
  }

  void Deliver(absl::StatusOr<std::string> outcome) {
    runtime::Cluster::Placed placed = std::move(placed_);
    placed(std::move(outcome));
  }

  ConventionState* const s_;
  const v1::PlaceRequest request_;
  const std::vector<Candidate> candidates_;
  std::vector<std::string> considered_;
  const absl::Status local_problem_;
  runtime::Cluster::Placed placed_;
  struct Call {
    grpc::ClientContext context;
    peerauth::CallSignature signature;
    std::unique_ptr<v1::Convention::Stub> stub;
    v1::PlaceResponse response;
  };
  std::deque<Call> calls_;  // one per candidate; a deque: Call does not move
  size_t next_ = 0;
};

}  // namespace

absl::Status ConventionState::PlaceAsync(const PlaceSpec& spec, const absl::Status& local_problem,
                                         runtime::Cluster::Placed placed) {
  std::vector<std::string> considered;
  std::vector<Candidate> candidates = Candidates(this, spec, &considered);
  if (candidates.empty()) return NoMemberTookIt(local_problem, considered);
  v1::PlaceRequest request;
  request.set_group(spec.group);
  request.set_class_name(spec.class_name);
  request.set_bundle_hash(spec.bundle_hash);
  hosting::RequirementsToProto(spec.requirements, request.mutable_requirements());
  request.set_global_name(spec.global_name);
  request.set_parent(spec.parent);
  request.set_from_node(options.self);
  std::make_shared<Placement>(this, std::move(request), std::move(candidates),
                              std::move(considered), local_problem, std::move(placed))
      ->TryNext();
  return absl::OkStatus();
}

absl::StatusOr<std::string> ConventionState::Place(const PlaceSpec& spec,
                                                   const absl::Status& local_problem) {
  auto outcome = std::make_shared<absl::StatusOr<std::string>>();
  auto done = std::make_shared<absl::Notification>();
  TROUPE_RETURN_IF_ERROR(
      PlaceAsync(spec, local_problem, [outcome, done](absl::StatusOr<std::string> address) {
        *outcome = std::move(address);
        done->Notify();
      }));
  done->WaitForNotification();
  return *outcome;
}

void ConventionState::StopPlacements() {
  {
    troupe::MutexLock lock(&placements_mu);
    placements_stopped = true;
    for (grpc::ClientContext* context : placement_calls) context->TryCancel();
  }
  (void)placements_under_way.WaitForZero(absl::InfiniteFuture());
}

absl::StatusOr<std::string> Convention::PlaceElsewhere(const v1::CreateActorRequest& request,
                                                       const absl::Status& local_problem) {
  ConventionState* s = state_.get();
  absl::StatusOr<runtime::Requirements> requirements =
      hosting::RequirementsFromProto(request.requirements(), "requirements");
  if (!requirements.ok()) return requirements.status();
  PlaceSpec spec;
  spec.group = request.group();
  spec.class_name = request.class_name();
  for (const hosting::BundleInfo& b : s->host->List(request.group())) {
    if (b.state == hosting::BundleState::kActive) spec.bundle_hash = b.hash;
  }
  spec.requirements = *requirements;
  spec.global_name = request.global_name();
  spec.fits = MakeFits(*std::move(requirements));
  return s->Place(spec, local_problem);
}

absl::Status ConventionState::PlaceChild(const runtime::PlaceRequest& request,
                                         runtime::Cluster::Placed placed) {
  // The group and version of the parent's bundle: the child comes from the
  // same version, fetched by its hash where it is missing.
  const hosting::BundleHost::ActorOrigin origin = host->OriginOf(request.parent);
  if (origin.bundle.empty()) return request.local_problem;
  const runtime::ActorClass& actor_class = *request.actor_class;
  PlaceSpec spec;
  spec.group = origin.bundle.substr(0, origin.bundle.find(' '));
  const std::string version = origin.bundle.substr(origin.bundle.find(' ') + 1);
  for (const hosting::BundleInfo& b : host->List(spec.group)) {
    if (b.version == version) spec.bundle_hash = b.hash;
  }
  spec.class_name = std::string(actor_class.name());
  // What the runtime left to the class's own check has no manifest form.
  if (!request.requirements.opaque.empty()) {
    return absl::FailedPreconditionError(
        troupe::StrCat(request.local_problem.message(), "; ", request.requirements.opaque,
                       "; it cannot travel to another member"));
  }
  spec.requirements = request.requirements.conditions;
  spec.global_name = request.global_name;
  spec.parent = request.parent;
  spec.fits = MakeFits(request.requirements.conditions, &actor_class, request.requirements.text);
  return PlaceAsync(spec, request.local_problem, std::move(placed));
}

}  // namespace troupe::convention
