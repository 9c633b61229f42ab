// convention.cc - see convention.h. The gRPC handlers are in service.cc.
#include "daemon/convention/convention.h"

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <utility>

#include "absl/strings/str_join.h"
#include "daemon/common/logging.h"
#include "daemon/common/strings.h"
#include "daemon/convention/convention_state.h"
#include "daemon/common/status_macros.h"
#include "proto/grpc_status.h"

namespace troupe::convention {

namespace {
constexpr std::string_view kPlaceMethod = "/troupe.v1.Convention/Place";
constexpr std::string_view kInviteMethod = "/troupe.v1.Convention/Invite";

uint64_t RandomIncarnation() {
  std::random_device device;
  uint64_t n = (static_cast<uint64_t>(device()) << 32) ^ device();
  return n == 0 ? 1 : n;
}

std::string_view EventName(v1::RosterChangeKind kind) {
  switch (kind) {
    case v1::ROSTER_CHANGE_JOINED:
      return "joined";
    case v1::ROSTER_CHANGE_CAPABILITIES:
      return "capabilities";
    default:
      return "left";
  }
}
}  // namespace

ConventionState::ConventionState(ConventionOptions opts, runtime::ActorSystem* sys, hosting::BundleHost* h)
    : options(std::move(opts)),
      system(sys),
      host(h),
      incarnation(RandomIncarnation()),
      directory(options.self) {
  LinkOptions link_options;
  link_options.self = options.self;
  link_options.guard = options.guard;
  link_options.max_message_bytes = options.max_message_bytes;
  links = std::make_unique<Links>(link_options, system, &directory);
  leading = options.leader.empty() || options.leader == options.self;
  GlobalNamesOptions names_options;
  names_options.self = options.self;
  names_options.guard = options.guard;
  names_options.call_timeout = options.checkin_interval * options.missed_checkins;
  names_options.retry_interval = options.checkin_interval;
  names_options.leader = [this]() -> std::string {
    troupe::MutexLock lock(&mu);
    if (leading) return "";
    return member != nullptr ? member->leader() : options.leader;
  };
  names_options.is_member = [this](const std::string& node) {
    troupe::MutexLock lock(&mu);
    if (!leading || leader == nullptr) return false;
    for (const v1::MemberInfo& m : leader->Members()) {
      if (m.address() == node) return true;
    }
    return false;
  };
  names = std::make_unique<GlobalNames>(std::move(names_options), system);
}

v1::MemberInfo ConventionState::SelfInfo() const {
  v1::MemberInfo info;
  info.set_address(options.self);
  info.set_capabilities_json(system->CapabilitiesJson());
  for (const hosting::BundleInfo& b : host->List()) {
    v1::BundleSummary* s = info.add_bundles();
    s->set_hash(b.hash);
    s->set_group(b.group);
    s->set_version(b.version);
    s->set_active(b.state == hosting::BundleState::kActive);
  }
  const runtime::SystemStatus status = system->GetStatus();
  info.mutable_load()->set_live_actors(status.live_actors);
  info.mutable_load()->set_queued_messages(system->QueuedMessages() + links->queued());
  info.set_troupe_version(options.troupe_version);
  info.set_incarnation(incarnation);
  return info;
}

void ConventionState::OnEvent(const RosterEvent& event) {
  if (options.on_change) options.on_change();
  const std::string& node = event.member.address();
  if (node == options.self) return;
  // Subscribed actors hear of members and capabilities; bundle lists are
  // for placement only.
  if (event.kind == v1::ROSTER_CHANGE_BUNDLES) return;
  system->PublishConventionUpdate(node, event.member.capabilities_json(), EventName(event.kind));
  if (event.kind == v1::ROSTER_CHANGE_LEFT || event.kind == v1::ROSTER_CHANGE_EXPIRED) {
    const std::string reason = troupe::StrCat(
        "member ", node, event.kind == v1::ROSTER_CHANGE_EXPIRED ? " expired" : " left",
        event.reason.empty() ? "" : ": ", event.reason);
    system->NodeLost(node, reason);
    links->PeerLost(node, reason);
    names->NodeLost(node);  // the leader's table; a member's is not used
    if (options.on_node_lost) options.on_node_lost(node, reason);
  }
}

void ConventionState::StartLeader() {
  LeaderOptions leader_options;
  leader_options.checkin_interval = options.checkin_interval;
  leader_options.missed_checkins = options.missed_checkins;
  leader_options.self_info = [this] { return SelfInfo(); };
  leader_options.on_event = [this](const RosterEvent& event) {
    directory.Apply(event);
    OnEvent(event);
  };
  leader = std::make_unique<Leader>(std::move(leader_options));
  directory.Replace(leader->Members());
  leader->Start();
}

void ConventionState::StartMember(const std::string& leader_address) {
  MemberOptions member_options;
  member_options.leader = leader_address;
  member_options.checkin_interval = options.checkin_interval;
  member_options.missed_checkins = options.missed_checkins;
  member_options.guard = options.guard;
  member_options.self_info = [this] { return SelfInfo(); };
  member_options.on_event = [this](const RosterEvent& event) { OnEvent(event); };
  member_options.on_welcome = [this] {
    names->Rejoined();
    if (options.on_change) options.on_change();  // joined, even if no member changed
  };
  member = std::make_unique<Member>(std::move(member_options), &directory);
  member->Start();
}

namespace {

// The runtime's view of the convention (runtime/cluster.h).
class ConventionCluster final : public runtime::Cluster {
 public:
  explicit ConventionCluster(ConventionState* s) : s_(s) {}

  bool Forward(std::string_view node, uint64_t remote_id, runtime::Message message) override {
    return s_->links->Forward(node, remote_id, std::move(message));
  }
  bool ResumeWhenRoom(std::string_view node, std::function<void()> resume) override {
    return s_->links->ResumeWhenRoom(node, std::move(resume));
  }
  absl::Status Place(runtime::PlaceRequest request, Placed placed) override {
    return s_->PlaceChild(request, std::move(placed));
  }
  std::vector<std::pair<std::string, std::string>> Members() override {
    std::vector<std::pair<std::string, std::string>> members;
    for (const v1::MemberInfo& m : s_->directory.Members()) {
      if (m.address() != s_->options.self) {
        members.emplace_back(m.address(), m.capabilities_json());
      }
    }
    return members;
  }
  void NameReleased(std::string_view name, std::string_view address) override {
    s_->names->ActorExited(name, address);
  }
  void CapabilitiesChanged(const std::string&) override { s_->SelfChanged(); }

 private:
  ConventionState* const s_;
};

}  // namespace

Convention::Convention(ConventionOptions options, runtime::ActorSystem* system,
                       hosting::BundleHost* host)
    : state_(std::make_unique<ConventionState>(std::move(options), system, host)),
      service_(MakeService(state_.get())) {
  ConventionState* s = state_.get();
  s->cluster = std::make_unique<ConventionCluster>(s);
  system->SetCluster(s->cluster.get());
  host->SetBundlesObserver([s] { s->SelfChanged(); });
}

void ConventionState::AnnounceSelfAndWait() {
  Leader* leading_self = nullptr;
  Member* joined_member = nullptr;
  {
    troupe::MutexLock lock(&mu);
    if (stopped) return;
    if (leading) {
      leading_self = leader.get();
    } else {
      joined_member = member.get();
    }
  }
  // Both stay allocated until the convention is destroyed (see Stop).
  if (leading_self != nullptr) leading_self->PushSelfNow();
  if (joined_member != nullptr) {
    (void)joined_member->CheckInAndWait(absl::Now() + options.checkin_interval);
  }
}

void ConventionState::SelfChanged() {
  troupe::MutexLock lock(&mu);
  if (leader != nullptr && leading) leader->SelfChanged();
  if (member != nullptr) member->CheckInNow();
}

Convention::~Convention() { Stop(false); }

grpc::Service* Convention::service() { return service_.get(); }

void Convention::Start() {
  ConventionState* s = state_.get();
  troupe::MutexLock lock(&s->mu);
  if (s->started) return;
  s->started = true;
  if (s->leading) {
    s->StartLeader();
  } else {
    s->StartMember(s->options.leader);
  }
  s->invite_thread = std::thread([s] { s->InviteLoop(); });
  s->names->Start();
}

void Convention::Stop(bool graceful) {
  ConventionState* s = state_.get();
  Member* member;
  Leader* leader;
  std::thread invite_thread;
  {
    troupe::MutexLock lock(&s->mu);
    if (s->stopped) return;
    s->stopped = true;
    s->cv.SignalAll();
    member = s->member.get();
    leader = s->leader.get();
    invite_thread = std::move(s->invite_thread);
  }
  // Both stay allocated until the convention is destroyed: gRPC handlers
  // that are still finishing may use them (they refuse new work now).
  if (invite_thread.joinable()) invite_thread.join();
  s->host->SetBundlesObserver(nullptr);
  if (member != nullptr) member->Stop(graceful);
  if (leader != nullptr) leader->Stop();
  s->StopPlacements();  // children being placed hear that they were not
  s->names->Stop();
  s->links->Stop();
  // Parents here with children on other daemons will not hear from them
  // again: they are told now instead of waiting out the drain.
  for (const v1::MemberInfo& m : s->directory.Members()) {
    if (m.address() != s->options.self) {
      s->system->NodeLost(m.address(), "this daemon is leaving the convention");
    }
  }
  s->system->SetCluster(nullptr);
}

bool Convention::WaitForCallsToEnd(absl::Time deadline) {
  return state_->links->WaitForServedLinksToEnd(deadline);
}

const std::string& Convention::self() const { return state_->options.self; }

bool Convention::is_leader() const {
  troupe::MutexLock lock(&state_->mu);
  return state_->leading;
}

v1::ConventionStatusResponse Convention::Status() const {
  ConventionState* s = state_.get();
  v1::ConventionStatusResponse out;
  out.set_self(s->options.self);
  out.set_checkin_interval_ms(absl::ToInt64Milliseconds(s->options.checkin_interval));
  out.set_missed_checkins(s->options.missed_checkins);
  troupe::MutexLock lock(&s->mu);
  if (s->leading) {
    out.set_role("leader");
    out.set_leader(s->options.self);
    out.set_joined(true);
    std::vector<v1::MemberInfo> members =
        s->leader != nullptr ? s->leader->Members() : std::vector<v1::MemberInfo>{s->SelfInfo()};
    for (v1::MemberInfo& m : members) *out.add_members() = std::move(m);
    for (const std::string& address : s->invited) {
      if (!s->directory.Contains(address)) out.add_invited(address);
    }
    for (auto& [name, address] : s->names->Table()) {
      v1::GlobalName* entry = out.add_global_names();
      entry->set_name(name);
      entry->set_address(address);
    }
  } else {
    out.set_role("member");
    out.set_leader(s->member != nullptr ? s->member->leader() : s->options.leader);
    out.set_joined(s->member != nullptr && s->member->joined());
    if (s->member != nullptr) out.set_problem(s->member->problem());
    for (v1::MemberInfo& m : s->directory.Members()) *out.add_members() = std::move(m);
  }
  return out;
}

absl::StatusOr<std::string> Convention::Invite(const std::string& address) {
  ConventionState* s = state_.get();
  {
    troupe::MutexLock lock(&s->mu);
    if (!s->leading) {
      return absl::FailedPreconditionError(troupe::StrCat(
          "only the leader invites members; this daemon's leader is ", s->member->leader()));
    }
    if (address == s->options.self) {
      return absl::InvalidArgumentError("a leader cannot invite itself");
    }
    s->invited.insert(address);
  }
  if (s->options.on_change) s->options.on_change();
  absl::Status sent = s->SendInvite(address);
  if (!sent.ok()) {
    return troupe::StrCat("pre-registered ", address, "; the invitation did not reach it (",
                          sent.message(), "); it is invited again every check-in period");
  }
  return troupe::StrCat("invited ", address, "; it joins with its next registration");
}

absl::Status ConventionState::SendInvite(const std::string& address) {
  auto stub = v1::Convention::NewStub(
      grpc::CreateChannel(address, options.guard->ChannelCredentials()));
  grpc::ClientContext context;
  const peerauth::CallSignature signature = options.guard->Sign(&context, kInviteMethod);
  context.set_deadline(absl::ToChronoTime(absl::Now() + options.checkin_interval));
  v1::InviteRequest request;
  request.set_leader(options.self);
  v1::InviteResponse response;
  grpc::Status status = stub->Invite(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return options.guard->CheckAnswer(context, signature);
}

void ConventionState::InviteLoop() {
  troupe::MutexLock lock(&mu);
  while (!stopped) {
    cv.WaitWithTimeout(&mu, options.checkin_interval);
    if (stopped || !leading) continue;
    std::vector<std::string> pending;
    for (const std::string& address : invited) {
      if (!directory.Contains(address)) pending.push_back(address);
    }
    mu.Unlock();
    for (const std::string& address : pending) (void)SendInvite(address);
    mu.Lock();
  }
}

absl::Status ConventionState::AcceptInvite(const std::string& leader_address) {
  troupe::MutexLock lock(&mu);
  if (stopped) return absl::UnavailableError("this daemon is shutting down");
  if (leader_address == options.self) return absl::InvalidArgumentError("invited by itself");
  if (leading) {
    const size_t members = leader != nullptr ? leader->Members().size() : 1;
    if (members > 1) {
      return absl::FailedPreconditionError(troupe::StrCat(
          options.self, " leads ", members - 1, " members of its own; it cannot join ",
          leader_address));
    }
    leading = false;
    if (leader != nullptr) leader->Stop();  // kept allocated: handlers may still use it
    StartMember(leader_address);
    return absl::OkStatus();
  }
  member->SetLeader(leader_address);
  return absl::OkStatus();
}

absl::StatusOr<std::string> Convention::FindName(const std::string& name) {
  return state_->names->Find(name);
}

absl::StatusOr<std::string> Convention::CreateNamed(
    const std::string& name, const std::function<absl::StatusOr<std::string>()>& create) {
  return state_->names->CreateNamed(name, create);
}

}  // namespace troupe::convention
